//! Which rows `orch retry` runs again: the tasks asked for (or, without `--task`, every task
//! that failed or that a stop kept from starting), with every dependent that did not
//! succeed, from the plan saved with the run. What succeeded is kept.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::plan::TaskSpec;
use crate::plan::graph::dependents;
use crate::store::cancel::is_stop_skip;
use crate::store::requeue::retryable;
use crate::store::{TaskStatus, agents_task};

/// The rows to queue again, in the run's order; `asked` empty means every failed or
/// cancelled task. Refused when an asked task is not in the run or did not fail (nor was
/// skipped), and when nothing is left to retry.
pub fn select(
    tasks: &[TaskSpec],
    rows: &[agents_task::Model],
    asked: &[String],
) -> Result<Vec<agents_task::Model>> {
    let run_id = rows.first().map(|r| r.run_id.clone()).unwrap_or_default();
    let mut seeds: Vec<&agents_task::Model> = Vec::new();
    if asked.is_empty() {
        seeds.extend(rows.iter().filter(|r| {
            r.status == TaskStatus::Failed
                || (r.status == TaskStatus::Skipped
                    && r.log_excerpt.as_deref().is_some_and(is_stop_skip))
        }));
    }
    for name in asked {
        let row = rows
            .iter()
            .find(|r| &r.task == name)
            .ok_or_else(|| Error::UnknownRunTask {
                run_id: run_id.clone(),
                task: name.clone(),
            })?;
        if !retryable(row) {
            return Err(Error::NotRetryable {
                run_id: run_id.clone(),
                task: name.clone(),
                status: row.status,
            });
        }
        seeds.push(row);
    }
    let mut wanted: BTreeSet<String> = seeds.iter().map(|r| r.task.clone()).collect();
    for seed in &seeds {
        let d = dependents(tasks, &seed.task);
        for name in d.direct.into_iter().chain(d.later) {
            if rows.iter().any(|r| r.task == name && retryable(r)) {
                wanted.insert(name);
            }
        }
    }
    let chosen: Vec<agents_task::Model> = rows
        .iter()
        .filter(|r| wanted.contains(&r.task))
        .cloned()
        .collect();
    if chosen.is_empty() {
        return Err(Error::NothingToRetry { run_id });
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    /// `lint`, `build`, `ship` (needs build), `docs` (needs ship), `tidy` (independent).
    fn plan() -> crate::plan::Plan {
        let yaml = "name: p\ntasks:\n\
            - {task: lint, shell: 'true'}\n\
            - {task: build, shell: 'true'}\n\
            - {task: ship, shell: 'true', depends_on: [build]}\n\
            - {task: docs, shell: 'true', depends_on: [ship]}\n\
            - {task: tidy, shell: 'true'}\n";
        crate::plan::parse(std::path::Path::new("p.yaml"), yaml.to_owned()).unwrap()
    }

    fn rows(states: &[(&str, TaskStatus, Option<&str>)]) -> Vec<agents_task::Model> {
        states
            .iter()
            .enumerate()
            .map(|(i, (name, status, excerpt))| agents_task::Model {
                id: i as i64 + 1,
                task: (*name).to_owned(),
                run_id: "r".to_owned(),
                status: *status,
                started_at: None,
                finished_at: None,
                duration_ms: None,
                inputs: None,
                outputs_uri: None,
                log_excerpt: excerpt.map(str::to_owned),
                approval_state: None,
                approver: None,
                approval_note: None,
                decided_at: None,
                attempt: 1,
                exit_code: None,
                approval_deadline: None,
                owner: None,
                heartbeat_at: None,
                approval_policy: None,
                ready_at: None,
                claim: 0,
                runs_on: None,
                on_lost: None,
            })
            .collect()
    }

    fn names(chosen: &[agents_task::Model]) -> Vec<&str> {
        chosen.iter().map(|r| r.task.as_str()).collect()
    }

    #[test]
    fn failed_and_cancelled_tasks_go_with_their_dependents_and_successes_stay() {
        let plan = plan();
        let rows = rows(&[
            ("lint", Succeeded, None),
            ("build", Failed, Some("exit status 1")),
            ("ship", Skipped, Some("skipped: dependency build failed")),
            (
                "docs",
                Skipped,
                Some("skipped: dependency ship was skipped"),
            ),
            ("tidy", Skipped, Some("skipped: cancelled by ana")),
        ]);
        let chosen = select(&plan.tasks, &rows, &[]).unwrap();
        assert_eq!(names(&chosen), ["build", "ship", "docs", "tidy"]);
        let only = select(&plan.tasks, &rows, &["ship".to_owned()]).unwrap();
        assert_eq!(names(&only), ["ship", "docs"]);
    }

    #[test]
    fn a_task_that_did_not_fail_or_is_not_in_the_run_is_refused() {
        let plan = plan();
        let rows = rows(&[
            ("lint", Succeeded, None),
            ("tidy", Skipped, Some("skipped")),
        ]);
        assert!(matches!(
            select(&plan.tasks, &rows, &["lint".to_owned()]),
            Err(Error::NotRetryable {
                status: Succeeded,
                ..
            })
        ));
        assert!(matches!(
            select(&plan.tasks, &rows, &["nope".to_owned()]),
            Err(Error::UnknownRunTask { .. })
        ));
        // A skip of the task's own (not a stop) is not retried without being named.
        assert!(matches!(
            select(&plan.tasks, &rows, &[]),
            Err(Error::NothingToRetry { .. })
        ));
    }
}
