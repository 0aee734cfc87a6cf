//! A run workers drive has no process of its own: whoever changes it (the worker ending a
//! task, `orch run --enqueue` recording it, a worker noticing a decision) judges in the same
//! transaction which queued tasks may now start (marked ready for a claim) and which can no
//! longer run (skipped), with the rules a local run uses ([`super::moves::next_moves`]), and
//! whether the run is over.

use std::collections::{HashMap, HashSet};

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
    // Every task of the run is judged.
    let wanted: HashSet<&str> = specs.iter().map(|t| t.name.as_str()).collect();
    let (ready_ids, skipped) = judge_rows(db, specs, rows, &wanted).await?;
    let mut advanced = Advanced {
        skipped,
        ..Default::default()
    };
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

/// Judges what the end of task `ended` of run `run_id` changed, in the worker's transaction
/// that recorded it (the run row locked first, as for [`judge`]): only the ended task's
/// dependents can have become ready or skippable, so only they are judged, from their own
/// rows and their dependencies' (and, when some are skipped, theirs in turn). Reading the
/// whole run at every end made a worker's end cost grow with the run: 16 ms per task for a
/// run of 1,000. Whether the run is over is one count; its rows are read only then.
pub async fn judge_after(
    db: &impl ConnectionTrait,
    specs: &[TaskSpec],
    run_id: &str,
    ended: &str,
) -> Result<Advanced> {
    let by_name: HashMap<&str, &TaskSpec> = specs.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in specs {
        for d in &t.depends_on {
            dependents
                .entry(d.as_str())
                .or_default()
                .push(t.name.as_str());
        }
    }
    let mut advanced = Advanced::default();
    let mut targets: Vec<&str> = dependents.get(ended).cloned().unwrap_or_default();
    while !targets.is_empty() {
        // The targets and their dependencies: all a target's readiness reads.
        let mut names: HashSet<&str> = targets.iter().copied().collect();
        for t in &targets {
            if let Some(spec) = by_name.get(t) {
                names.extend(spec.depends_on.iter().map(String::as_str));
            }
        }
        let rows = crate::store::query::run_tasks_named(db, run_id, &names).await?;
        let wanted: HashSet<&str> = targets.iter().copied().collect();
        let (ready_ids, skipped) = judge_rows(db, specs, rows, &wanted).await?;
        ready::mark_ready(db, &ready_ids).await?;
        advanced.ready += ready_ids.len();
        // A skipped task's dependents may now be skippable too.
        targets = skipped
            .iter()
            .flat_map(|row| {
                dependents
                    .get(row.task.as_str())
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        targets.sort_unstable();
        targets.dedup();
        advanced.skipped.extend(skipped);
    }
    advanced.done = !crate::store::query::run_has_unfinished(db, run_id).await?;
    if advanced.done {
        mutation::finish_run(db, run_id, crate::store::now()).await?;
        advanced.rows = run_tasks(db, run_id).await?;
    }
    Ok(advanced)
}

/// The moves of the readiness rules for `rows` (a part of the run, or all of it) that concern
/// the `wanted` tasks (all, when `None`): the ids to mark ready and the tasks skipped now. A
/// row outside `wanted` that is queued is shown to the rules as running, so that nothing is
/// decided about it from a part of the run that lacks its own dependencies.
async fn judge_rows(
    db: &impl ConnectionTrait,
    specs: &[TaskSpec],
    rows: Vec<agents_task::Model>,
    wanted: &HashSet<&str>,
) -> Result<(Vec<i64>, Vec<agents_task::Model>)> {
    let mut by_name: HashMap<&str, &agents_task::Model> =
        rows.iter().map(|r| (r.task.as_str(), r)).collect();
    let mut chosen = Vec::new();
    let mut aligned = Vec::new();
    for spec in specs {
        if let Some(row) = by_name.remove(spec.name.as_str()) {
            chosen.push(spec);
            let mut row = row.clone();
            if !wanted.contains(row.task.as_str()) && row.status == TaskStatus::Queued {
                row.status = TaskStatus::Running;
            }
            aligned.push(row);
        }
    }
    let graph = Graph::of_specs(chosen);
    let mut frontier = Frontier::new(&graph.depends_on);
    let before: Vec<Option<chrono::DateTime<chrono::Utc>>> =
        aligned.iter().map(|r| r.ready_at).collect();
    let moves = next_moves(&graph, &mut aligned, &mut frontier, usize::MAX);
    let (mut ready_ids, mut skipped) = (Vec::new(), Vec::new());
    for m in moves {
        match m {
            Move::Start(i) if before[i].is_none() && wanted.contains(graph.names[i]) => {
                ready_ids.push(aligned[i].id)
            }
            Move::Start(_) => {}
            Move::Skip(i, _) if !wanted.contains(graph.names[i]) => {}
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
                skipped.push(skip.apply(db).await?);
            }
        }
    }
    Ok((ready_ids, skipped))
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
