//! `orch worker`: takes tasks of enqueued runs from the shared database and runs them.
//!
//! The loop: fill free slots by claims (`store::claim`, one statement each), run each claimed
//! task as a local run does (`runner::attempt`), record its end with the run's judgement
//! (`end::commit`), and every heartbeat interval sweep what nobody else may be around to do:
//! recover what dead orchs left (lost tasks failed, overdue gates rejected) and judge again
//! the runs a decision or a recovery changed. No process drives a run: whoever changes it
//! judges it, so any worker may stop at any time.
//!
//! The heartbeat (its own task) stamps the worker's row and its running tasks, and hands each
//! task whose run someone cancelled its stop. When no beat reaches the database for the
//! outage bound (shorter than the staleness after which others judge this worker lost), it
//! stops its tasks itself: their rows are then another's to close, and this worker's late
//! writes are refused by their fences.

pub mod context;
mod end;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{Config, Timing};
use crate::error::{Result, code};
use crate::notify::notices::run_finished;
use crate::notify::{Event, Notice};
use crate::runner::attempt;
use crate::runner::heartbeat::Outage;
use crate::runner::recovery::recover;
use crate::runner::stop::{Stop, StopSender, stop_once};
use crate::store::claim::{Claimer, claim};
use crate::store::transition::{TaskChange, Transition};
use crate::store::{Store, TaskStatus, agents_task, now, ready, workers};
use crate::warning::{Warning, say};
use context::{Contexts, RunContext};

/// What `orch worker` was asked to be.
pub struct WorkerSpec {
    pub slots: u32,
    pub labels: Vec<(String, String)>,
    pub queues: Vec<String>,
}

/// How often a worker with free slots and nothing claimed asks again.
const POLL: Duration = Duration::from_millis(250);

/// The stop senders of the tasks running now, by task id: the heartbeat hands cancels to
/// them, a second signal stops them all.
type Running = Arc<Mutex<HashMap<i64, StopSender>>>;

/// Runs until drained (exit 0) or stopped by a signal (128 + the signal).
pub async fn work(store: &Store, config: &Config, spec: WorkerSpec) -> Result<i32> {
    let owner = crate::store::lease::owner_id();
    let timing = config.timing;
    let (signals_tx, mut signals) = watch::channel(Signals::default());
    tokio::spawn(watch_signals(signals_tx));
    recover(store, config).await?.detach();
    workers::register(
        &store.db,
        &workers::NewWorker {
            id: &owner,
            labels: &spec.labels,
            queues: &spec.queues,
            slots: spec.slots,
        },
    )
    .await?;
    say(Warning::WorkerUp {
        id: owner.clone(),
        slots: spec.slots,
        queues: spec.queues.clone(),
    });
    let stops: Running = Arc::default();
    let (cut_tx, cut_off) = watch::channel(false);
    let beat = tokio::spawn(heartbeat(
        store.clone(),
        owner.clone(),
        timing,
        stops.clone(),
        cut_tx,
    ));
    let claimer = Claimer {
        owner: &owner,
        queues: &spec.queues,
        labels: &spec.labels,
    };
    let mut contexts = Contexts::default();
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut last_sweep: Option<Instant> = None;
    let mut said_draining = false;
    let exit = loop {
        let now_signals = signals.borrow().clone();
        if let Some(sig) = now_signals.halt {
            stop_all(&stops, Stop::Signal(sig as i32));
        }
        if now_signals.drain && !said_draining {
            said_draining = true;
            say(Warning::WorkerDraining {
                running: tasks.len(),
            });
            if let Err(e) = workers::draining(&store.db, &owner, now()).await {
                say(Warning::WorkerTrouble {
                    what: "marking the drain",
                    error: e,
                });
            }
        }
        if now_signals.drain || now_signals.halt.is_some() {
            if tasks.is_empty() {
                break now_signals.halt.map_or(code::SUCCESS, |s| 128 + s as i32);
            }
        } else if !*cut_off.borrow() {
            fill(
                store,
                config,
                &claimer,
                spec.slots,
                &mut contexts,
                &mut tasks,
                &stops,
            )
            .await;
        }
        if last_sweep.is_none_or(|t| t.elapsed() >= timing.heartbeat) {
            last_sweep = Some(Instant::now());
            sweep(store, config, &mut contexts).await;
        }
        tokio::select! {
            Some(_) = tasks.join_next() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = signals.changed() => {}
        }
    };
    beat.abort();
    if let Err(e) = workers::stopped(&store.db, &owner, now()).await {
        say(Warning::WorkerTrouble {
            what: "marking the stop",
            error: e,
        });
    }
    Ok(exit)
}

