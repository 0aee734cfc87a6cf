//! Run control shared by the commands and the run page: cancelling a run (`orch cancel`, the
//! page's Cancel) and queueing its failed and cancelled tasks again (the page's Retry; `orch
//! retry` does the same under its drive's lease, then drives the run). Each takes the run's
//! lease for the moment it changes rows, so a run another orch drives is never changed
//! behind it: a cancel then leaves the stopping to that orch, a retry is refused.

use sea_orm::EntityTrait;

use crate::error::{Error, Result};
use crate::notify::Notice;
use crate::notify::notices::run_finished;
use crate::store::cancel::{Requested, close_waiting, reject_gate, request};
use crate::store::lease::{self, Lease, LeaseKey, owner_id};
use crate::store::mutation::finish_run;
use crate::store::query::run_tasks;
use crate::store::requeue::requeue;
use crate::store::run_end::is_over;
use crate::store::{Store, TaskStatus, agents_run, agents_task, now};

/// What a cancel did.
#[derive(Debug)]
pub struct Cancelled {
    /// Who asked first, when someone had (this request then changed nothing new).
    pub already: Option<Requested>,
    /// The name the skips and rejections carry: the first canceller's.
    pub by: String,
    /// The orch driving the run, which stops it at its next heartbeat, when one does.
    pub driver: Option<String>,
    pub skipped: usize,
    /// The gates rejected (their targets are to be told).
    pub rejected: Vec<agents_task::Model>,
    /// The run's end, when this cancel ended it (to be sent to its targets).
    pub finished: Option<Notice>,
}

/// The run's record, or why it has none: unknown (exit 4), or rows another tool wrote
/// (no saved plan, exit 2).
pub async fn recorded(
    store: &Store,
    run_id: &str,
) -> Result<(agents_run::Model, Vec<agents_task::Model>)> {
    let record = agents_run::Entity::find_by_id(run_id.to_owned())
        .one(&store.db)
        .await
        .map_err(Error::db)?;
    let rows = run_tasks(&store.db, run_id).await?;
    match record {
        Some(record) => Ok((record, rows)),
        None if rows.is_empty() => Err(Error::UnknownRun {
            run_id: run_id.to_owned(),
        }),
        None => Err(Error::NotResumable {
            run_id: run_id.to_owned(),
        }),
    }
}

/// Records `by`'s cancel of run `run_id` and closes what it can: everything that waits when
/// nobody drives the run, its gates when an orch does (that orch stops what runs and skips
/// what is queued at its next heartbeat). Refused when the run has ended.
pub async fn cancel(
    store: &Store,
    run_id: &str,
    by: &str,
    stale_after: std::time::Duration,
) -> Result<Cancelled> {
    let db = &store.db;
    let (record, rows) = recorded(store, run_id).await?;
    // A run that has ended is refused, unless a cancel was already asked for: a second
    // cancel says so rather than fail.
    if record.cancel_requested_at.is_none() && is_over(&rows) {
        return Err(Error::RunEnded {
            run_id: run_id.to_owned(),
        });
    }
    let asked = request(db, run_id, by, now()).await?;
    let by = match &asked {
        Requested::Already { by, .. } => by.clone(),
        Requested::Now => by.to_owned(),
    };
    let already = Some(asked).filter(|a| *a != Requested::Now);
    let owner = owner_id();
    let taken = lease::acquire(
        db,
        &Lease {
            key: LeaseKey::Run(run_id.to_owned()),
            plan_name: &record.plan_name,
            run_id: Some(run_id),
            owner: &owner,
            stale_after,
        },
    )
    .await;
    match taken {
        Ok(_guard) => {
            // Nobody drives the run: what waits is closed here, and the run ends.
            let closed = close_waiting(db, run_id, &by).await;
            let ended = match closed {
                Ok(closed) => end_if_over(store, &record, closed).await,
                Err(e) => Err(e),
            };
            lease::release(db, &owner).await?;
            let (closed, finished) = ended?;
            Ok(Cancelled {
                already,
                by,
                // A run workers drive: each stops its running tasks at its next heartbeat.
                driver: workers_running(&record, &rows),
                skipped: closed
                    .iter()
                    .filter(|r| r.status == TaskStatus::Skipped)
                    .count(),
                rejected: closed
                    .into_iter()
                    .filter(|r| r.status == TaskStatus::Failed)
                    .collect(),
                finished,
            })
        }
        Err(Error::Leased { holder, .. }) => {
            // Its driver skips what is queued (it might be starting it now); the gates,
            // which hold no slot, are rejected here at once.
            let mut rejected = Vec::new();
            for row in rows
                .iter()
                .filter(|r| r.status == TaskStatus::AwaitingApproval)
            {
                rejected.extend(reject_gate(db, row.id, &by).await?);
            }
            Ok(Cancelled {
                already,
                by,
                driver: Some(holder.owner),
                skipped: 0,
                rejected,
                finished: None,
            })
        }
        Err(e) => Err(e),
    }
}

