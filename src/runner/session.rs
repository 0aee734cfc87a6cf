//! One drive, from start to end: who drives (the owner id on leases and running rows), the
//! leases it holds, the heartbeat that keeps them, the signals that cancel it, and the
//! recovery every drive does first. `orch run` and `orch resume` use it the same way; a
//! worker driving tasks claimed from a shared queue is meant to be its third user.
//!
//! The order is fixed here, not in each command: signals are caught before anything else
//! (a SIGTERM while leases are being taken still ends cleanly), what dead orchs left is
//! recovered, leases are taken (the heartbeat starts with the first), and at the end the
//! heartbeat stops before the leases go.
//!
//! A drive stops early for a signal or for a cancel someone asked for; both arrive on one
//! channel ([`Stop`]): signals from here, cancels from the heartbeat, which reads them in the
//! transaction that renews the leases.

use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use super::heartbeat::{Gone, Heartbeat};
use super::recovery::{Recovery, recover};
use super::stop::{Stop, StopSender, Stops, stop_once};
use crate::config::{Config, DatabaseTarget, Timing};
use crate::error::{Error, Result};
use crate::notify::Notifier;
use crate::notify::notifier::stale_deliveries;
use crate::store::Store;
use crate::store::lease::{self, Lease, LeaseGuard, LeaseKey, owner_id};
use crate::warning::{Warning, say};

/// Why the drive stops, once it should: a signal (`SIGINT` = 2, `SIGTERM` = 15) or a cancel.
pub type Cancel = Stops;

pub struct Session {
    store: Store,
    /// The SQLite file as it was when the drive began (device and inode), to notice one
    /// deleted or replaced under it: writes then go to a file nobody will open again.
    sqlite_file: Option<(u64, u64)>,
    owner: String,
    timing: Timing,
    cancel: Cancel,
    stop: StopSender,
    heartbeat: Option<Heartbeat>,
    /// Set by the heartbeat when the database went without a beat past the outage bound.
    gone: Gone,
    leases: Vec<LeaseGuard>,
    recovery: Recovery,
}

impl Session {
    /// Catches SIGINT and SIGTERM from here on, and recovers what orchs that died left
    /// behind (lost tasks, stale leases, overdue approvals) before this drive reads any row.
    pub async fn begin(store: &Store, config: &Config) -> Result<Session> {
        let (tx, cancel) = watch::channel(None);
        let tx = Arc::new(tx);
        tokio::spawn(forward_signals(tx.clone()));
        let recovery = recover(store, config).await?;
        Ok(Session {
            sqlite_file: sqlite_identity(&store.target),
            store: store.clone(),
            owner: owner_id(),
            timing: config.timing,
            cancel,
            stop: tx,
            heartbeat: None,
            gone: watch::channel(None).0,
            leases: Vec::new(),
            recovery,
        })
    }

    /// This process, as lease rows and running tasks name it: `host:pid:random`.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// Tells the drive its database went without a heartbeat past the outage bound: it
    /// stops its tasks and ends, before another orch may take its run over.
    pub fn gone(&self) -> watch::Receiver<Option<Duration>> {
        self.gone.subscribe()
    }

    /// Tells the drive a signal or a cancel came; it stops its tasks and ends.
    pub fn cancel(&self) -> Cancel {
        self.cancel.clone()
    }

    /// Takes a lease for this drive, or fails with `Error::Leased` naming who holds it.
    /// The heartbeat that renews it starts with the first lease.
    pub async fn lease(
        &mut self,
        key: LeaseKey,
        plan_name: &str,
        run_id: Option<&str>,
    ) -> Result<()> {
        self.lease_before_beat(key, plan_name, run_id).await?;
        self.beat();
        Ok(())
    }

    /// Takes a lease as [`Session::lease`] does, without starting the heartbeat: for what
    /// must happen under the lease before the drive may hear of a cancel (a retry clears the
    /// run's cancel request first). The caller starts it with [`Session::beat`] soon after.
    pub async fn lease_before_beat(
        &mut self,
        key: LeaseKey,
        plan_name: &str,
        run_id: Option<&str>,
    ) -> Result<()> {
        let guard = lease::acquire(
            &self.store.db,
            &Lease {
                key,
                plan_name,
                run_id,
                owner: &self.owner,
                stale_after: self.timing.stale_after,
            },
        )
        .await?;
        self.leases.push(guard);
        Ok(())
    }

    /// Records on the plan's lease which run it is driving, once the run has its id.
    pub async fn name_run(&self, run_id: &str) -> Result<()> {
        for guard in self
            .leases
            .iter()
            .filter(|g| matches!(g.key, LeaseKey::Plan(_)))
        {
            lease::set_run_id(&self.store.db, &guard.key, &self.owner, run_id).await?;
        }
        Ok(())
    }

    /// Starts the heartbeat if it is not beating yet: it renews this drive's leases and
    /// stamps its running tasks, leased or not (`--allow-overlap` takes no plan lease).
    pub fn beat(&mut self) {
        if self.heartbeat.is_none() {
            self.heartbeat = Some(Heartbeat::start(
                &self.store,
                &self.owner,
                self.timing,
                self.gone.clone(),
                self.stop.clone(),
            ));
        }
    }

    /// What earlier commands could not deliver goes out again alongside this drive.
    pub async fn resend_stale(&self, notifier: &Notifier) {
        if let Err(e) = notifier.resend(stale_deliveries()).await {
            say(Warning::Notify(e));
        }
    }

    /// Done driving, whatever happened: the heartbeat stops, then every lease goes (after
    /// a crash they would lapse). Safe to call twice.
    pub async fn release(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.stop().await;
        }
        if self.leases.is_empty() {
            return;
        }
        self.leases.clear();
        if let Err(e) = lease::release(&self.store.db, &self.owner).await {
            say(Warning::LeaseRelease(e));
        }
    }

    /// Fails when the SQLite file this drive began on was deleted or replaced meanwhile:
    /// what it recorded since went to a file no later command opens (the next one would
    /// start an empty history without a word).
    pub fn check_database(&self) -> Result<()> {
        let Some(began) = self.sqlite_file else {
            return Ok(());
        };
        if sqlite_identity(&self.store.target) == Some(began) {
            return Ok(());
        }
        let DatabaseTarget::Sqlite { path } = &self.store.target else {
            return Ok(());
        };
        Err(Error::DatabaseFileReplaced {
            path: path.display().to_string(),
        })
    }

    /// Releases what is still held and waits (at most `wait`) for the notifications about
    /// what recovery changed.
    pub async fn end(mut self, wait: Duration) {
        self.release().await;
        self.recovery.drain(wait).await;
    }
}

/// The device and inode of a SQLite file, when the target is one and it exists.
fn sqlite_identity(target: &DatabaseTarget) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let DatabaseTarget::Sqlite { path } = target else {
        return None;
    };
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// SIGINT and SIGTERM are passed to the running task's process group; the drive then stops.
async fn forward_signals(tx: StopSender) {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let sig = tokio::select! {
        _ = int.recv() => Signal::SIGINT,
        _ = term.recv() => Signal::SIGTERM,
    };
    stop_once(&tx, Stop::Signal(sig as i32));
}
