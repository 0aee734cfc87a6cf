//! One task from `running` to its final status: its attempts (with retries and backoff),
//! each appended to the same log file under a header, and the row's last transition (which
//! the scheduling loop commits, together with the next task's start).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::process::{self, End, Launch, Outcome};
use super::stop::Stops;
use super::verdict::verdict;
use crate::error::Result;
use crate::plan::resolve::ResolvedTask;
use crate::secrets::Redactor;
use crate::store::transition::Transition;
use crate::store::transition::{Fence, TaskChange, update_fields_fenced};
use crate::store::votes::GatePolicy;
use crate::store::{Store, TaskStatus, agents_task, now};
use crate::warning::{Warning, say};

const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Runs a task whose row is `running`; returns the transition that records how it ended.
pub async fn run(
    store: &Store,
    row: agents_task::Model,
    task: &ResolvedTask,
    log_dir: &Path,
    redactor: &Arc<Redactor>,
    mut cancel: Stops,
) -> Result<Transition> {
    let clock = Instant::now();
    let mut launch = launch(task, log_dir, &row);
    let attempts = task.spec.retries.saturating_add(1);
    // A row run again by `orch retry` goes on counting where its last attempt ended (the
    // row's `attempt` was raised when it was queued again); its plan `retries` start afresh.
    let before = u32::try_from(row.attempt.max(1) - 1).unwrap_or(0);
    let mut attempt = 1;
    let last = loop {
        if attempts > 1 || before > 0 {
            header(&launch.log_path, before + attempt, before + attempts).await;
        }
        set_attempt(&mut launch, before + attempt);
        let tried = try_once(&launch, task, redactor, &mut cancel).await;
        let cancelled = matches!(tried.outcome.end, End::Cancelled(_));
        if tried.status != TaskStatus::Failed || cancelled || attempt >= attempts {
            break tried;
        }
        // A signal during the wait ends the task as the failed attempt left it.
        if stopped_during_backoff(task, attempt, &mut cancel).await {
            break tried;
        }
        attempt += 1;
        record_retry(store, &row, before + attempt, &tried.outcome).await?;
    };
    let mut step = final_step(row.id, task, before + attempt, last, clock, redactor);
    if step.to == TaskStatus::AwaitingApproval {
        step.change.approval_policy = gate_policy(store, task).await?;
    }
    // Recorded by the caller, in the same commit as whatever it starts next.
    Ok(step)
}

/// The policy a gate opens with, its groups resolved now: who may vote is fixed when the
/// gate opens, whatever memberships do later. `None` for a gate without a policy.
async fn gate_policy(store: &Store, task: &ResolvedTask) -> Result<Option<serde_json::Value>> {
    let Some(policy) = &task.spec.gate.policy else {
        return Ok(None);
    };
    let approvers: Vec<String> = policy.approvers.iter().map(|a| a.written()).collect();
    let voters = if approvers.is_empty() {
        None
    } else {
        Some(
            crate::store::users::resolve_approvers(&store.db, &approvers)
                .await?
                .voters,
        )
    };
    let snapshot = GatePolicy {
        approvers,
        voters,
        required: policy.required,
        forbid_self: policy.forbid_self,
        reject: policy.reject,
        links: policy.links.as_ref().map(|t| t.after.as_secs()),
    };
    Ok(Some(snapshot.to_json()))
}

/// One attempt, run and judged.
struct Attempt {
    outcome: Outcome,
    status: TaskStatus,
    reason: Option<String>,
    /// Redacted: it goes to the row and into notifications.
    outputs_uri: Option<String>,
}

/// Every attempt runs the same command and appends to the same log file. The task learns
/// where it is from `ORCH_RUN_ID`, `ORCH_TASK`, `ORCH_TASK_ID` and `ORCH_ATTEMPT` (set last,
/// so a plan's `env:` cannot make a task lie about them).
fn launch(task: &ResolvedTask, log_dir: &Path, row: &agents_task::Model) -> Launch {
    let mut env = task.env.clone();
    env.extend([
        ("ORCH_RUN_ID".to_owned(), row.run_id.clone()),
        ("ORCH_TASK".to_owned(), task.spec.name.clone()),
        ("ORCH_TASK_ID".to_owned(), row.id.to_string()),
        ("ORCH_ATTEMPT".to_owned(), row.attempt.max(1).to_string()),
    ]);
    Launch {
        argv: task.argv.clone(),
        env,
        cwd: task.cwd.clone(),
        log_path: process::log_path(log_dir, &row.run_id, &task.spec.name),
        outputs_pattern: task.spec.outputs_uri.clone(),
        timeout: task.spec.timeout.clone(),
        kill_grace: task.spec.kill_grace,
    }
}

/// The attempt number the next try runs as (the row's, counting the plan's `retries`).
fn set_attempt(launch: &mut Launch, attempt: u32) {
    if let Some(slot) = launch
        .env
        .iter_mut()
        .rev()
        .find(|(k, _)| k == "ORCH_ATTEMPT")
    {
        slot.1 = attempt.to_string();
    }
}

