//! Approvals past their `approval_timeout`: rejected by orch at the start of `run`,
//! `resume`, `approve` and `reject` (and the API's decisions), each decision notified to the
//! targets of its run like a person's.

use std::time::Duration;

use crate::error::Result;
use crate::notify::Notifier;
use crate::notify::notifier::decision_notice;
use crate::store::transition::expire_approvals;
use crate::store::{Store, now};

/// The notifications under way about what a sweep rejected.
pub(crate) struct Expired {
    notifiers: Vec<Notifier>,
}

/// Rejects the overdue approvals, says so on stderr, and starts their notifications.
pub(crate) async fn overdue(store: &Store) -> Result<Expired> {
    let rows = expire_approvals(&store.db, now()).await?;
    let mut notifiers = Vec::new();
    for row in &rows {
        eprintln!(
            "orch: task {} `{}` (run {}) got no decision within its `approval_timeout`: rejected",
            row.id, row.task, row.run_id
        );
        let notifier = Notifier::for_run(store, Some(&row.run_id)).await?;
        if let Err(e) = notifier.emit(&decision_notice(row)).await {
            eprintln!("warning: notify: {e}");
        }
        notifiers.push(notifier);
    }
    Ok(Expired { notifiers })
}

impl Expired {
    /// Waits (boundedly) for the notifications about the rejections.
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
