//! The scheduling loop shared by `orch run` and `orch resume`: make the moves that
//! `moves::next_moves` decides (start each queued task when its dependencies allow, at most
//! `concurrency` at once; skip those its dependencies make pointless), record how each task
//! ended, and stop starting anything after a signal.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::attempt;
use super::frontier::Frontier;
use super::heartbeat::until_gone;
use super::moves::{Graph, Move, next_moves};
use super::progress::Reporter;
use super::stop::{Stop, Stops};
use super::{finish_unstarted, notify_finished};
use crate::error::{Error, Result};
use crate::notify::Notifier;
use crate::plan::resolve::ResolvedTask;
use crate::secrets::Redactor;
use crate::store::transition::{TaskChange, Transition};
use crate::store::{Store, TaskStatus, agents_task, now};
use crate::store::{batch, cancel};

/// A run's tasks and their rows, index for index, and what running them needs.
pub(super) struct RunState<'a> {
    pub tasks: &'a [ResolvedTask],
    pub rows: Vec<agents_task::Model>,
    pub log_dir: PathBuf,
    pub redactor: Arc<Redactor>,
    pub concurrency: u32,
    pub notifier: &'a Notifier,
    /// Recorded on each task it starts, with a heartbeat.
    pub owner: &'a str,
    /// Set when the database went without a heartbeat past the outage bound: the drive
    /// stops its tasks and ends (exit 3) before another orch may take the run over.
    pub gone: watch::Receiver<Option<Duration>>,
}

/// Runs until nothing more can start; returns the rows and the signal that stopped it early.
///
/// If the loop fails (the database gone past its bound), the tasks still running are stopped
/// as a signal would stop them, and collected, before the error is returned: no task process
/// is left running unsupervised.
pub(super) async fn run_to_the_end(
    store: &Store,
    state: RunState<'_>,
    reporter: &dyn Reporter,
    cancel: Stops,
) -> Result<(Vec<agents_task::Model>, Option<Stop>)> {
    // The tasks listen to our own channel, fed by the caller's (signals) and by us (errors).
    let (stop_tx, stop_rx) = watch::channel(None);
    let stop_tx = std::sync::Arc::new(stop_tx);
    let forward = {
        let (mut outside, stop_tx) = (cancel, stop_tx.clone());
        tokio::spawn(async move {
            if outside.wait_for(Option::is_some).await.is_ok() {
                let stop = outside.borrow().clone();
                stop_tx.send_replace(stop);
            }
        })
    };
    let mut running: JoinSet<(usize, Result<Transition>)> = JoinSet::new();
    let result = run_loop(store, state, reporter, stop_rx, &mut running).await;
    forward.abort();
    if result.is_err() && !running.is_empty() {
        stop_tx.send_replace(Some(Stop::Signal(nix::sys::signal::Signal::SIGTERM as i32)));
        while running.join_next().await.is_some() {}
    }
    result
}

