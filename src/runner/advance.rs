//! A run workers drive has no process of its own: whoever changes it (the worker ending a
//! task, `orch run --enqueue` recording it, a worker noticing a decision) judges in the same
//! transaction which queued tasks may now start (marked ready for a claim) and which can no
//! longer run (skipped), with the rules a local run uses ([`super::moves::next_moves`]), and
//! whether the run is over.

use sea_orm::ConnectionTrait;

use super::frontier::Frontier;
use super::moves::{Graph, Move, next_moves};
use crate::error::Result;
use crate::plan::TaskSpec;
use crate::store::query::run_tasks;
use crate::store::transition::{TaskChange, Transition};
use crate::store::{Store, TaskStatus, agents_task, mutation, ready};

/// What a judgement changed.
#[derive(Debug, Default)]
pub struct Advanced {
    /// The run's rows after it, in id order.
    pub rows: Vec<agents_task::Model>,
    /// The tasks it skipped.
    pub skipped: Vec<agents_task::Model>,
    /// How many tasks it made ready.
    pub ready: usize,
    /// Nothing of the run is queued or running any more (gates may still wait): its
    /// `finished_at` was set now.
    pub done: bool,
}

/// Judges run `run_id`, whose row the caller locked first in this transaction
/// ([`ready::lock_run`]); `specs` are the run's plan tasks.
pub async fn judge(
    db: &impl ConnectionTrait,
    specs: &[TaskSpec],
    run_id: &str,
) -> Result<Advanced> {
    let rows = run_tasks(db, run_id).await?;
    // The plan's tasks that have rows, and their rows, index for index.
    let mut by_name: std::collections::HashMap<&str, &agents_task::Model> =
        rows.iter().map(|r| (r.task.as_str(), r)).collect();
    let mut chosen = Vec::new();
    let mut aligned = Vec::new();
    for spec in specs {
        if let Some(row) = by_name.remove(spec.name.as_str()) {
            chosen.push(spec);
            aligned.push(row.clone());
        }
    }
    let graph = Graph::of_specs(chosen);
    let mut frontier = Frontier::new(&graph.depends_on);
    let before: Vec<Option<chrono::DateTime<chrono::Utc>>> =
        aligned.iter().map(|r| r.ready_at).collect();
    let moves = next_moves(&graph, &mut aligned, &mut frontier, usize::MAX);
    let mut advanced = Advanced::default();
    let mut ready_ids = Vec::new();
    for m in moves {
        match m {
            Move::Start(i) if before[i].is_none() => ready_ids.push(aligned[i].id),
            Move::Start(_) => {}
            Move::Skip(i, reason) => {
                let change = TaskChange {
                    log_excerpt: Some(reason),
                    ..Default::default()
                };
                let skip = Transition::new(
                    aligned[i].id,
                    TaskStatus::Queued,
                    TaskStatus::Skipped,
                    change,
                );
                advanced.skipped.push(skip.apply(db).await?);
            }
        }
    }
    ready::mark_ready(db, &ready_ids).await?;
    advanced.ready = ready_ids.len();
    let rows = run_tasks(db, run_id).await?;
    let decided = rows.iter().filter(|r| r.decided_at.is_some()).count();
    ready::seen_decisions(db, run_id, decided as i32).await?;
    advanced.done = !rows
        .iter()
        .any(|r| matches!(r.status, TaskStatus::Queued | TaskStatus::Running));
    if advanced.done {
        mutation::finish_run(db, run_id, crate::store::now()).await?;
    }
    advanced.rows = rows;
    Ok(advanced)
}

/// Judges run `run_id` again by itself, in a transaction of its own (a decision came, a task
/// was queued again, or one ended where no worker judged it); `None` when the run is not one
/// workers drive.
pub async fn rejudge(store: &Store, specs: &[TaskSpec], run_id: &str) -> Result<Option<Advanced>> {
    let txn = crate::store::begin_read_committed(&store.db).await?;
    if !ready::lock_run(&txn, run_id).await? {
        return Ok(None);
    }
    let advanced = judge(&txn, specs, run_id).await?;
    txn.commit().await.map_err(crate::error::Error::db)?;
    Ok(Some(advanced))
}

/// [`rejudge`] of run `run_id` from the plan saved with it.
pub async fn rejudge_saved(store: &Store, run_id: &str) -> Result<Option<Advanced>> {
    use sea_orm::EntityTrait;
    let run = crate::store::agents_run::Entity::find_by_id(run_id.to_owned())
        .one(&store.db)
        .await
        .map_err(crate::error::Error::db)?;
    let Some(run) = run.filter(|r| r.queue.is_some()) else {
        return Ok(None);
    };
    let plan = crate::plan::saved::parse_saved(run_id, &run.plan_text)?;
    rejudge(store, &plan.tasks, run_id).await
}
