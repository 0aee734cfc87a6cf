//! One task from `running` to its final status: its attempts (with retries and backoff),
//! each appended to the same log file under a header, and the row's last transition (which
//! the scheduling loop commits, together with the next task's start).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::process::{self, End, Launch, Outcome};
use super::verdict::verdict;
use crate::error::Result;
use crate::plan::resolve::ResolvedTask;
use crate::secrets::Redactor;
use crate::store::batch::Step;
use crate::store::transition::{TaskChange, update_fields};
use crate::store::{Store, TaskStatus, agents_task, now};

const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Runs a task whose row is `running`; returns the transition that records how it ended.
pub async fn run(
    store: &Store,
    row: agents_task::Model,
    task: &ResolvedTask,
    log_dir: &Path,
    redactor: &Arc<Redactor>,
    mut cancel: watch::Receiver<Option<i32>>,
) -> Result<Step> {
    let clock = Instant::now();
    let launch = Launch {
        argv: task.argv.clone(),
        env: task.env.clone(),
        cwd: task.cwd.clone(),
        log_path: process::log_path(log_dir, &row.run_id, &task.spec.name),
        outputs_pattern: task.spec.outputs_uri.clone(),
        timeout: task.spec.timeout.clone(),
        kill_grace: task.spec.kill_grace,
    };
    let attempts = task.spec.retries.saturating_add(1);
    let mut attempt = 1;
    let (outcome, status, reason, outputs_uri) = loop {
        if attempts > 1 {
            header(&launch.log_path, attempt, attempts).await;
        }
        let outcome = match process::run(&launch, redactor.clone(), &mut cancel).await {
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
        let cancelled = matches!(outcome.end, End::Cancelled(_));
        if status != TaskStatus::Failed || cancelled || attempt >= attempts {
            break (outcome, status, reason, outputs_uri);
        }
        // Wait, then another attempt (the row shows which one is under way). A signal during
        // the wait ends the task as the failed attempt left it.
        let wait = crate::backoff::jittered(task.spec.retry_backoff, attempt, MAX_BACKOFF);
        let stopped = tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            _ = cancel.wait_for(Option::is_some) => true,
        };
        if stopped {
            break (outcome, status, reason, outputs_uri);
        }
        attempt += 1;
        let change = TaskChange {
            attempt: Some(attempt as i32),
            exit_code: Some(outcome.end.exit_code()),
            ..Default::default()
        };
        store
            .outage
            .ride("records a retry", |_| {
                update_fields(&store.db, row.id, change.clone())
            })
            .await?;
    };
    // A log that could not be written is said where the user looks first.
    let reason = match (reason, outcome.log_error.as_deref()) {
        (Some(r), Some(l)) => Some(format!("{r}; {l}")),
        (r, l) => r.or(l.map(str::to_owned)),
    };
    let excerpt = redactor.redact(&outcome.excerpt.render(reason.as_deref()));
    let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    let finished_at = now();
    // The clock for a decision starts when the task starts waiting for it.
    let approval_deadline = match (&task.spec.approval_timeout, status) {
        (Some(t), TaskStatus::AwaitingApproval) => chrono::Duration::from_std(t.after)
            .ok()
            .and_then(|d| finished_at.checked_add_signed(d)),
        _ => None,
    };
    // Recorded by the caller, in the same commit as whatever it starts next.
    Ok(Step {
        id: row.id,
        from: TaskStatus::Running,
        to: status,
        change: TaskChange {
            finished_at: Some(finished_at),
            duration_ms: Some(duration_ms),
            outputs_uri,
            log_excerpt: Some(excerpt),
            attempt: Some(attempt as i32),
            exit_code: Some(outcome.end.exit_code()),
            approval_deadline,
            ..Default::default()
        },
    })
}

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
