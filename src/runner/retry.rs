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