/// The loop: decide, commit what was decided (one commit), report and start, then wait for
/// a task to end or a signal.
async fn run_loop(
    store: &Store,
    state: RunState<'_>,
    reporter: &dyn Reporter,
    cancel: Stops,
    running: &mut JoinSet<(usize, Result<Transition>)>,
) -> Result<(Vec<agents_task::Model>, Option<Stop>)> {
    let RunState {
        tasks,
        mut rows,
        log_dir,
        redactor,
        concurrency,
        notifier,
        owner,
        mut gone,
    } = state;
    let spawn = Spawn {
        store,
        tasks,
        log_dir,
        redactor,
        cancel: cancel.clone(),
    };
    let graph = Graph::of(tasks);
    let limit = concurrency.max(1) as usize;
    let mut cancelled = None;
    // Ends reported by finished tasks, not yet committed: they share the commit of what the
    // next pass starts or skips (one commit per task instead of two), and are committed
    // by themselves at the latest when that pass starts nothing.
    let mut batch = Batch::default();
    let mut frontier = Frontier::new(&graph.depends_on);
    loop {
        if cancelled.is_none() {
            cancelled = cancel.borrow().clone();
        }
        if cancelled.is_none() {
            let room = limit.saturating_sub(running.len());
            let moves = next_moves(&graph, &mut rows, &mut frontier, room);
            queue_moves(moves, &mut rows, &mut batch, owner);
        }
        // One commit for everything decided since the last one; then say so, and start. A
        // commit riding out an outage gives way to the heartbeat's bound.
        let committed = tokio::select! {
            committed = batch.commit(store) => committed?,
            waited = until_gone(&mut gone) => return Err(heartbeats_failed(waited)),
        };
        for (i, then, row) in committed {
            rows[i] = row.clone();
            match then {
                AfterCommit::Finished => {
                    reporter.task_finished(&row);
                    notify_finished(notifier, &row, reporter).await;
                }
                AfterCommit::Skipped => reporter.task_finished(&row),
                AfterCommit::Start => {
                    reporter.task_started(&row);
                    spawn.start(running, i, row);
                }
            }
        }
        if running.is_empty() {
            // A decision taken while this run was going: pick it up now rather than leave
            // the gate's dependents queued for a resume that this lease would refuse.
            if cancelled.is_none() && refresh_decisions(store, &mut rows).await? {
                frontier.everything();
                continue;
            }
            break;
        }
        let mut watch_cancel = cancel.clone();
        tokio::select! {
            Some(joined) = running.join_next() => {
                let (i, end) = joined.map_err(|e| Error::Io {
                    context: "a task's supervisor stopped".to_owned(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                batch.push(&mut rows, i, end?, AfterCommit::Finished);
                frontier.changed(i);
            }
            _ = watch_cancel.wait_for(Option::is_some), if cancelled.is_none() => {
                cancelled = cancel.borrow().clone();
            }
            waited = until_gone(&mut gone) => return Err(heartbeats_failed(waited)),
        }
    }
    if let Some(stop) = &cancelled {
        skip_unstarted(store, &mut rows, stop).await?;
    }
    Ok((rows, cancelled))
}

/// The drive's end when its heartbeats failed for the outage bound: its tasks are stopped by
/// the caller, their rows left for recovery (`orchestrator lost`) once the database is back.
fn heartbeats_failed(waited: Duration) -> Error {
    Error::DatabaseGone {
        waited,
        detail: "no heartbeat reached it, so its tasks were stopped before another orch could \
                 take the run over"
            .to_owned(),
    }
}

/// The decided moves as transitions in the batch, each row showing its new status at once.
fn queue_moves(moves: Vec<Move>, rows: &mut [agents_task::Model], batch: &mut Batch, owner: &str) {
    for m in moves {
        match m {
            Move::Skip(i, reason) => {
                let t = unstarted(&rows[i], reason);
                batch.push(rows, i, t, AfterCommit::Skipped);
            }
            Move::Start(i) => {
                let t = start(&rows[i], owner);
                batch.push(rows, i, t, AfterCommit::Start);
            }
        }
    }
}

/// Stopped: what never started will not start, and after a user's cancel the gates still
/// waiting are rejected by that user (a signal leaves them for a later decision).
async fn skip_unstarted(store: &Store, rows: &mut [agents_task::Model], stop: &Stop) -> Result<()> {
    for row in rows.iter_mut().filter(|r| r.status == TaskStatus::Queued) {
        *row = finish_unstarted(store, row, stop.skip_reason()).await?;
    }
    if let Stop::Cancelled { by } = stop {
        for row in rows
            .iter_mut()
            .filter(|r| r.status == TaskStatus::AwaitingApproval)
        {
            if let Some(rejected) = cancel::reject_gate(&store.db, row.id, by).await? {
                *row = rejected;
            }
        }
    }
    Ok(())
}

/// What starting a task's supervisor needs.
struct Spawn<'a> {
    store: &'a Store,
    tasks: &'a [ResolvedTask],
    log_dir: PathBuf,
    redactor: Arc<Redactor>,
    cancel: Stops,
}

impl Spawn<'_> {
    /// Runs task `i` (its row just committed as `running`) in a task of its own. Spawned,
    /// not merely polled from the loop: a task holding a database connection must progress
    /// while the loop awaits its own queries, or a full pool deadlocks.
    fn start(
        &self,
        running: &mut JoinSet<(usize, Result<Transition>)>,
        i: usize,
        row: agents_task::Model,
    ) {
        let (store, task) = (self.store.clone(), self.tasks[i].clone());
        let (redactor, log_dir) = (self.redactor.clone(), self.log_dir.clone());
        let cancel = self.cancel.clone();
        running.spawn(async move {
            let end = attempt::run(&store, row, &task, &log_dir, &redactor, cancel);
            (i, end.await)
        });
    }
}

/// Reads again the rows this run holds at a gate while others wait on them; `true` when a
/// decision arrived meanwhile.
async fn refresh_decisions(store: &Store, rows: &mut [agents_task::Model]) -> Result<bool> {
    let waiting = rows
        .iter()
        .any(|r| r.status == TaskStatus::AwaitingApproval);
    let queued = rows.iter().any(|r| r.status == TaskStatus::Queued);
    let Some(run_id) = rows.first().map(|r| r.run_id.clone()) else {
        return Ok(false);
    };
    if !(waiting && queued) {
        return Ok(false);
    }
    let fresh: HashMap<i64, agents_task::Model> =
        crate::store::query::run_tasks(&store.db, &run_id)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
    let mut changed = false;
    for row in rows
        .iter_mut()
        .filter(|r| r.status == TaskStatus::AwaitingApproval)
    {
        if let Some(now) = fresh.get(&row.id)
            && now.status != TaskStatus::AwaitingApproval
        {
            *row = now.clone();
            changed = true;
        }
    }
    Ok(changed)
}

/// What the loop does once a transition is committed.
#[derive(Clone, Copy, Debug)]
enum AfterCommit {
    Start,
    Finished,
    Skipped,
}

/// Transitions decided but not yet committed, in the order they were decided.
#[derive(Default)]
struct Batch {
    transitions: Vec<Transition>,
    after: Vec<(usize, AfterCommit)>,
}

impl Batch {
    /// Adds a transition of `rows[i]`, and shows its new status in `rows` straight away.
    fn push(
        &mut self,
        rows: &mut [agents_task::Model],
        i: usize,
        t: Transition,
        then: AfterCommit,
    ) {
        rows[i].status = t.to;
        self.transitions.push(t);
        self.after.push((i, then));
    }

    /// Commits them all at once; returns each row as recorded, with what to do next.
    async fn commit(
        &mut self,
        store: &Store,
    ) -> Result<Vec<(usize, AfterCommit, agents_task::Model)>> {
        if self.transitions.is_empty() {
            return Ok(Vec::new());
        }
        let rows = batch::commit(store, &self.transitions).await?;
        let done = std::mem::take(self);
        Ok(done
            .after
            .into_iter()
            .zip(rows)
            .map(|((i, then), row)| (i, then, row))
            .collect())
    }
}

/// A queued task that will not run: `skipped`, its reason as the excerpt.
fn unstarted(row: &agents_task::Model, reason: String) -> Transition {
    let change = TaskChange {
        log_excerpt: Some(reason),
        ..Default::default()
    };
    Transition::new(row.id, TaskStatus::Queued, TaskStatus::Skipped, change)
}

/// A queued task starting under `owner`, its heartbeat stamped at once.
fn start(row: &agents_task::Model, owner: &str) -> Transition {
    let change = TaskChange {
        started_at: Some(now()),
        owner: Some(owner.to_owned()),
        heartbeat: true,
        ..Default::default()
    };
    Transition::new(row.id, TaskStatus::Queued, TaskStatus::Running, change)
}
