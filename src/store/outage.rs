//! Riding out a database outage in the middle of a drive (a PostgreSQL restart, a network
//! blip): the drive's writes are retried with backoff until the database is back, within a
//! bound, so the run goes on and its rows end up right. Outside a run, a command simply
//! fails with exit 3: nobody is waiting on it.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::warning::{Warning, say};

/// How long a drive waits for its database before giving up (exit 3): the outage bound of
/// [`crate::config::Timing`], carried by the [`crate::store::Store`] so every write of a
/// drive rides out the same outage the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    pub bound: Duration,
}

impl Default for Outage {
    fn default() -> Self {
        Outage {
            bound: crate::config::Timing::default().outage,
        }
    }
}

impl Outage {
    /// Runs `op` until it succeeds, fails for good, or the database has been unreachable
    /// for the bound. `op` is told whether this is a retry, so that a write whose first try
    /// may have committed before the connection dropped can check first.
    pub async fn ride<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T>
    where
        F: FnMut(bool) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let bound = self.bound;
        let start = Instant::now();
        let mut retries = 0u32;
        loop {
            match op(retries > 0).await {
                Err(e) if e.is_transient() => {
                    let waited = start.elapsed();
                    if waited >= bound {
                        return Err(Error::DatabaseGone {
                            waited,
                            detail: e.to_string(),
                        });
                    }
                    if retries == 0 {
                        say(Warning::DatabaseUnreachable {
                            what: what.to_owned(),
                            error: e,
                            bound,
                        });
                    }
                    retries += 1;
                    let wait = crate::backoff::jittered(
                        Duration::from_millis(200),
                        retries,
                        Duration::from_secs(5),
                    );
                    tokio::time::sleep(wait.min(bound.saturating_sub(waited))).await;
                }
                Ok(v) => {
                    if retries > 0 {
                        say(Warning::DatabaseBack);
                    }
                    return Ok(v);
                }
                Err(e) => return Err(e),
            }
        }
    }
}
