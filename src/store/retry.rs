//! Riding out a database outage in the middle of a run (a PostgreSQL restart, a network
//! blip): the runner's writes are retried with backoff until the database is back, within a
//! bound, so the run goes on and its rows end up right. Outside a run, a command simply
//! fails with exit 3: nobody is waiting on it.

use std::future::Future;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbErr, RuntimeErr};

use crate::error::{Error, Result};
use crate::store::agents_task;
use crate::store::status::TaskStatus;
use crate::store::transition::TaskChange;

/// How long a run waits for its database before giving up (exit 3). It is shorter than the
/// staleness bound of heartbeats (60 s), so an orch riding out an outage gives up before any
/// other orch may judge it dead and take its run over. `ORCH_DB_OUTAGE_MS` changes it (the
/// tests lower it).
pub fn outage_bound() -> Duration {
    std::env::var("ORCH_DB_OUTAGE_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(DEFAULT_OUTAGE_BOUND, Duration::from_millis)
}

pub const DEFAULT_OUTAGE_BOUND: Duration = Duration::from_secs(45);

/// Whether an error means the connection was lost or refused, rather than a wrong query.
pub fn is_transient(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => match r {
            RuntimeErr::SqlxError(e) => match e.as_ref() {
                Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::Protocol(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed => true,
                // PostgreSQL: class 08 (connection exception), and the server shutting down
                // or starting up (57P01–57P03).
                Sqlx::Database(d) => d.code().is_some_and(|c| {
                    c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")
                }),
                _ => false,
            },
            _ => false,
        },
        _ => false,
    }
}

/// Runs `op` until it succeeds, fails for good, or the database has been unreachable for
/// [`outage_bound`]. `op` is told whether this is a retry, so that a write whose first try
/// may have committed before the connection dropped can check first.
pub async fn durably<T, F, Fut>(what: &str, mut op: F) -> Result<T>
where
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let bound = outage_bound();
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
                    eprintln!(
                        "warning: the database is unreachable while orch {what} ({e}): retrying \
                         for up to {}",
                        humantime::format_duration(bound)
                    );
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
                    eprintln!("orch: the database is back; the run goes on");
                }
                return Ok(v);
            }
            Err(e) => return Err(e),
        }
    }
}

/// [`transition`], retried through an outage. A retry that finds the row already moved to
/// `to` — by this process (same `owner`), when the change names one — takes it as done: the
/// first try committed, and only its answer was lost. A row moved by another orch is not ours.
pub async fn transition_durably(
    db: &impl ConnectionTrait,
    id: i64,
    from: TaskStatus,
    to: TaskStatus,
    change: TaskChange,
) -> Result<agents_task::Model> {
    let step = crate::store::batch::Step {
        id,
        from,
        to,
        change,
    };
    durably("records a task", |retry| {
        crate::store::batch::transition_once(db, &step, retry)
    })
    .await
}
