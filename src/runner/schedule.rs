//! Which waiting task may start, must be skipped, or must keep waiting, from the states of
//! its dependencies and its `when`.

use crate::plan::When;
use crate::store::TaskStatus;

/// What to do with a task that has not started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Becomes `skipped` with this reason in its excerpt.
    Skip(String),
    /// A dependency is still queued, running or awaiting approval.
    Wait,
}

/// `deps` holds each dependency's name and current status (dependencies outside this run,
/// with `--only`, are not listed: they count as satisfied).
pub fn readiness(when: When, deps: &[(&str, TaskStatus)]) -> Readiness {
    if deps.iter().any(|(_, s)| !s.is_final()) {
        // Queued, running, or held at a gate: a gate holds back every dependent.
        return Readiness::Wait;
    }
    let failed = deps.iter().find(|(_, s)| *s == TaskStatus::Failed);
    let skipped = deps.iter().find(|(_, s)| *s == TaskStatus::Skipped);
    match when {
        When::Always => Readiness::Ready,
        When::Failure => match failed {
            Some(_) => Readiness::Ready,
            None => Readiness::Skip("skipped: no dependency failed".to_owned()),
        },
        When::Success => match (failed, skipped) {
            (Some((name, _)), _) => Readiness::Skip(format!("skipped: dependency {name} failed")),
            (None, Some((name, _))) => {
                Readiness::Skip(format!("skipped: dependency {name} was skipped"))
            }
            (None, None) => Readiness::Ready,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    #[test]
    fn success_needs_every_dependency_to_succeed() {
        assert_eq!(readiness(When::Success, &[]), Readiness::Ready);
        assert_eq!(
            readiness(When::Success, &[("a", Succeeded)]),
            Readiness::Ready
        );
        assert_eq!(
            readiness(When::Success, &[("a", Succeeded), ("b", Failed)]),
            Readiness::Skip("skipped: dependency b failed".into())
        );
        assert_eq!(
            readiness(When::Success, &[("a", Skipped)]),
            Readiness::Skip("skipped: dependency a was skipped".into())
        );
        assert_eq!(readiness(When::Success, &[("a", Running)]), Readiness::Wait);
        assert_eq!(
            readiness(When::Success, &[("a", AwaitingApproval)]),
            Readiness::Wait
        );
    }

    #[test]
    fn always_and_failure_run_after_failures() {
        assert_eq!(readiness(When::Always, &[("a", Failed)]), Readiness::Ready);
        assert_eq!(readiness(When::Always, &[("a", Queued)]), Readiness::Wait);
        assert_eq!(readiness(When::Failure, &[("a", Failed)]), Readiness::Ready);
        assert_eq!(
            readiness(When::Failure, &[("a", Succeeded)]),
            Readiness::Skip("skipped: no dependency failed".into())
        );
    }
}
