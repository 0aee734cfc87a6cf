//! `orch approve` and `orch reject`: one guarded decision on a task awaiting approval.

use crate::cli::DecideArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::notify::Notifier;
use crate::notify::notices::decision_notice;
use crate::notify::notifier::stale_deliveries;
use crate::runner::decision::{Ballot, vote};
use crate::store::approval_vote::Channel;
use crate::store::delivery::DeliveryFilter;
use crate::store::votes::{Cast, GatePolicy, Proof, Tally, cast};
use crate::store::{Store, agents_task, json};
use crate::ui::Output;
use crate::warning::{Warning, say};

pub async fn run(
    store: &Store,
    config: &Config,
    args: DecideArgs,
    approve: bool,
    out: Output,
) -> Result<i32> {
    // A name typed with `--by` is refused on a policy gate (by `cast`, under the gate's
    // lock): its votes are the operating-system user's own.
    let (by, proof) = match args.by {
        Some(name) => (name, Proof::Typed),
        None => (config.user.clone(), Proof::OsUser),
    };
    let by = by.trim().to_owned();
    if by.is_empty() {
        return Err(Error::EmptyDecider);
    }
    let ballot = Ballot {
        voter: by,
        proof,
        approve,
        note: args.note,
        channel: Channel::Cli,
        seen: args.subject.filter(|s| !s.trim().is_empty()),
    };
    // Past its deadline, the task is rejected first, and this vote is refused (exit 5).
    let expired = crate::runner::recovery::recover(store, config).await?;
    let cast = cast(&store.db, args.id, vote(config, ballot)).await;
    let row = match cast {
        Ok(Cast::Decided(row)) => row,
        Ok(Cast::Counted { row, policy, tally }) => {
            expired.drain(config.notify.wait).await;
            return counted(store, &row, &policy, &tally, args.json, out).await;
        }
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
        let votes = crate::store::votes::votes(&store.db, row.id).await?;
        out.json(&json::task_with_votes(&row, &votes))
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

/// A vote counted on a gate that still waits: says so, and what it still needs. Nothing to
/// notify or resume: the gate is as open as it was.
async fn counted(
    store: &Store,
    row: &agents_task::Model,
    policy: &GatePolicy,
    tally: &Tally,
    as_json: bool,
    out: Output,
) -> Result<i32> {
    if as_json {
        let votes = crate::store::votes::votes(&store.db, row.id).await?;
        out.json(&json::task_with_votes(row, &votes))?;
        return Ok(0);
    }
    let initiator = crate::store::votes::initiator(&store.db, &row.run_id).await?;
    out.print(&format!(
        "task {} `{}` (run {}): vote recorded, still awaiting approval: {}",
        row.id,
        row.task,
        row.run_id,
        crate::store::standing::standing(policy, tally, initiator.as_deref(), row.approval_state)
    ))?;
    Ok(0)
}
