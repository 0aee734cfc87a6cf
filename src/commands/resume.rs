//! `orch resume RUN_ID`: go on with a recorded run from the plan text saved with it (never
//! the current file), after decisions were taken on its gates.

use std::path::PathBuf;

use sea_orm::EntityTrait;

use super::run::{conclude, extra_secrets};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::notify::Notifier;
use crate::notify::notifier::saved_targets;
use crate::notify::target::effective;
use crate::plan::resolve::resolve;
use crate::runner::session::Session;
use crate::runner::{ResumeRequest, RunReport, resume};
use crate::store::lease::LeaseKey;
use crate::store::query::run_tasks;
use crate::store::{Store, TaskStatus, agents_run};
use crate::ui::Output;
use crate::ui::progress::reporter;
use crate::warning::{Warning, say};

pub async fn run(
    store: &Store,
    config: &Config,
    run_id: &str,
    concurrency: Option<u32>,
    json: bool,
    out: Output,
) -> Result<i32> {
    // A gate past its deadline is rejected before the run's rows are read.
    let mut session = Session::begin(store, config).await?;
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
    let env = &config.env;
    let saved = saved_targets(store, run_id).await?;
    let (targets, warnings) = effective(&saved, env);
    warnings.into_iter().for_each(say);
    let only: Vec<String> = rows.iter().map(|r| r.task.clone()).collect();
    let extra = extra_secrets(&store.target, &targets, env);
    let resolved = resolve(&plan, env, &only, &extra)?;
    let notifier = Notifier::new(
        store.clone(),
        targets,
        env.clone(),
        resolved.redactor.clone(),
        config.notify,
    );
    session.resend_stale(&notifier).await;
    // One driver per run: a second resume (or the original run, still going) is refused.
    session
        .lease(
            LeaseKey::Run(run_id.to_owned()),
            &record.plan_name,
            Some(run_id),
        )
        .await?;
    // Read again under the lease: what we read before may have moved on meanwhile.
    let rows = run_tasks(&store.db, run_id).await?;
    if !rows.iter().any(|r| r.status == TaskStatus::Queued) {
        // Nothing can start: the run stays as it is (no new `finished_at`, no second
        // `run_finished` notification), and the exit code says how it stands.
        say(Warning::NothingToResume {
            run_id: run_id.to_owned(),
        });
        session.release().await;
        let report = RunReport {
            run: record,
            rows,
            cancelled: None,
        };
        let code = conclude(store, config, &notifier, &report, out, json).await;
        session.end(config.notify.wait).await;
        return code;
    }
    let request = ResumeRequest {
        run: record,
        resolved,
        rows,
        concurrency: concurrency.unwrap_or(plan.concurrency),
        notifier: notifier.clone(),
    };
    let report = resume(store, &session, request, &*reporter(out)).await;
    session.release().await;
    let report = report?;
    let code = conclude(store, config, &notifier, &report, out, json).await;
    session.end(config.notify.wait).await;
    code
}
