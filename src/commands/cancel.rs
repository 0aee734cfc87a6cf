//! `orch cancel RUN_ID`: record the cancel once, then either leave the stopping to the
//! orch driving the run (it reads the request at its next heartbeat), or, when nobody
//! drives it, close what waits here: queued tasks skipped, gates rejected by the canceller.

use sea_orm::EntityTrait;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::notify::Notifier;
use crate::notify::notices::{decision_notice, run_finished};
use crate::runner::session::Session;
use crate::store::cancel::{Requested, close_waiting, reject_gate, request};
use crate::store::delivery::DeliveryFilter;
use crate::store::lease::LeaseKey;
use crate::store::mutation::finish_run;
use crate::store::query::run_tasks;
use crate::store::run_end::is_over;
use crate::store::{Store, TaskStatus, agents_run, agents_task, now};
use crate::ui::Output;
use crate::warning::{Warning, say};

pub async fn run(store: &Store, config: &Config, run_id: &str, out: Output) -> Result<i32> {
    // The canceller is who runs this command, as for `orch approve`.
    let by = config.user.trim().to_owned();
    if by.is_empty() {
        return Err(Error::EmptyDecider);
    }
    // What dead orchs left (lost tasks, stale leases) is recovered before the run is judged.
    let mut session = Session::begin(store, config).await?;
    let result = cancel(store, &mut session, run_id, &by).await;
    session.release().await;
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            session.end(config.notify.wait).await;
            return Err(e);
        }
    };
    let printed = out.print(&outcome.message(run_id, &by));
    // The targets saved with the run hear of the gates rejected and, when this command
    // ended the run, of its end.
    let notifier = Notifier::for_run(store, config, Some(run_id)).await?;
    for row in &outcome.rejected {
        if let Err(e) = notifier.emit(&decision_notice(row)).await {
            say(Warning::Notify(e));
        }
    }
    if let Some(notice) = &outcome.finished
        && let Err(e) = notifier.emit(notice).await
    {
        say(Warning::Notify(e));
    }
    let scope = DeliveryFilter {
        run_id: Some(run_id.to_owned()),
        ..Default::default()
    };
    let what = format!("run {run_id}");
    let wait = notifier.settings().wait;
    super::notify::settle(store, &notifier, scope, &what, wait).await;
    session.end(wait).await;
    printed?;
    Ok(0)
}

/// What the cancel did.
struct Outcome {
    /// Who drives the run and will stop it, when someone does.
    driver: Option<String>,
    skipped: usize,
    rejected: Vec<agents_task::Model>,
    /// The run's end, when this command ended it.
    finished: Option<crate::notify::Notice>,
}

impl Outcome {
    fn message(&self, run_id: &str, by: &str) -> String {
        let closed = format!(
            "{} queued task(s) skipped, {} gate(s) rejected",
            self.skipped,
            self.rejected.len()
        );
        match &self.driver {
            Some(owner) => format!(
                "run {run_id}: cancel recorded by {by}; {owner} drives it and stops its \
                 running tasks at its next heartbeat ({closed} so far); `orch wait {run_id}` \
                 waits for it"
            ),
            None => format!("run {run_id} cancelled by {by}: {closed}"),
        }
    }
}

async fn cancel(store: &Store, session: &mut Session, run_id: &str, by: &str) -> Result<Outcome> {
    let db = &store.db;
    let record = agents_run::Entity::find_by_id(run_id.to_owned())
        .one(db)
        .await
        .map_err(Error::db)?;
    let rows = run_tasks(db, run_id).await?;
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
    // A run that has ended is refused, unless a cancel was already asked for: a second
    // cancel says so rather than fail.
    if record.cancel_requested_at.is_none() && is_over(&rows) {
        return Err(Error::RunEnded {
            run_id: run_id.to_owned(),
        });
    }
    if let Requested::Already { by: first, at } = request(db, run_id, by, now()).await? {
        say(Warning::CancelAlreadyRequested {
            run_id: run_id.to_owned(),
            by: first,
            at,
        });
    }
    // The name the gates and skips carry: the first canceller's, as the driver reads it.
    let by = agents_run::Entity::find_by_id(run_id.to_owned())
        .one(db)
        .await
        .map_err(Error::db)?
        .and_then(|r| r.cancel_requested_by)
        .unwrap_or_else(|| by.to_owned());
    let key = LeaseKey::Run(run_id.to_owned());
    match session.lease(key, &record.plan_name, Some(run_id)).await {
        Ok(()) => {
            // Nobody drives the run: what waits is closed here, and the run ends.
            let closed = close_waiting(db, run_id, &by).await?;
            let rows = run_tasks(db, run_id).await?;
            let finished = if is_over(&rows) {
                finish_run(db, run_id, now()).await?;
                Some(run_finished(run_id, &rows, record.started_at))
            } else {
                None
            };
            Ok(Outcome {
                driver: None,
                skipped: closed
                    .iter()
                    .filter(|r| r.status == TaskStatus::Skipped)
                    .count(),
                rejected: closed
                    .into_iter()
                    .filter(|r| r.status == TaskStatus::Failed)
                    .collect(),
                finished,
            })
        }
        Err(Error::Leased { holder, .. }) => {
            // Its driver skips what is queued (it might be starting it now); the gates,
            // which hold no slot, are rejected here at once.
            let mut rejected = Vec::new();
            for row in rows
                .iter()
                .filter(|r| r.status == TaskStatus::AwaitingApproval)
            {
                rejected.extend(reject_gate(db, row.id, &by).await?);
            }
            Ok(Outcome {
                driver: Some(holder.owner),
                skipped: 0,
                rejected,
                finished: None,
            })
        }
        Err(e) => Err(e),
    }
}
