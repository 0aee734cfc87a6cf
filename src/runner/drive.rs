//! The scheduling loop shared by `orch run` and `orch resume`: start each queued task when
//! its dependencies allow (at most `concurrency` at once), skip those whose dependencies
//! make them pointless, record how each ended, and stop starting anything after a signal.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::attempt;
use super::frontier::Frontier;
use super::progress::Reporter;
use super::schedule::{self, Dep, Readiness};
use super::{finish_unstarted, notify_finished};
use crate::error::{Error, Result};
use crate::notify::Notifier;
use crate::plan::resolve::ResolvedTask;
use crate::secrets::Redactor;
use crate::store::batch::{Step, transitions_durably};
use crate::store::transition::TaskChange;
use crate::store::{ApprovalState, Store, TaskStatus, agents_task, now};

/// A run's tasks and their rows, index for index.
pub(super) struct Drive<'a> {
    pub tasks: &'a [ResolvedTask],
    pub rows: Vec<agents_task::Model>,
    pub log_dir: PathBuf,
    pub redactor: Arc<Redactor>,
    pub concurrency: u32,
    pub notifier: &'a Notifier,
    /// Recorded on each task it starts, with a heartbeat.
    pub owner: &'a str,
}

/// Runs until nothing more can start; returns the rows and the signal that stopped it early.
///
/// If the loop fails (the database gone past its bound), the tasks still running are stopped
/// as a signal would stop them, and collected, before the error is returned: no task process
/// is left running unsupervised.
pub(super) async fn drive(
    store: &Store,
    d: Drive<'_>,
    reporter: &dyn Reporter,
    cancel: watch::Receiver<Option<i32>>,
) -> Result<(Vec<agents_task::Model>, Option<i32>)> {
    // The tasks listen to our own channel, fed by the caller's (signals) and by us (errors).
    let (stop_tx, stop_rx) = watch::channel(None);
    let stop_tx = std::sync::Arc::new(stop_tx);
    let forward = {
        let (mut outside, stop_tx) = (cancel, stop_tx.clone());
        tokio::spawn(async move {
            if outside.wait_for(Option::is_some).await.is_ok() {
                let sig = *outside.borrow();
                stop_tx.send_replace(sig);
            }
        })
    };
    let mut running: JoinSet<(usize, Result<Step>)> = JoinSet::new();
    let result = schedule(store, d, reporter, stop_rx, &mut running).await;
    forward.abort();
    if result.is_err() && !running.is_empty() {
        stop_tx.send_replace(Some(nix::sys::signal::Signal::SIGTERM as i32));
        while running.join_next().await.is_some() {}
    }
    result
}

