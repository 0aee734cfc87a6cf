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

/// A dependency as the scheduler sees it.
#[derive(Clone, Copy, Debug)]
pub struct Dep<'a> {
    pub name: &'a str,
    pub status: TaskStatus,
    /// Who rejected it, when it failed by a rejection at its gate.
    pub rejected_by: Option<&'a str>,
}

impl<'a> From<(&'a str, TaskStatus)> for Dep<'a> {
    fn from((name, status): (&'a str, TaskStatus)) -> Self {
        Dep {
            name,
            status,
            rejected_by: None,
        }
    }
}

/// `deps` holds each dependency (dependencies outside this run, with `--only`, are not
/// listed: they count as satisfied).
pub fn readiness(when: When, deps: &[Dep<'_>]) -> Readiness {
    if deps.iter().any(|d| !d.status.is_final()) {
        // Queued, running, or held at a gate: a gate holds back every dependent.
        return Readiness::Wait;
    }
    let failed = deps.iter().find(|d| d.status == TaskStatus::Failed);
    let skipped = deps.iter().find(|d| d.status == TaskStatus::Skipped);
    match when {
        When::Always => Readiness::Ready,
        When::Failure => match failed {
            Some(_) => Readiness::Ready,
            None => Readiness::Skip("skipped: no dependency failed".to_owned()),
        },
        When::Success => match (failed, skipped) {
            (Some(d), _) => Readiness::Skip(match d.rejected_by {
                Some(by) => format!("skipped: dependency {} was rejected by {by}", d.name),
                None => format!("skipped: dependency {} failed", d.name),
            }),
            (None, Some(d)) => {
                Readiness::Skip(format!("skipped: dependency {} was skipped", d.name))
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
            readiness(When::Success, &[("a", Succeeded).into()]),
            Readiness::Ready
        );
        assert_eq!(
            readiness(
                When::Success,
                &[("a", Succeeded).into(), ("b", Failed).into()]
            ),
            Readiness::Skip("skipped: dependency b failed".into())
        );
        assert_eq!(
            readiness(When::Success, &[("a", Skipped).into()]),
            Readiness::Skip("skipped: dependency a was skipped".into())
        );
        assert_eq!(
            readiness(When::Success, &[("a", Running).into()]),
            Readiness::Wait
        );
        assert_eq!(
            readiness(When::Success, &[("a", AwaitingApproval).into()]),
            Readiness::Wait
        );
    }

    #[test]
    fn a_rejection_is_named_in_the_reason() {
        let dep = Dep {
            name: "gate",
            status: Failed,
            rejected_by: Some("bob"),
        };
        assert_eq!(
            readiness(When::Success, &[dep]),
            Readiness::Skip("skipped: dependency gate was rejected by bob".into())
        );
        assert_eq!(readiness(When::Always, &[dep]), Readiness::Ready);
    }

    #[test]
    fn always_and_failure_run_after_failures() {
        assert_eq!(
            readiness(When::Always, &[("a", Failed).into()]),
            Readiness::Ready
        );
        assert_eq!(
            readiness(When::Always, &[("a", Queued).into()]),
            Readiness::Wait
        );
        assert_eq!(
            readiness(When::Failure, &[("a", Failed).into()]),
            Readiness::Ready
        );
        assert_eq!(
            readiness(When::Failure, &[("a", Succeeded).into()]),
            Readiness::Skip("skipped: no dependency failed".into())
        );
    }
}
