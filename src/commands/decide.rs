//! `orch approve` and `orch reject`: one guarded decision on a task awaiting approval.

use crate::cli::DecideArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::notify::Notifier;
use crate::notify::notices::decision_notice;
use crate::notify::notifier::{note_redactor, stale_deliveries};
use crate::store::delivery::DeliveryFilter;
use crate::store::transition::{Decision, decide};
use crate::store::{Store, json};
use crate::ui::Output;
use crate::warning::{Warning, say};

pub async fn run(
    store: &Store,
    config: &Config,
    args: DecideArgs,
    approve: bool,
    out: Output,
) -> Result<i32> {
    let by = match args.by {
        Some(name) => name,
        None => config.user.clone(),
    };
    let by = by.trim().to_owned();
    if by.is_empty() {
        return Err(Error::EmptyDecider);
    }
    let note = args
        .note
        .filter(|n| !n.trim().is_empty())
        .map(|n| note_redactor(config).redact(&n));
    // Past its deadline, the task is rejected first, and this decision is refused (exit 5).
    let expired = crate::runner::recovery::recover(store, config).await?;
    let decided = decide(
        &store.db,
        args.id,
        Decision {
            approve,
            by,
            note,
            at: crate::store::now(),
        },
    )
    .await;
    let row = match decided {
        Ok(row) => row,
        Err(e) => {
            expired.drain(config.notify.wait).await;
            return Err(e);
        }
    };
    // The targets saved with the task's run hear of the decision (no plan file needed), and
    // what earlier commands could not deliver goes out again alongside.
    let notifier = Notifier::for_run(store, config, Some(&row.run_id)).await?;
    if let Err(e) = notifier.emit(&decision_notice(&row)).await {
        say(Warning::Notify(e));
    }
    if let Err(e) = notifier.resend(stale_deliveries()).await {
        say(Warning::Notify(e));
    }
    let printed = if args.json && args.resume {
        // One JSON document on stdout: the resumed run's summary, which holds this row.
        Ok(())
    } else if args.json {
        out.json(&json::task(&row))
    } else {
        let verb = if approve { "approved" } else { "rejected" };
        out.print(&format!(
            "task {} `{}` (run {}) {verb} by {}: now {}",
            row.id,
            row.task,
            row.run_id,
            row.approver.as_deref().unwrap_or("-"),
            row.status
        ))
    };
    // Even when stdout is gone: deliveries cut off mid-request would be sent twice later.
    let scope = DeliveryFilter {
        task_id: Some(row.id),
        ..Default::default()
    };
    let what = format!("task {}", row.id);
    let wait = notifier.settings().wait;
    tokio::join!(
        super::notify::settle(store, &notifier, scope, &what, wait),
        expired.drain(wait)
    );
    printed?;
    if args.resume {
        return match super::resume::run(store, config, &row.run_id, None, args.json, out).await {
            // The decision stands; the orch driving the run reads decisions before it ends.
            Err(Error::Leased { holder, .. }) => Err(Error::DecidedWhileDriven {
                run_id: row.run_id.clone(),
                owner: holder.owner,
            }),
            other => other,
        };
    }
    Ok(0)
}