/// Runs the process once and decides the status it earned. A log that cannot be opened is a
/// start that failed, so it is judged (and retried) like one rather than ending the run.
async fn try_once(
    launch: &Launch,
    task: &ResolvedTask,
    redactor: &Arc<Redactor>,
    cancel: &mut Stops,
) -> Attempt {
    let outcome = match process::run(launch, redactor.clone(), cancel).await {
        Ok(o) => o,
        Err(e) => Outcome {
            end: End::NotStarted(format!(
                "cannot write log `{}`: {e}",
                launch.log_path.display()
            )),
            excerpt: Default::default(),
            outputs_uri: None,
            result_line: None,
            log_error: None,
        },
    };
    // A result line's URI is what the task meant to say; a URL found in the output is a guess.
    let outputs_uri = outcome
        .result_line
        .as_ref()
        .and_then(|r| r.outputs_uri.clone())
        .or(outcome.outputs_uri.clone())
        .map(|u| redactor.redact(&u));
    let (status, reason) = verdict(
        &outcome.end,
        outcome.result_line.as_ref(),
        task.spec.approval,
        outputs_uri.is_some(),
    );
    Attempt {
        outcome,
        status,
        reason,
        outputs_uri,
    }
}

/// Waits out the backoff before attempt `attempt + 1`; true when a signal came first.
async fn stopped_during_backoff(task: &ResolvedTask, attempt: u32, cancel: &mut Stops) -> bool {
    let wait = crate::backoff::jittered(task.spec.retry_backoff, attempt, MAX_BACKOFF);
    tokio::select! {
        _ = tokio::time::sleep(wait) => false,
        _ = cancel.wait_for(Option::is_some) => true,
    }
}

/// The row shows which attempt is under way, and the exit code of the one before it.
/// A worker's task (claimed, so its `claim` is above 0) is written only under its fence, like
/// its end: a worker judged lost meanwhile must not raise the attempt of a row another
/// worker now runs.
async fn record_retry(
    store: &Store,
    row: &agents_task::Model,
    attempt: u32,
    failed: &Outcome,
) -> Result<()> {
    let change = TaskChange {
        attempt: Some(attempt as i32),
        exit_code: Some(failed.end.exit_code()),
        ..Default::default()
    };
    let fence = Fence::of(row).filter(|f| f.claim > 0);
    store
        .outage
        .ride("records a retry", |_| {
            update_fields_fenced(&store.db, row.id, change.clone(), fence.as_ref())
        })
        .await?;
    Ok(())
}

/// The transition from `running` to the last attempt's status, with the excerpt, timings and
/// (for a gated task) the decision's deadline.
fn final_step(
    id: i64,
    task: &ResolvedTask,
    attempt: u32,
    last: Attempt,
    clock: Instant,
    redactor: &Redactor,
) -> Transition {
    // A log that could not be written (a full disk) is said where the user looks first, and
    // as it happens: the task's output from there on is only in its excerpt.
    if let Some(error) = &last.outcome.log_error {
        say(Warning::LogNotWritten {
            task: task.spec.name.clone(),
            error: error.clone(),
        });
    }
    let reason = match (last.reason, last.outcome.log_error.as_deref()) {
        (Some(r), Some(l)) => Some(format!("{r}; {l}")),
        (r, l) => r.or(l.map(str::to_owned)),
    };
    let excerpt = redactor.redact(&last.outcome.excerpt.render(reason.as_deref()));
    let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    let finished_at = now();
    // The clock for a decision starts when the task starts waiting for it.
    let approval_deadline = match (&task.spec.approval_timeout, last.status) {
        (Some(t), TaskStatus::AwaitingApproval) => chrono::Duration::from_std(t.after)
            .ok()
            .and_then(|d| finished_at.checked_add_signed(d)),
        _ => None,
    };
    Transition {
        id,
        from: TaskStatus::Running,
        to: last.status,
        change: TaskChange {
            finished_at: Some(finished_at),
            duration_ms: Some(duration_ms),
            outputs_uri: last.outputs_uri,
            log_excerpt: Some(excerpt),
            attempt: Some(attempt as i32),
            exit_code: Some(last.outcome.end.exit_code()),
            approval_deadline,
            ..Default::default()
        },
        fence: None,
    }
}

/// With retries, each attempt's output starts under a line saying which one it is. Best
/// effort: a header that cannot be written must not fail the task (the attempt reports the
/// log problem itself).
async fn header(log_path: &Path, attempt: u32, attempts: u32) {
    if let Some(dir) = log_path.parent() {
        let _ = tokio::fs::create_dir_all(dir).await;
    }
    if let Ok(mut f) = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .await
    {
        let line = format!(
            "=== attempt {attempt} of {attempts} at {} ===\n",
            crate::store::json::timestamp(&now())
        );
        let _ = f.write_all(line.as_bytes()).await;
    }
}