/// The workers running tasks of `record`, when workers drive it and some do.
fn workers_running(record: &agents_run::Model, rows: &[agents_task::Model]) -> Option<String> {
    record.queue.as_ref()?;
    let mut owners: Vec<&str> = rows
        .iter()
        .filter(|r| r.status == TaskStatus::Running)
        .filter_map(|r| r.owner.as_deref())
        .collect();
    owners.sort_unstable();
    owners.dedup();
    (!owners.is_empty()).then(|| format!("worker {}", owners.join(", worker ")))
}

/// Sets the run's `finished_at` once nothing of it runs, is queued or waits, when this cancel
/// closed something or nobody ended the run before (a second cancel, or one after the driver
/// ended it, sends no second `run_finished`).
async fn end_if_over(
    store: &Store,
    record: &agents_run::Model,
    closed: Vec<agents_task::Model>,
) -> Result<(Vec<agents_task::Model>, Option<Notice>)> {
    let rows = run_tasks(&store.db, &record.run_id).await?;
    let ended_before = closed.is_empty() && record.finished_at.is_some();
    if ended_before || !is_over(&rows) {
        return Ok((closed, None));
    }
    finish_run(&store.db, &record.run_id, now()).await?;
    Ok((
        closed,
        Some(run_finished(&record.run_id, &rows, record.started_at)),
    ))
}

/// Queues run `run_id`'s failed and cancelled tasks again (or `tasks`, with their dependents),
/// in `by`'s name, under the run's lease for the moment it takes; nothing is driven here.
/// Refused while another orch drives the run.
pub async fn requeue_run(
    store: &Store,
    run_id: &str,
    tasks: &[String],
    by: &str,
    stale_after: std::time::Duration,
) -> Result<Vec<agents_task::Model>> {
    let (record, _) = recorded(store, run_id).await?;
    let origin = std::path::PathBuf::from(format!("(plan saved with run {run_id})"));
    let plan = crate::plan::parse(&origin, record.plan_text.clone())?;
    let owner = owner_id();
    let _guard = lease::acquire(
        &store.db,
        &Lease {
            key: LeaseKey::Run(run_id.to_owned()),
            plan_name: &record.plan_name,
            run_id: Some(run_id),
            owner: &owner,
            stale_after,
        },
    )
    .await?;
    // Read under the lease: nobody moves the rows between the choice and the requeue.
    let queued = match run_tasks(&store.db, run_id).await {
        Ok(rows) => match super::retry::select(&plan.tasks, &rows, tasks) {
            Ok(chosen) => requeue(&store.db, run_id, &chosen, by, now()).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    // A run workers drive: what may start now is marked ready for them.
    let queued = match queued {
        Ok(rows) if record.queue.is_some() => super::advance::rejudge(store, &plan.tasks, run_id)
            .await
            .map(|_| rows),
        other => other,
    };
    lease::release(&store.db, &owner).await?;
    queued
}
