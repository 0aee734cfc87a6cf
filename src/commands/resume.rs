//! `orch resume RUN_ID`: go on with a recorded run from the plan text saved with it (never
//! the current file), after decisions were taken on its gates.

use std::collections::HashMap;
use std::path::PathBuf;

use sea_orm::EntityTrait;
use tokio::sync::watch;

use super::run::{conclude, extra_secrets, forward_signals};
use crate::error::{Error, LeaseHint, Result};
use crate::notify::notifier::{saved_targets, stale_pending};
use crate::notify::target::effective;
use crate::notify::{Notifier, Settings};
use crate::plan::resolve::resolve;
use crate::runner::heartbeat::Heartbeat;
use crate::runner::{ResumeRequest, RunReport, resume};
use crate::store::lease::{self, Timing, owner_id};
use crate::store::query::run_tasks;
use crate::store::{Store, TaskStatus, agents_run};
use crate::ui::Output;
use crate::ui::progress::{Plain, Spinners};

pub async fn run(
    store: &Store,
    run_id: &str,
    concurrency: Option<u32>,
    json: bool,
    out: Output,
) -> Result<i32> {
    let (cancel_tx, cancel_rx) = watch::channel(None);
    tokio::spawn(forward_signals(cancel_tx));
    // A gate past its deadline is rejected before the run's rows are read.
    let expired = super::housekeeping::sweep(store).await?;
    let rows = run_tasks(&store.db, run_id).await?;
    let record = agents_run::Entity::find_by_id(run_id.to_owned())
        .one(&store.db)
        .await
        .map_err(Error::db)?;
    let Some(record) = record else {
        return Err(if rows.is_empty() {
            Error::UnknownRun {
                run_id: run_id.to_owned(),
            }
        } else {
            Error::NotResumable {
                run_id: run_id.to_owned(),
            }
        });
    };
    // Errors in the saved text (it was valid when the run started, but a newer orch may read
    // it differently) point at the run rather than at a file.
    let origin = PathBuf::from(format!("(plan saved with run {run_id})"));
    let plan = crate::plan::parse(&origin, record.plan_text.clone())?;
    let env: HashMap<String, String> = std::env::vars().collect();
    let saved = saved_targets(store, run_id).await?;
    let (targets, warnings) = effective(&saved, &env);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let only: Vec<String> = rows.iter().map(|r| r.task.clone()).collect();
    let extra = extra_secrets(&store.target, &targets, &env);
    let resolved = resolve(&plan, &env, &only, &extra)?;
    let notifier = Notifier::new(
        store.clone(),
        targets,
        env,
        resolved.redactor.clone(),
        Settings::from_env(),
    );
    if let Err(e) = notifier.sweep(stale_pending()).await {
        eprintln!("warning: notify: {e}");
    }
    // One driver per run: a second resume (or the original run, still going) is refused.
    let (owner, timing) = (owner_id(), Timing::from_env());
    let key = lease::run_key(run_id);
    if let Err(holder) = lease::acquire(
        &store.db,
        &key,
        &record.plan_name,
        Some(run_id),
        &owner,
        timing.stale_after,
    )
    .await?
    {
        return Err(Error::Leased {
            what: format!("run `{run_id}`"),
            holder,
            hint: LeaseHint::Wait,
        });
    }
    // Read again under the lease: what we read before may have moved on meanwhile.
    let rows = run_tasks(&store.db, run_id).await?;
    if !rows.iter().any(|r| r.status == TaskStatus::Queued) {
        // Nothing can start: the run stays as it is (no new `finished_at`, no second
        // `run_finished` notification), and the exit code says how it stands.
        eprintln!("resume: run {run_id} has no queued task: nothing to do");
        if let Err(e) = lease::release(&store.db, &owner).await {
            eprintln!("warning: {e}");
        }
        let report = RunReport {
            run: record,
            rows,
            cancelled: None,
        };
        let code = conclude(store, &notifier, &report, out, json).await;
        expired.drain(notifier.settings().wait).await;
        return code;
    }
    let heartbeat = Heartbeat::start(store, &owner, timing);
    let request = ResumeRequest {
        run: record,
        resolved,
        rows,
        concurrency: concurrency.unwrap_or(plan.concurrency),
        notifier: notifier.clone(),
        owner: owner.clone(),
    };
    let report = if out.tty {
        resume(store, request, &Spinners::new(), cancel_rx).await
    } else {
        resume(store, request, &Plain, cancel_rx).await
    };
    heartbeat.stop().await;
    if let Err(e) = lease::release(&store.db, &owner).await {
        eprintln!("warning: {e}");
    }
    let report = report?;
    let code = conclude(store, &notifier, &report, out, json).await;
    expired.drain(notifier.settings().wait).await;
    code
}