/// Claims while slots are free and something is ready, and starts each claimed task.
async fn fill(
    store: &Store,
    config: &Config,
    claimer: &Claimer<'_>,
    slots: u32,
    contexts: &mut Contexts,
    tasks: &mut JoinSet<()>,
    stops: &Running,
) {
    while tasks.len() < slots as usize {
        let asked = Instant::now();
        let row = match claim(&store.db, claimer).await {
            Ok(Some(row)) => row,
            Ok(None) => return,
            Err(e) => {
                say(Warning::WorkerTrouble {
                    what: "claiming a task",
                    error: e,
                });
                return;
            }
        };
        // An answer that took as long as a cut-off (a stalled connection that came back)
        // may be for a claim others have since judged lost: start it only once confirmed.
        if asked.elapsed() + config.timing.heartbeat >= config.timing.outage
            && !still_held(store, config, &row).await
        {
            say(Warning::ClaimGone {
                id: row.id,
                task: row.task.clone(),
            });
            continue;
        }
        say(Warning::WorkerStarted {
            id: row.id,
            task: row.task.clone(),
            run_id: row.run_id.clone(),
        });
        match contexts.get(store, config, &row.run_id).await {
            Ok(ctx) => start(store, ctx, row, tasks, stops),
            // This worker cannot run it (a plan from a newer orch, a variable unset here):
            // the task fails saying why, rather than waiting for a worker that can.
            Err(e) => {
                let step = cannot_run(&row, &e.to_string());
                let specs = match context::saved_plan_of(store, &row.run_id).await {
                    Ok(plan) => plan.tasks,
                    Err(_) => Vec::new(),
                };
                record(store, None, &specs, &row, step).await;
            }
        }
    }
}

/// Confirms a late claim with a quick round trip; a slow confirmation proves nothing, so it
/// is asked again, a few times, before the claim is given up for lost.
async fn still_held(store: &Store, config: &Config, row: &agents_task::Model) -> bool {
    for _ in 0..5 {
        let asked = Instant::now();
        match crate::store::claim::confirm(&store.db, row).await {
            Ok(held) if asked.elapsed() + config.timing.heartbeat < config.timing.outage => {
                return held;
            }
            Ok(false) => return false,
            _ => tokio::time::sleep(config.timing.heartbeat).await,
        }
    }
    false
}

/// Runs claimed task `row` in a task of its own, and records how it ended.
fn start(
    store: &Store,
    ctx: Arc<RunContext>,
    row: agents_task::Model,
    tasks: &mut JoinSet<()>,
    stops: &Running,
) {
    let (tx, rx) = watch::channel(None);
    let mine = Arc::new(tx);
    if let Ok(mut map) = stops.lock() {
        map.insert(row.id, mine.clone());
    }
    let (store, stops) = (store.clone(), stops.clone());
    tasks.spawn(async move {
        let step = match ctx.tasks.get(&row.task) {
            Some(task) => attempt::run(&store, row.clone(), task, &ctx.log_dir, &ctx.redactor, rx)
                .await
                .unwrap_or_else(|e| cannot_run(&row, &e.to_string())),
            None => cannot_run(&row, "the task is not in the plan saved with its run"),
        };
        record(&store, Some(&ctx), &ctx.plan.tasks, &row, step).await;
        // Only this attempt's entry: once the end is recorded, `orch retry` may queue the
        // same row again and this worker claim it, and that attempt's entry must stay (its
        // heartbeat and its cancel go through it).
        if let Ok(mut map) = stops.lock()
            && map.get(&row.id).is_some_and(|t| Arc::ptr_eq(t, &mine))
        {
            map.remove(&row.id);
        }
    });
}

/// Records an end and tells the run's targets; a failure to record is said, not fatal (the
/// row is then left for recovery, which fails it as lost).
async fn record(
    store: &Store,
    ctx: Option<&RunContext>,
    specs: &[crate::plan::TaskSpec],
    row: &agents_task::Model,
    step: Transition,
) {
    let ended = match end::commit(store, specs, row, step).await {
        Ok(ended) => ended,
        Err(e) => {
            say(Warning::WorkerTrouble {
                what: "recording a task's end",
                error: e,
            });
            return;
        }
    };
    say(Warning::WorkerEnded {
        id: ended.row.id,
        task: ended.row.task.clone(),
        run_id: ended.row.run_id.clone(),
        status: ended.row.status,
    });
    let Some(ctx) = ctx else { return };
    let event = match ended.row.status {
        TaskStatus::AwaitingApproval => Some(Event::AwaitingApproval),
        TaskStatus::Failed => Some(Event::Failed),
        _ => None,
    };
    if let Some(event) = event {
        let notice = Notice {
            event,
            run_id: ended.row.run_id.clone(),
            task: Some(ended.row.clone()),
            digest: None,
            at: now(),
        };
        if let Err(e) = ctx.notifier.emit(&notice).await {
            say(Warning::Notify(e));
        }
    }
    if ended.advanced.done {
        let notice = run_finished(&ctx.run.run_id, &ended.advanced.rows, ctx.run.started_at);
        if let Err(e) = ctx.notifier.emit(&notice).await {
            say(Warning::Notify(e));
        }
    }
}

