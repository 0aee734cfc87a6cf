//! What every command that drives or decides does first: tasks whose orch died are marked
//! `failed` (`orchestrator lost`) and their leases dropped, and approvals past their
//! `approval_timeout` are rejected by orch. Each is said (a [`Warning`] note) and notified to the
//! targets of its run like any failure or decision.

use std::time::Duration;

use crate::config::Config;
use crate::error::Result;
use crate::notify::notices::decision_notice;
use crate::notify::{Event, Notice, Notifier};
use crate::store::lease::drop_stale;
use crate::store::requeue::requeue_lost;
use crate::store::transition::{expire_approvals, reap_lost};
use crate::store::{Store, agents_task, now};
use crate::warning::{Warning, say};

/// The notifications under way about what recovery changed.
pub struct Recovery {
    notifiers: Vec<Notifier>,
}

/// Marks lost tasks failed, drops stale leases, rejects overdue approvals: what every
/// command that drives, decides or lists runs does first.
pub async fn recover(store: &Store, config: &Config) -> Result<Recovery> {
    let timing = config.timing;
    let mut notifiers = Vec::new();
    for row in reap_lost(&store.db, timing.stale_after).await? {
        say(Warning::TaskLost {
            id: row.id,
            task: row.task.clone(),
            run_id: row.run_id.clone(),
        });
        let notice = Notice {
            event: Event::Failed,
            run_id: row.run_id.clone(),
            task: Some(row.clone()),
            digest: None,
            at: now(),
        };
        notifiers.push(notify(store, config, &row, &notice).await?);
    }
    for row in requeue_lost(&store.db, timing.stale_after).await? {
        retried_after_loss(store, &row).await?;
    }
    drop_stale(&store.db, timing.stale_after).await?;
    let expired = reject_overdue(store, config).await?;
    notifiers.extend(expired.notifiers);
    Ok(Recovery { notifiers })
}

/// A lost task whose plan says `on_lost: retry`, queued again as a new attempt (the lost one
/// stays in its history): said, and marked ready for the next worker.
async fn retried_after_loss(store: &Store, row: &agents_task::Model) -> Result<()> {
    say(Warning::TaskRetriedAfterLoss {
        id: row.id,
        task: row.task.clone(),
        run_id: row.run_id.clone(),
    });
    super::advance::rejudge_saved(store, &row.run_id).await?;
    Ok(())
}

/// Rejects the approvals past their `approval_timeout`, says so and notifies each: the part
/// of recovery the approvals sweeper runs on its own, on time.
pub async fn reject_overdue(store: &Store, config: &Config) -> Result<Expired> {
    let mut expired = Expired::default();
    for row in expire_approvals(&store.db, now()).await? {
        say(Warning::ApprovalExpired {
            id: row.id,
            task: row.task.clone(),
            run_id: row.run_id.clone(),
        });
        let notifier = notify(store, config, &row, &decision_notice(&row)).await?;
        expired.notifiers.push(notifier);
        expired.rows.push(row);
    }
    Ok(expired)
}

/// The gates [`reject_overdue`] rejected, and the notifications about them under way.
#[derive(Default)]
pub struct Expired {
    pub rows: Vec<agents_task::Model>,
    pub notifiers: Vec<Notifier>,
}

async fn notify(
    store: &Store,
    config: &Config,
    row: &agents_task::Model,
    notice: &Notice,
) -> Result<Notifier> {
    let notifier = Notifier::for_run(store, config, Some(&row.run_id)).await?;
    if let Err(e) = notifier.emit(notice).await {
        say(Warning::Notify(e));
    }
    Ok(notifier)
}

impl Recovery {
    /// Waits (boundedly) for the notifications about it.
    pub async fn drain(&self, wait: Duration) {
        for n in &self.notifiers {
            n.drain(wait).await;
        }
    }

    /// For the API, which outlives the request: let them finish on their own.
    pub fn detach(&self) {
        for n in &self.notifiers {
            n.detach();
        }
    }
}
