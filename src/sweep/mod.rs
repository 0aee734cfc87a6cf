//! The approvals sweeper: one pass rejects the gates past their `approval_timeout` (the same
//! guarded path every command's recovery takes) and sends the reminders and escalations that
//! are due. `orch serve` runs passes in the background ([`run_loop`]); `orch approvals sweep`
//! runs one, for installs that only have cron.
//!
//! One pass runs at a time across every process sharing the database: a pass takes the
//! `sweeper` lease (`agents_run_locks`, as a run's driver does) and gives it up at its end; a
//! process killed mid-pass leaves it to lapse with its heartbeat. The lease only saves work:
//! what makes each reminder sent once is the unique row of `approval_reminders`, and what
//! makes a decision taken once is the guarded update of the decision itself.

mod reminders;

use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Holder, Result};
use crate::notify::Notifier;
use crate::notify::notifier::stale_deliveries;
use crate::store::lease::{self, Lease, LeaseKey};
use crate::store::{Store, agents_task};
use crate::warning::{Warning, say};

pub use reminders::Sent;

/// What one pass did.
pub struct Swept {
    /// `Some` when another process holds the sweeper's lease: this pass did nothing.
    pub busy: Option<Holder>,
    /// Gates rejected for their `approval_timeout`.
    pub rejected: Vec<agents_task::Model>,
    pub sent: Vec<Sent>,
    notifiers: Vec<Notifier>,
}

impl Swept {
    /// Waits (boundedly) for the notifications this pass started.
    pub async fn drain(&self, wait: Duration) {
        for n in &self.notifiers {
            n.drain(wait).await;
        }
    }

    /// Lets them finish on their own (`orch serve`, which goes on).
    pub fn detach(&self) {
        for n in &self.notifiers {
            n.detach();
        }
    }
}

/// One pass as `owner` (a process's [`lease::owner_id`]), unless another process is in one.
pub async fn pass(store: &Store, config: &Config, owner: &str) -> Result<Swept> {
    let wanted = Lease {
        key: LeaseKey::Sweeper,
        plan_name: "",
        run_id: None,
        owner,
        stale_after: config.timing.stale_after,
    };
    let guard = match lease::acquire(&store.db, &wanted).await {
        Ok(guard) => guard,
        Err(Error::Leased { holder, .. }) => {
            return Ok(Swept {
                busy: Some(holder),
                rejected: Vec::new(),
                sent: Vec::new(),
                notifiers: Vec::new(),
            });
        }
        Err(e) => return Err(e),
    };
    let swept = sweep(store, config).await;
    let released = lease::release_key(&store.db, &guard.key, owner).await;
    let swept = swept?;
    released?;
    Ok(swept)
}

/// The pass itself, under the lease: timeouts first (a gate rejected now gets no reminder),
/// then reminders, then deliveries that earlier processes left unsent.
async fn sweep(store: &Store, config: &Config) -> Result<Swept> {
    let expired = crate::runner::recovery::reject_overdue(store, config).await?;
    let mut notifiers = expired.notifiers;
    let (sent, more) = reminders::send_due(store, config).await?;
    notifiers.extend(more);
    let resender = Notifier::for_run(store, config, None).await?;
    resender.resend(stale_deliveries()).await?;
    notifiers.push(resender);
    Ok(Swept {
        busy: None,
        rejected: expired.rows,
        sent,
        notifiers,
    })
}

/// Passes every `every` until the process ends; a failed pass is logged and the next one
/// tries again, so the sweeper never stops the server it runs in.
pub async fn run_loop(store: Store, config: std::sync::Arc<Config>, every: Duration) {
    let owner = lease::owner_id();
    loop {
        match pass(&store, &config, &owner).await {
            Ok(swept) => {
                // `orch approvals sweep` prints these; the server logs them.
                for s in &swept.sent {
                    say(Warning::Reminded {
                        id: s.task_id,
                        task: s.task.clone(),
                        run_id: s.run_id.clone(),
                        what: s.kind.noun(),
                        age: s.after.clone(),
                        targets: s.targets.clone(),
                    });
                }
                swept.detach();
            }
            Err(e) => say(Warning::SweepFailed(e)),
        }
        tokio::time::sleep(every).await;
    }
}