/// The end of a claimed task this worker could not run: `failed`, saying why.
fn cannot_run(row: &agents_task::Model, why: &str) -> Transition {
    let at = now();
    Transition::new(
        row.id,
        TaskStatus::Running,
        TaskStatus::Failed,
        TaskChange {
            finished_at: Some(at),
            duration_ms: Some(0),
            log_excerpt: Some(format!(
                "not run by worker {}: {why}",
                row.owner.as_deref().unwrap_or("?")
            )),
            exit_code: Some(None),
            ..Default::default()
        },
    )
}

/// What nobody else may be around to do: recover what dead orchs left, and judge again the
/// runs a decision or a recovery changed.
async fn sweep(store: &Store, config: &Config, contexts: &mut Contexts) {
    match recover(store, config).await {
        Ok(recovered) => recovered.detach(),
        Err(e) => {
            say(Warning::WorkerTrouble {
                what: "recovering lost tasks",
                error: e,
            });
            return;
        }
    }
    let runs = match ready::runs_to_judge(&store.db).await {
        Ok(runs) => runs,
        Err(e) => {
            say(Warning::WorkerTrouble {
                what: "finding runs to judge",
                error: e,
            });
            return;
        }
    };
    for run_id in runs {
        let specs = match contexts.get(store, config, &run_id).await {
            Ok(ctx) => ctx.plan.tasks.clone(),
            Err(_) => match context::saved_plan_of(store, &run_id).await {
                Ok(plan) => plan.tasks,
                Err(_) => continue,
            },
        };
        match crate::runner::advance::rejudge(store, &specs, &run_id).await {
            Ok(Some(advanced)) if advanced.done => {
                if let Ok(ctx) = contexts.get(store, config, &run_id).await {
                    let notice = run_finished(&run_id, &advanced.rows, ctx.run.started_at);
                    if let Err(e) = ctx.notifier.emit(&notice).await {
                        say(Warning::Notify(e));
                    }
                }
                contexts.forget(&run_id);
            }
            Ok(_) => {}
            Err(e) => say(Warning::WorkerTrouble {
                what: "judging a run",
                error: e,
            }),
        }
    }
}

/// Sends `stop` to every running task (the first stop each gets stands).
fn stop_all(stops: &Running, stop: Stop) -> usize {
    let Ok(map) = stops.lock() else { return 0 };
    for tx in map.values() {
        stop_once(tx, stop.clone());
    }
    map.len()
}

/// The heartbeat: the worker's row and running tasks stamped, cancels handed on, and its
/// tasks stopped when the database stayed out of reach for the outage bound.
async fn heartbeat(
    store: Store,
    owner: String,
    timing: Timing,
    stops: Running,
    cut_off: watch::Sender<bool>,
) {
    let mut tick = tokio::time::interval(timing.heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut outage = Outage::new(timing);
    loop {
        tick.tick().await;
        let held: Vec<i64> = stops
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        let beat = tokio::time::timeout(timing.heartbeat, workers::beat(&store.db, &owner, &held));
        let failed = match beat.await {
            Ok(Ok(cancels)) => {
                outage.beat_landed();
                cut_off.send_replace(false);
                if let Ok(map) = stops.lock() {
                    for (id, by) in cancels {
                        if let Some(tx) = map.get(&id) {
                            stop_once(tx, Stop::Cancelled { by });
                        }
                    }
                }
                continue;
            }
            Ok(Err(e)) => Warning::Heartbeat(e),
            Err(_) => Warning::HeartbeatTimedOut,
        };
        if let Some(waited) = outage.beat_failed(failed)
            && !*cut_off.borrow()
        {
            cut_off.send_replace(true);
            let stopped = stop_all(&stops, Stop::Signal(Signal::SIGTERM as i32));
            say(Warning::WorkerCutOff { waited, stopped });
        }
    }
}

/// The signals a worker has had: the first SIGTERM drains, a second one or SIGINT halts.
#[derive(Clone, Debug, Default)]
struct Signals {
    drain: bool,
    halt: Option<Signal>,
}

async fn watch_signals(tx: watch::Sender<Signals>) {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        let sig = tokio::select! {
            _ = int.recv() => Signal::SIGINT,
            _ = term.recv() => Signal::SIGTERM,
        };
        tx.send_modify(|s| {
            if sig == Signal::SIGTERM && !s.drain {
                s.drain = true;
            } else if s.halt.is_none() {
                s.halt = Some(sig);
            }
        });
    }
}
