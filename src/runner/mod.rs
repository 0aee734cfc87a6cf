//! Executing a plan: claim a run id, insert every task as `queued`, then start each task
//! when its dependencies allow (at most `concurrency` at once), skip those whose dependencies
//! failed, and record how each ended through the guarded transition. Without `depends_on`
//! and with the default concurrency of 1, tasks run one after another in plan order. The
//! runner never touches the terminal: it reports progress through [`progress::Reporter`].

pub mod advance;
pub mod attempt;
pub mod capture;
pub mod control;
pub mod decision;
pub mod excerpt;
mod frontier;
pub mod heartbeat;
mod log_file;
mod moves;
pub mod outputs;
pub mod process;
pub mod progress;
pub mod readiness;
pub mod recovery;
pub mod retry;
pub mod run_id;
mod scheduler;
pub mod session;
pub mod stop;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Result;
use crate::notify::notices::run_finished;
use crate::notify::{Event, Notice, Notifier};
use crate::plan::Plan;
use crate::plan::resolve::{Resolved, ResolvedTask};
use crate::secrets::Redactor;
use crate::store::batch;
use crate::store::lease::LeaseKey;
use crate::store::mutation::{NewRun, NewTask, finish_run, insert_queued};
use crate::store::query::run_tasks;
use crate::store::transition::{TaskChange, Transition};
use crate::store::{Store, TaskStatus, agents_run, agents_task, now};
use crate::warning::Warning;
use progress::Reporter;
use scheduler::RunState;
use session::Session;

/// Everything a run needs besides the database.
pub struct RunRequest<'a> {
    pub plan: &'a Plan,
    pub resolved: Resolved,
    pub run_id: Option<String>,
    pub log_dir: PathBuf,
    /// `manual`, or `ci` when the `CI` variable is set.
    pub trigger: String,
    /// Who started the run (`Config::initiator`).
    pub initiator: String,
    /// At most this many tasks at once.
    pub concurrency: u32,
    /// Tells the run's notification targets about failures, gates and the end.
    pub notifier: Notifier,
}

#[derive(Debug)]
pub struct RunReport {
    pub run: agents_run::Model,
    pub rows: Vec<agents_task::Model>,
    /// The signal or cancel that stopped the run early, if one did.
    pub cancelled: Option<stop::Stop>,
}

impl RunReport {
    pub fn count(&self, status: TaskStatus) -> usize {
        self.rows.iter().filter(|r| r.status == status).count()
    }
}

/// Records the run and its tasks, takes the run's lease for `session`, and drives it.
pub async fn execute(
    store: &Store,
    session: &mut Session,
    req: RunRequest<'_>,
    reporter: &dyn Reporter,
) -> Result<RunReport> {
    let plan = req.plan;
    // Stored absolute, so `orch logs` finds the files from any directory (a shared database
    // is read from elsewhere).
    let log_dir = std::path::absolute(&req.log_dir).unwrap_or_else(|_| req.log_dir.clone());
    let record = run_record(&req, &log_dir);
    let run = run_id::claim(&store.db, plan, req.run_id.as_deref(), record).await?;
    // The run is ours to drive: `orch resume` of it is refused until we are done.
    let key = LeaseKey::Run(run.run_id.clone());
    session.lease(key, &plan.name, Some(&run.run_id)).await?;
    session.name_run(&run.run_id).await?;
    reporter.run_started(&run.run_id, req.resolved.tasks.len());
    let redactor = Arc::new(req.resolved.redactor);
    let tasks = &req.resolved.tasks;
    let rows = record_queued(store, &run.run_id, tasks, &redactor).await?;
    let state = RunState {
        tasks,
        rows,
        log_dir,
        redactor,
        concurrency: req.concurrency,
        notifier: &req.notifier,
        owner: session.owner(),
        gone: session.gone(),
    };
    run_and_finish(store, run, state, reporter, session.cancel()).await
}

