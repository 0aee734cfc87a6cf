//! A claimed task's end, recorded by its worker: the fenced transition (the row must still be
//! this worker's, under the claim it holds) and the judgement of what becomes ready or
//! skipped, in one transaction that holds the run row, so two workers ending tasks of one
//! run at once take turns and the second sees the first's end.

use crate::error::{Error, Result};
use crate::plan::TaskSpec;
use crate::runner::advance::{Advanced, judge_after};
use crate::store::transition::{Fence, Transition};
use crate::store::{Store, agents_task, begin_read_committed, ready};

/// What the end changed: the task's row and the run's judgement.
pub struct Ended {
    pub row: agents_task::Model,
    pub advanced: Advanced,
}

/// Records `step` (from `running`, fenced by the claim `row` carries) and judges the run;
/// ridden through an outage. [`Error::ClaimLost`] when the task is no longer this worker's.
pub async fn commit(
    store: &Store,
    specs: &[TaskSpec],
    row: &agents_task::Model,
    step: Transition,
) -> Result<Ended> {
    let fence = Fence::of(row);
    let step = step.fenced(fence.clone());
    let run_id = row.run_id.as_str();
    store
        .outage
        .ride("records a task", |retry| {
            let step = step.clone();
            let fence = fence.clone();
            async move {
                let txn = begin_read_committed(&store.db).await?;
                ready::lock_run(&txn, run_id).await?;
                let row = match step.apply(&txn).await {
                    Ok(row) => row,
                    // A first try committed and only its answer was lost.
                    Err(Error::TransitionLost { .. }) | Err(Error::ClaimLost { .. }) if retry => {
                        let now = crate::store::query::get_task(&txn, step.id).await?;
                        if now.status != step.to || Fence::of(&now) != fence {
                            return Err(Error::ClaimLost {
                                id: step.id,
                                owner: now.owner,
                            });
                        }
                        now
                    }
                    Err(e) => return Err(e),
                };
                let advanced = judge_after(&txn, specs, run_id, &row.task).await?;
                txn.commit().await.map_err(Error::db)?;
                Ok(Ended { row, advanced })
            }
        })
        .await
}
