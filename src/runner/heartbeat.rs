//! The heartbeat of a process driving a run: every few seconds it renews its leases and
//! stamps its running tasks with the database's clock, so others can tell it is alive.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Timing;
use crate::store::Store;
use crate::store::lease;
use crate::warning::{Warning, say};

pub struct Heartbeat {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Heartbeat {
    pub fn start(store: &Store, owner: &str, timing: Timing) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let (store, owner) = (store.clone(), owner.to_owned());
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(timing.heartbeat);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut warned = false;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                // Bounded: a hung connection must not silence the heartbeat for good.
                let beat = tokio::time::timeout(timing.heartbeat, lease::beat(&store.db, &owner));
                match beat.await {
                    Ok(Ok(())) => warned = false,
                    // Said once per outage: the run goes on, and the next beat may succeed.
                    Ok(Err(e)) if !warned => {
                        say(Warning::Heartbeat(e));
                        warned = true;
                    }
                    Err(_) if !warned => {
                        say(Warning::HeartbeatTimedOut);
                        warned = true;
                    }
                    _ => {}
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
