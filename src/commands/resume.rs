//! `orch resume RUN_ID`: go on with a recorded run from the plan text saved with it (never
//! the current file), after decisions were taken on its gates. `orch retry` drives the run
//! the same way, once it has queued its tasks again under the run's lease.

use super::run::conclude;
use crate::config::Config;
use crate::error::Result;
use crate::plan::Plan;
use crate::runner::control::recorded;
use crate::runner::session::Session;
use crate::runner::{ResumeRequest, RunReport, resume};
use crate::store::lease::LeaseKey;
use crate::store::query::run_tasks;
use crate::store::requeue::requeue;
use crate::store::{Store, TaskStatus, agents_task};
use crate::ui::Output;
use crate::ui::progress::reporter;
use crate::warning::{Warning, say};
use crate::worker::context::{resolve_saved, saved_plan};

pub async fn run(
    store: &Store,
    config: &Config,
    run_id: &str,
    concurrency: Option<u32>,
    json: bool,
    out: Output,
) -> Result<i32> {
    drive(store, config, run_id, concurrency, json, out, None).await
}

/// What `orch retry` asks of the drive: these tasks (all failed or cancelled ones when
/// empty) run again, in `by`'s name.
pub struct Retry {
    pub tasks: Vec<String>,
    pub by: String,
}

/// Resumes the run; with `retry`, first queues the tasks to retry, under the run's lease
/// (so a run another orch drives is refused before anything changes).
pub(super) async fn drive(
    store: &Store,
    config: &Config,
    run_id: &str,
    concurrency: Option<u32>,
    json: bool,
    out: Output,
    retry: Option<Retry>,
) -> Result<i32> {
    // A gate past its deadline is rejected before the run's rows are read.
    let mut session = Session::begin(store, config).await?;
    let (record, rows) = recorded(store, run_id).await?;
    // Errors in the saved text (it was valid when the run started, but a newer orch may read
    // it differently) point at the run rather than at a file.
    let plan = saved_plan(&record)?;
    if let Some(queue) = &record.queue {
        // Workers drive it: nothing is driven here.
        session.end(config.notify.wait).await;
        return for_workers(store, config, &plan, &record, queue, retry, out).await;
    }
    let (resolved, notifier) = resolve_saved(store, config, &plan, &rows).await?;
    session.resend_stale(&notifier).await;
    // One driver per run: a second resume (or the original run, still going) is refused.
    let key = LeaseKey::Run(run_id.to_owned());
    session
        .lease_before_beat(key, &record.plan_name, Some(run_id))
        .await?;
    // Read again under the lease: what we read before may have moved on meanwhile.
    let rows = match reread(store, &plan, run_id, retry).await {
        Ok(rows) => {
            // From here on the drive hears of a cancel at each beat.
            session.beat();
            rows
        }
        Err(e) => {
            // The lease and its heartbeat go with the error, not a minute later.
            session.end(config.notify.wait).await;
            return Err(e);
        }
    };
    let report = if rows.iter().any(|r| r.status == TaskStatus::Queued) {
        let request = ResumeRequest {
            run: record,
            resolved,
            rows,
            concurrency: concurrency.unwrap_or(plan.concurrency),
            notifier: notifier.clone(),
        };
        let report = resume(store, &session, request, &*reporter(out)).await;
        session.release().await;
        report?
    } else {
        // Nothing can start: the run stays as it is (no new `finished_at`, no second
        // `run_finished` notification), and the exit code says how it stands.
        say(Warning::NothingToResume {
            run_id: run_id.to_owned(),
        });
        session.release().await;
        RunReport {
            run: record,
            rows,
            cancelled: None,
        }
    };
    let code = conclude(store, config, &notifier, &report, out, json).await;
    // After the summary: it shows what orch saw, the error says where it did not land.
    let recorded = session.check_database();
    session.end(config.notify.wait).await;
    recorded?;
    code
}

/// `orch resume` or `orch retry` of a run workers drive: a retry queues its tasks again for
/// them (and marks what may start ready), a resume judges it again; neither runs anything.
async fn for_workers(
    store: &Store,
    config: &Config,
    plan: &Plan,
    record: &crate::store::agents_run::Model,
    queue: &str,
    retry: Option<Retry>,
    out: Output,
) -> Result<i32> {
    let run_id = &record.run_id;
    let Some(retry) = retry else {
        crate::runner::advance::rejudge(store, &plan.tasks, run_id).await?;
        out.print(&format!(
            "run {run_id} is driven by the workers on queue `{queue}`: nothing to resume here; \
             `orch wait {run_id}` waits for it"
        ))?;
        return Ok(0);
    };
    let stale = config.timing.stale_after;
    let queued =
        crate::runner::control::requeue_run(store, run_id, &retry.tasks, &retry.by, stale).await?;
    out.print(&format!(
        "run {run_id}: {} task(s) queued again for the workers on queue `{queue}`; `orch wait \
         {run_id}` waits for it",
        queued.len()
    ))?;
    Ok(0)
}

/// The run's rows under its lease; with `retry`, after the tasks to retry are queued again.
async fn reread(
    store: &Store,
    plan: &Plan,
    run_id: &str,
    retry: Option<Retry>,
) -> Result<Vec<agents_task::Model>> {
    let rows = run_tasks(&store.db, run_id).await?;
    let Some(retry) = retry else {
        return Ok(rows);
    };
    let chosen = crate::runner::retry::select(&plan.tasks, &rows, &retry.tasks)?;
    requeue(&store.db, run_id, &chosen, &retry.by, crate::store::now()).await?;
    run_tasks(&store.db, run_id).await
}