async fn schedule(
    store: &Store,
    d: Drive<'_>,
    reporter: &dyn Reporter,
    cancel: watch::Receiver<Option<i32>>,
    running: &mut JoinSet<(usize, Result<Step>)>,
) -> Result<(Vec<agents_task::Model>, Option<i32>)> {
    let Drive {
        tasks,
        mut rows,
        log_dir,
        redactor,
        concurrency,
        notifier,
        owner,
    } = d;
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.spec.name.as_str(), i))
        .collect();
    let limit = concurrency.max(1) as usize;
    let mut cancelled = None;
    // Ends reported by finished tasks, not yet committed: they share the commit of what the
    // next pass starts or skips (one commit per task instead of two), and are committed
    // by themselves at the latest when that pass starts nothing.
    let mut batch = Batch::default();
    let mut frontier = Frontier::new(tasks, &index);
    loop {
        if cancelled.is_none() {
            cancelled = *cancel.borrow();
        }
        // Skip or mark ready the tasks whose dependencies changed, then start the earliest
        // ready ones while there is room. A row's status in `rows` is already what the
        // batch will record, so its dependents are judged on it.
        while cancelled.is_none() {
            while let Some(i) = frontier.next_dirty() {
                if rows[i].status != TaskStatus::Queued {
                    continue;
                }
                let deps: Vec<Dep<'_>> = tasks[i]
                    .spec
                    .depends_on
                    .iter()
                    .filter_map(|d| index.get(d.as_str()).map(|&j| dep(d, &rows[j])))
                    .collect();
                match schedule::readiness(tasks[i].spec.when, &deps) {
                    Readiness::Wait => {}
                    Readiness::Skip(reason) => {
                        let step = unstarted(&rows[i], reason);
                        batch.push(&mut rows, i, step, Then::Skipped);
                        frontier.changed(i);
                    }
                    Readiness::Ready => frontier.mark_ready(i),
                }
            }
            if running.len() + batch.starts >= limit {
                break;
            }
            let Some(i) = frontier.next_ready() else {
                break;
            };
            if rows[i].status != TaskStatus::Queued {
                continue;
            }
            let step = Step {
                id: rows[i].id,
                from: TaskStatus::Queued,
                to: TaskStatus::Running,
                change: TaskChange {
                    started_at: Some(now()),
                    owner: Some(owner.to_owned()),
                    heartbeat: true,
                    ..Default::default()
                },
            };
            batch.push(&mut rows, i, step, Then::Start);
            frontier.changed(i);
        }
        // One commit for everything decided since the last one; then say so, and start.
        for (i, then, row) in batch.commit(store).await? {
            rows[i] = row.clone();
            match then {
                Then::Finished => {
                    reporter.task_finished(&row);
                    notify_finished(notifier, &row, reporter).await;
                }
                Then::Skipped => reporter.task_finished(&row),
                Then::Start => {
                    reporter.task_started(&row);
                    // Spawned, not merely polled from here: a task holding a database
                    // connection must progress while this loop awaits its own queries,
                    // or a full pool deadlocks.
                    let (store, task) = (store.clone(), tasks[i].clone());
                    let (redactor, log_dir) = (redactor.clone(), log_dir.clone());
                    let cancel = cancel.clone();
                    running.spawn(async move {
                        let end = attempt::run(&store, row, &task, &log_dir, &redactor, cancel);
                        (i, end.await)
                    });
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
                batch.push(&mut rows, i, end?, Then::Finished);
                frontier.changed(i);
            }
            _ = watch_cancel.wait_for(Option::is_some), if cancelled.is_none() => {
                cancelled = *cancel.borrow();
            }
        }
    }
    // Stopped by a signal: what never started will not start.
    if let Some(sig) = cancelled {
        for row in rows.iter_mut().filter(|r| r.status == TaskStatus::Queued) {
            *row = finish_unstarted(store, row, format!("skipped: orch received signal {sig}"))
                .await?;
        }
    }
    Ok((rows, cancelled))
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
enum Then {
    Start,
    Finished,
    Skipped,
}

/// Transitions decided but not yet committed, in the order they were decided.
#[derive(Default)]
struct Batch {
    steps: Vec<Step>,
    after: Vec<(usize, Then)>,
    /// How many of them start a task (they count against the concurrency limit).
    starts: usize,
}

impl Batch {
    /// Adds a transition of `rows[i]`, and shows its new status in `rows` straight away.
    fn push(&mut self, rows: &mut [agents_task::Model], i: usize, step: Step, then: Then) {
        rows[i].status = step.to;
        if matches!(then, Then::Start) {
            self.starts += 1;
        }
        self.steps.push(step);
        self.after.push((i, then));
    }

    /// Commits them all at once; returns each row as recorded, with what to do next.
    async fn commit(&mut self, store: &Store) -> Result<Vec<(usize, Then, agents_task::Model)>> {
        if self.steps.is_empty() {
            return Ok(Vec::new());
        }
        let rows = transitions_durably(store, &self.steps).await?;
        let done = std::mem::take(self);
        Ok(done
            .after
            .into_iter()
            .zip(rows)
            .map(|((i, then), row)| (i, then, row))
            .collect())
    }
}

fn unstarted(row: &agents_task::Model, reason: String) -> Step {
    Step {
        id: row.id,
        from: TaskStatus::Queued,
        to: TaskStatus::Skipped,
        change: TaskChange {
            log_excerpt: Some(reason),
            ..Default::default()
        },
    }
}

fn dep<'a>(name: &'a str, row: &'a agents_task::Model) -> Dep<'a> {
    Dep {
        name,
        status: row.status,
        rejected_by: match row.approval_state {
            Some(ApprovalState::Rejected) => Some(row.approver.as_deref().unwrap_or("someone")),
            _ => None,
        },
    }
}