/// Records the run and its tasks for workers on `queue` (`orch run --enqueue`): nothing
/// runs here. The tasks that may start at once are marked ready in the transaction that
/// judges the new run, as every later change of it is judged.
pub async fn enqueue(store: &Store, req: RunRequest<'_>, queue: &str) -> Result<agents_run::Model> {
    let plan = req.plan;
    let log_dir = std::path::absolute(&req.log_dir).unwrap_or_else(|_| req.log_dir.clone());
    let mut record = run_record(&req, &log_dir);
    record.queue = Some(queue.to_owned());
    record.concurrency = Some(i32::try_from(req.concurrency.max(1)).unwrap_or(i32::MAX));
    let run = run_id::claim(&store.db, plan, req.run_id.as_deref(), record).await?;
    record_queued(
        store,
        &run.run_id,
        &req.resolved.tasks,
        &req.resolved.redactor,
    )
    .await?;
    let txn = crate::store::begin_read_committed(&store.db).await?;
    crate::store::ready::lock_run(&txn, &run.run_id).await?;
    // The run's places, when its concurrency is fewer than its tasks; otherwise it binds
    // nothing and claims need no slot.
    let tasks = u32::try_from(req.resolved.tasks.len()).unwrap_or(u32::MAX);
    if req.concurrency.max(1) < tasks {
        crate::store::ready::add_slots(&txn, &run.run_id, req.concurrency.max(1)).await?;
    }
    advance::judge(&txn, &plan.tasks, &run.run_id).await?;
    txn.commit().await.map_err(crate::error::Error::db)?;
    if tasks >= 100 {
        crate::store::ready::refresh_statistics(&store.db).await;
    }
    Ok(run)
}

/// The run's record: where it came from (plan text with secrets masked, its hash, commit,
/// host, version, trigger) and where its logs and notifications go.
fn run_record(req: &RunRequest<'_>, log_dir: &Path) -> NewRun {
    let plan = req.plan;
    NewRun {
        run_id: String::new(),
        plan_name: plan.name.clone(),
        // The plan may hold secrets inline; the hash is of the file as written.
        plan_text: req.resolved.redactor.redact(&plan.source.text),
        plan_sha256: plan.source.sha256.clone(),
        git_commit: git_commit(),
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        orch_version: env!("CARGO_PKG_VERSION").to_owned(),
        trigger: req.trigger.clone(),
        initiator: Some(req.initiator.clone()),
        started_at: now(),
        log_dir: Some(log_dir.display().to_string()),
        // Saved so that decisions and retries later reach the same targets.
        notify: (!req.notifier.targets().is_empty())
            .then(|| serde_json::to_string(req.notifier.targets()).unwrap_or_default()),
        queue: None,
        concurrency: None,
    }
}

/// Every task is in the table from the start, so the whole plan shows at once: one
/// transaction of multi-row inserts, all or nothing, then the rows read back index for index
/// with `tasks` (names are unique in a run), whatever order ids took.
async fn record_queued(
    store: &Store,
    run_id: &str,
    tasks: &[ResolvedTask],
    redactor: &Redactor,
) -> Result<Vec<agents_task::Model>> {
    let new: Vec<NewTask> = tasks
        .iter()
        .map(|task| {
            let mut new = NewTask::new(&task.spec.name, run_id, TaskStatus::Queued);
            new.inputs = task.spec.inputs.as_ref().map(|v| redactor.redact_json(v));
            new.runs_on = labels_json(&task.spec.runs_on);
            new.on_lost =
                (task.spec.on_lost == crate::plan::OnLost::Retry).then(|| "retry".to_owned());
            new
        })
        .collect();
    let rows = store
        .outage
        .ride("records the run's tasks", |retry| {
            let new = new.clone();
            async move {
                // A retry may follow a commit whose answer was lost.
                if retry {
                    let rows = run_tasks(&store.db, run_id).await?;
                    if rows.len() == new.len() {
                        return Ok(rows);
                    }
                }
                insert_queued(&store.db, new).await?;
                run_tasks(&store.db, run_id).await
            }
        })
        .await?;
    let mut by_name: std::collections::HashMap<String, agents_task::Model> =
        rows.into_iter().map(|r| (r.task.clone(), r)).collect();
    Ok(tasks
        .iter()
        .filter_map(|t| by_name.remove(&t.spec.name))
        .collect())
}

/// `runs_on` as the claim matches it: a JSON object, or nothing when the task may run on any
/// worker.
fn labels_json(labels: &[(String, String)]) -> Option<String> {
    if labels.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    Some(serde_json::Value::Object(map).to_string())
}

/// Everything `orch resume` needs: the run as recorded, its plan resolved again from the
/// saved text, and its rows.
pub struct ResumeRequest {
    pub run: agents_run::Model,
    /// Resolved for exactly the tasks that have rows in this run.
    pub resolved: Resolved,
    pub rows: Vec<agents_task::Model>,
    pub concurrency: u32,
    pub notifier: Notifier,
}

