//! Executing a plan: claim a run id, then for each task insert its row, run its process,
//! and record how it ended through the guarded transition. The runner never touches the
//! terminal: it reports progress through [`progress::Reporter`].
//!
//! Tasks run one after another in plan order today; the loop over `Resolved::tasks` is the
//! single place a scheduler (dependencies, concurrency, retries) will replace.

pub mod capture;
pub mod excerpt;
pub mod outputs;
pub mod process;
pub mod progress;
pub mod run_id;
pub mod verdict;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::error::Result;
use crate::plan::Plan;
use crate::plan::resolve::{Resolved, ResolvedTask};
use crate::plan::secrets::Redactor;
use crate::store::mutation::{NewRun, NewTask, finish_run, insert_task};
use crate::store::transition::{TaskChange, transition};
use crate::store::{Store, TaskStatus, agents_run, agents_task, now};
use process::{End, Launch};
use progress::Reporter;

/// Everything a run needs besides the database.
pub struct RunRequest<'a> {
    pub plan: &'a Plan,
    pub resolved: Resolved,
    pub run_id: Option<String>,
    pub log_dir: PathBuf,
    /// `manual`, or `ci` when the `CI` variable is set.
    pub trigger: String,
}

#[derive(Debug)]
pub struct RunReport {
    pub run: agents_run::Model,
    pub rows: Vec<agents_task::Model>,
    /// The signal that stopped the run early, if one did.
    pub cancelled: Option<i32>,
}

impl RunReport {
    pub fn count(&self, status: TaskStatus) -> usize {
        self.rows.iter().filter(|r| r.status == status).count()
    }
}

pub async fn execute(
    store: &Store,
    req: RunRequest<'_>,
    reporter: &dyn Reporter,
    mut cancel: watch::Receiver<Option<i32>>,
) -> Result<RunReport> {
    let plan = req.plan;
    // Stored absolute, so `orch logs` finds the files from any directory (a shared database
    // is read from elsewhere).
    let log_dir = std::path::absolute(&req.log_dir).unwrap_or_else(|_| req.log_dir.clone());
    let record = NewRun {
        run_id: String::new(),
        plan_name: plan.name.clone(),
        // The plan may hold secrets inline; the hash is of the file as written.
        plan_text: req.resolved.redactor.redact(&plan.source.text),
        plan_sha256: plan.source.sha256.clone(),
        git_commit: git_commit(),
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        orch_version: env!("CARGO_PKG_VERSION").to_owned(),
        trigger: req.trigger.clone(),
        started_at: now(),
        log_dir: Some(log_dir.display().to_string()),
    };
    let run = run_id::claim(&store.db, plan, req.run_id.as_deref(), record).await?;
    reporter.run_started(&run.run_id, req.resolved.tasks.len());

    let redactor = Arc::new(req.resolved.redactor);
    let mut rows = Vec::new();
    let mut cancelled = None;
    for task in &req.resolved.tasks {
        if let Some(sig) = *cancel.borrow() {
            cancelled = Some(sig);
            break;
        }
        let row = run_task(
            store,
            &run,
            task,
            &req.log_dir,
            &redactor,
            reporter,
            &mut cancel,
        )
        .await?;
        rows.push(row);
    }
    if cancelled.is_none() {
        cancelled = *cancel.borrow();
    }
    finish_run(&store.db, &run.run_id, now()).await?;
    Ok(RunReport {
        run,
        rows,
        cancelled,
    })
}

async fn run_task(
    store: &Store,
    run: &agents_run::Model,
    task: &ResolvedTask,
    log_dir: &std::path::Path,
    redactor: &Arc<Redactor>,
    reporter: &dyn Reporter,
    cancel: &mut watch::Receiver<Option<i32>>,
) -> Result<agents_task::Model> {
    let started_at = now();
    let clock = Instant::now();
    let mut new = NewTask::new(&task.spec.name, &run.run_id, TaskStatus::Running);
    new.started_at = Some(started_at);
    new.inputs = task.spec.inputs.as_ref().map(|v| redactor.redact_json(v));
    let row = insert_task(&store.db, new).await?;
    reporter.task_started(&row);

    let launch = Launch {
        argv: task.argv.clone(),
        env: task.env.clone(),
        cwd: task.cwd.clone(),
        log_path: process::log_path(log_dir, &run.run_id, &task.spec.name),
        outputs_pattern: task.spec.outputs_uri.clone(),
    };
    let outcome = match process::run(&launch, redactor.clone(), cancel).await {
        Ok(o) => o,
        Err(e) => process::Outcome {
            end: End::NotStarted(format!(
                "cannot write log `{}`: {e}",
                launch.log_path.display()
            )),
            excerpt: Default::default(),
            outputs_uri: None,
            result_line: None,
        },
    };
    let outputs_uri = outcome
        .result_line
        .as_ref()
        .and_then(|r| r.outputs_uri.clone())
        .or(outcome.outputs_uri.clone())
        .map(|u| redactor.redact(&u));
    let (status, reason) = verdict::verdict(
        &outcome.end,
        outcome.result_line.as_ref(),
        task.spec.approval,
        outputs_uri.is_some(),
    );
    let excerpt = redactor.redact(&outcome.excerpt.render(reason.as_deref()));
    let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    let row = transition(
        &store.db,
        row.id,
        TaskStatus::Running,
        status,
        TaskChange {
            finished_at: Some(now()),
            duration_ms: Some(duration_ms),
            outputs_uri,
            log_excerpt: Some(excerpt),
            ..Default::default()
        },
    )
    .await?;
    reporter.task_finished(&row);
    Ok(row)
}

/// The commit checked out where orch runs, when it runs in a git repository.
fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}
