//! `orch cancel RUN_ID`: the cancel recorded once, in the name of the user orch runs as; then
//! either the orch driving the run stops it at its next heartbeat, or, when nobody drives it,
//! what waits is closed here (`runner::control::cancel`). The targets saved with the run
//! hear of the gates rejected and of the run's end.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::notify::Notifier;
use crate::notify::notices::decision_notice;
use crate::runner::control::{Cancelled, cancel};
use crate::runner::recovery::recover;
use crate::store::Store;
use crate::store::cancel::Requested;
use crate::store::delivery::DeliveryFilter;
use crate::ui::Output;
use crate::warning::{Warning, say};

pub async fn run(store: &Store, config: &Config, run_id: &str, out: Output) -> Result<i32> {
    // The canceller is who runs this command, as for `orch approve`.
    let by = config.user.trim().to_owned();
    if by.is_empty() {
        return Err(Error::EmptyDecider);
    }
    // What dead orchs left (lost tasks, stale leases, overdue gates) is recovered first, so
    // a run whose orch died is closed here rather than waited for.
    let recovered = recover(store, config).await?;
    let cancelled = match cancel(store, run_id, &by, config.timing.stale_after).await {
        Ok(c) => c,
        Err(e) => {
            recovered.drain(config.notify.wait).await;
            return Err(e);
        }
    };
    if let Some(Requested::Already { by, at }) = &cancelled.already {
        say(Warning::CancelAlreadyRequested {
            run_id: run_id.to_owned(),
            by: by.clone(),
            at: *at,
        });
    }
    let printed = out.print(&message(run_id, &cancelled));
    let notifier = Notifier::for_run(store, config, Some(run_id)).await?;
    for row in &cancelled.rejected {
        if let Err(e) = notifier.emit(&decision_notice(row)).await {
            say(Warning::Notify(e));
        }
    }
    if let Some(notice) = &cancelled.finished
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
    tokio::join!(
        super::notify::settle(store, &notifier, scope, &what, wait),
        recovered.drain(wait)
    );
    printed?;
    Ok(0)
}

fn message(run_id: &str, c: &Cancelled) -> String {
    let closed = format!(
        "{} queued task(s) skipped, {} gate(s) rejected",
        c.skipped,
        c.rejected.len()
    );
    match &c.driver {
        Some(owner) => format!(
            "run {run_id}: cancel recorded by {}; {owner} drives it and stops its running \
             tasks at its next heartbeat ({closed} so far); `orch wait {run_id}` waits for it",
            c.by
        ),
        None => format!("run {run_id} cancelled by {}: {closed}", c.by),
    }
}