/// Goes on with a recorded run: what became runnable runs (after an approval), what can no
/// longer run is skipped (after a rejection), and tasks that ended stay as they are.
/// `session` holds the run's lease already (the caller read the rows under it).
pub async fn resume(
    store: &Store,
    session: &Session,
    req: ResumeRequest,
    reporter: &dyn Reporter,
) -> Result<RunReport> {
    let run = req.run;
    // The rows in plan order, matched by task name.
    let mut by_name: std::collections::HashMap<String, agents_task::Model> =
        req.rows.into_iter().map(|r| (r.task.clone(), r)).collect();
    let mut tasks = Vec::new();
    let mut rows = Vec::new();
    for task in req.resolved.tasks {
        if let Some(row) = by_name.remove(&task.spec.name) {
            rows.push(row);
            tasks.push(task);
        }
    }
    let log_dir = process::recorded_log_dir(run.log_dir.as_deref());
    reporter.run_started(&run.run_id, tasks.len());
    let state = RunState {
        tasks: &tasks,
        rows,
        log_dir,
        redactor: Arc::new(req.resolved.redactor),
        concurrency: req.concurrency,
        notifier: &req.notifier,
        owner: session.owner(),
        gone: session.gone(),
    };
    run_and_finish(store, run, state, reporter, session.cancel()).await
}

/// Drives the run until nothing more can start, then ends it: its `finished_at`, and the
/// `run_finished` notification.
async fn run_and_finish(
    store: &Store,
    run: agents_run::Model,
    state: RunState<'_>,
    reporter: &dyn Reporter,
    cancel: stop::Stops,
) -> Result<RunReport> {
    let notifier = state.notifier;
    let (rows, cancelled) = scheduler::run_to_the_end(store, state, reporter, cancel).await?;
    let (rows, cancelled) = match cancelled {
        Some(stop) => (rows, Some(stop)),
        None => cancelled_at_the_end(store, &run.run_id, rows).await?,
    };
    finish(store, &run, &rows, notifier, reporter).await?;
    Ok(RunReport {
        run,
        rows,
        cancelled,
    })
}

/// A cancel asked for after the drive's last heartbeat (its loop ended with nothing left to
/// start): what still waits is closed here, so the cancel never depends on that timing.
async fn cancelled_at_the_end(
    store: &Store,
    run_id: &str,
    rows: Vec<agents_task::Model>,
) -> Result<(Vec<agents_task::Model>, Option<stop::Stop>)> {
    use sea_orm::EntityTrait;
    let record = agents_run::Entity::find_by_id(run_id.to_owned())
        .one(&store.db)
        .await
        .map_err(crate::error::Error::db)?;
    let Some(by) = record.and_then(|r| r.cancel_requested_at.and(r.cancel_requested_by)) else {
        return Ok((rows, None));
    };
    crate::store::cancel::close_waiting(&store.db, run_id, &by).await?;
    Ok((
        run_tasks(&store.db, run_id).await?,
        Some(stop::Stop::Cancelled { by }),
    ))
}

/// The run ends: its `finished_at`, and the `run_finished` notification.
async fn finish(
    store: &Store,
    run: &agents_run::Model,
    rows: &[agents_task::Model],
    notifier: &Notifier,
    reporter: &dyn Reporter,
) -> Result<()> {
    let at = now();
    store
        .outage
        .ride("finishes the run", |_| {
            finish_run(&store.db, &run.run_id, at)
        })
        .await?;
    let notice = run_finished(&run.run_id, rows, run.started_at);
    if let Err(e) = notifier.emit(&notice).await {
        reporter.warn(Warning::Notify(e));
    }
    Ok(())
}

/// Tells the targets about a task that failed or now waits for a decision. A notification
/// never fails the run: a problem recording it is a warning.
async fn notify_finished(notifier: &Notifier, row: &agents_task::Model, reporter: &dyn Reporter) {
    let event = match row.status {
        TaskStatus::AwaitingApproval => Event::AwaitingApproval,
        TaskStatus::Failed => Event::Failed,
        _ => return,
    };
    let notice = Notice {
        event,
        run_id: row.run_id.clone(),
        task: Some(row.clone()),
        digest: None,
        at: now(),
    };
    if let Err(e) = notifier.emit(&notice).await {
        reporter.warn(Warning::Notify(e));
    }
}

/// A queued task that will not run: `skipped`, with the reason as its excerpt.
async fn finish_unstarted(
    store: &Store,
    row: &agents_task::Model,
    reason: String,
) -> Result<agents_task::Model> {
    let change = TaskChange {
        log_excerpt: Some(reason),
        ..Default::default()
    };
    let skip = Transition::new(row.id, TaskStatus::Queued, TaskStatus::Skipped, change);
    batch::commit_one(store, &skip).await
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
