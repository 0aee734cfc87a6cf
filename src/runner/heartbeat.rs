//! The heartbeat of a process driving a run: every few seconds it renews its leases and
//! stamps its running tasks with the database's clock, so others can tell it is alive.
//!
//! It also keeps the promise that an orch riding out an outage gives up before anyone may
//! take its run over: when no beat has reached the database for the outage bound (shorter
//! than the staleness after which another orch may judge this one gone), it says so on
//! [`Gone`], and the drive stops its tasks and ends (exit 3). The bound counts from the last
//! beat that succeeded, not from the first write that failed: a task that runs for minutes
//! while the database is away writes nothing, yet its lease lapses all the same.
//!
//! Each beat also reads whether someone asked to cancel a run this process leases (`orch
//! cancel`): the drive learns of it within one heartbeat interval, without a poll of its own.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::stop::{Stop, StopSender, stop_once};
use crate::config::Timing;
use crate::store::Store;
use crate::store::lease;
use crate::warning::{Warning, say};

/// Set, once, to how long the database has gone without a beat, when that passed the bound.
pub type Gone = watch::Sender<Option<Duration>>;

/// The outage rule both heartbeats keep (a drive's here, a worker's in `worker`): a failed
/// beat is said once per outage, and the bound is reached one beat early rather than one
/// late (the next beat would come after it, and the tasks still need their `kill_grace`).
pub struct Outage {
    timing: Timing,
    last_ok: Instant,
    warned: bool,
}

impl Outage {
    pub fn new(timing: Timing) -> Self {
        Outage {
            timing,
            last_ok: Instant::now(),
            warned: false,
        }
    }

    /// A beat reached the database.
    pub fn beat_landed(&mut self) {
        (self.last_ok, self.warned) = (Instant::now(), false);
    }

    /// A beat failed (`why`): said if it is the first of this outage; how long the database
    /// has gone without a beat once that reached the bound.
    pub fn beat_failed(&mut self, why: Warning) -> Option<Duration> {
        if !self.warned {
            say(why);
            self.warned = true;
        }
        let waited = self.last_ok.elapsed();
        (waited + self.timing.heartbeat >= self.timing.outage).then_some(waited)
    }
}

pub struct Heartbeat {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Heartbeat {
    pub fn start(
        store: &Store,
        owner: &str,
        timing: Timing,
        gone: Gone,
        stop_tx: StopSender,
    ) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let (store, owner) = (store.clone(), owner.to_owned());
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(timing.heartbeat);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut outage = Outage::new(timing);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                // Bounded: a hung connection must not silence the heartbeat for good.
                let beat = tokio::time::timeout(timing.heartbeat, lease::beat(&store.db, &owner));
                let failed = match beat.await {
                    Ok(Ok(cancel)) => {
                        outage.beat_landed();
                        if let Some(by) = cancel {
                            stop_once(&stop_tx, Stop::Cancelled { by });
                        }
                        continue;
                    }
                    Ok(Err(e)) => Warning::Heartbeat(e),
                    Err(_) => Warning::HeartbeatTimedOut,
                };
                if let Some(waited) = outage.beat_failed(failed) {
                    gone.send_replace(Some(waited));
                    break;
                }
            }
        });
        Heartbeat { stop, handle }
    }

    /// Stops beating (the leases are released by the caller).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

/// Waits until the heartbeat has given up; never returns while it beats.
pub async fn until_gone(gone: &mut watch::Receiver<Option<Duration>>) -> Duration {
    match gone.wait_for(Option::is_some).await {
        Ok(waited) => waited.unwrap_or_default(),
        // The session that owns the sender has ended: nothing more will come.
        Err(_) => std::future::pending().await,
    }
}
