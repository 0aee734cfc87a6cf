//! A person's decision taken by a server (the API or a page form): gates past their
//! deadline are rejected first, the note's secrets masked, the guarded decision made, and
//! the run's notification targets told in the background. `orch approve` does the same
//! steps itself, because it also waits for its deliveries and may resume the run.

use std::sync::Arc;

use crate::config::Config;
use crate::error::Result;
use crate::store::transition::{Decision, decide};
use crate::store::{Store, agents_task};

/// Decides task `id` in the name of `by` (already proved by the caller's credential).
pub async fn decide_as(
    store: &Store,
    config: &Arc<Config>,
    id: i64,
    by: String,
    note: Option<String>,
    approve: bool,
) -> Result<agents_task::Model> {
    // A gate past its deadline is rejected first (and this decision refused).
    match super::recovery::recover(store, config).await {
        Ok(expired) => expired.detach(),
        Err(e) => tracing::warn!("approval timeouts: {e}"),
    }
    let note = note
        .filter(|n| !n.trim().is_empty())
        .map(|n| crate::notify::notifier::note_redactor(config).redact(&n));
    let row = decide(
        &store.db,
        id,
        Decision {
            approve,
            by,
            note,
            at: crate::store::now(),
        },
    )
    .await?;
    // In a task of its own: the answer waits for none of it, and a client that hangs up
    // cannot cut a delivery off halfway.
    tokio::spawn(notify_decision(store.clone(), config.clone(), row.clone()));
    Ok(row)
}

/// Tells the targets saved with the task's run about the decision. A problem is logged,
/// never returned (the decision stands; undelivered rows are retried by later commands).
async fn notify_decision(store: Store, config: Arc<Config>, row: agents_task::Model) {
    let notice = crate::notify::notices::decision_notice(&row);
    match crate::notify::Notifier::for_run(&store, &config, Some(&row.run_id)).await {
        Ok(notifier) => {
            if let Err(e) = notifier.emit(&notice).await {
                tracing::warn!("notify: {e}");
            }
            notifier.detach();
        }
        Err(e) => tracing::warn!("notify: {e}"),
    }
}
