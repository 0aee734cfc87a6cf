//! Opening the database: the embedded SQLite file or a PostgreSQL server, one SeaORM
//! connection either way, with the schema brought up to date before anything else runs.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, SqlxSqliteConnector};

use crate::config::DatabaseTarget;
use crate::error::{Error, Result};
use crate::format::url::redact_urls;
use crate::store::outage::Outage;

/// How long a writer waits for another orch process holding the SQLite file.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A pooled PostgreSQL connection idle this long is pinged before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(10);

/// An open database and where it lives.
#[derive(Clone, Debug)]
pub struct Store {
    pub db: DatabaseConnection,
    pub target: DatabaseTarget,
    /// How long a drive's writes ride out the database being unreachable.
    pub outage: Outage,
}

/// What to do about pending migrations when opening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// Apply pending migrations (saying so on stderr); the default for every command.
    Migrate,
    /// Leave the schema alone (`orch migrate …` manages it itself).
    AsIs,
}

/// How many connections a command may hold at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// One: a command that reads or writes a few rows in sequence. sqlx hands a released
    /// connection back from a task of its own, so a larger pool would open a second
    /// connection (a second TLS handshake, a second server process) for the next query.
    Single,
    /// Commands that drive tasks or send notifications: a few connections on PostgreSQL, one
    /// on SQLite (see [`Pool::size`]).
    Shared,
    /// `serve`: a few, whatever the database, so that requests read side by side.
    Serve,
}

impl Pool {
    pub(super) fn size(self, target: &DatabaseTarget) -> u32 {
        match (self, target) {
            (Pool::Single, _) => 1,
            // SQLite lets one connection write at a time anyway, and a connection's page
            // cache is void once another has written. With four, a run's statements took
            // turns on them, each reading again the pages the previous one had changed
            // (`bench/profile.sh`: 17 `pread64` per task, 2 with one connection).
            (Pool::Shared, DatabaseTarget::Sqlite { .. }) => 1,
            (Pool::Shared | Pool::Serve, _) => 4,
        }
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6), extended codes included.
fn is_busy(e: &sea_orm::sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// A bare connection pool of at most `max` connections: no schema check, no migration.
/// Everything but `migrate` and tests goes through [`crate::store::open`].
pub async fn connect(target: &DatabaseTarget, max: u32) -> Result<DatabaseConnection> {
    connect_limited(target, max, None).await
}

/// [`connect`], with SQLite's `max_page_count` set on every connection when given.
pub async fn connect_limited(
    target: &DatabaseTarget,
    max: u32,
    max_pages: Option<u64>,
) -> Result<DatabaseConnection> {
    let unreachable = |detail: String| Error::DatabaseUnreachable {
        url: target.display_url(),
        detail: redact_urls(&detail),
    };
    match target {
        DatabaseTarget::Sqlite { path } => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    unreachable(format!("cannot create folder `{}`: {e}", dir.display()))
                })?;
            }
            // WAL lets readers work while one orch writes; NORMAL is durable across a crash
            // of orch (not of the OS) and avoids an fsync per commit; the busy timeout lets
            // several orch processes share the file instead of failing on a lock.
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true);
            let options = match max_pages {
                Some(n) => options.pragma("max_page_count", n.to_string()),
                None => options,
            };
            // Opening sets WAL mode, which needs the file to itself for a moment: another orch
            // creating or migrating the same new file makes it busy. Wait as a writer would.
            let started = std::time::Instant::now();
            let pool = loop {
                // No ping before each statement: a file this process opened does not go
                // away like a server's socket, and each ping is a trip to the connection's
                // worker thread and back.
                let attempt = SqlitePoolOptions::new()
                    .max_connections(max)
                    .test_before_acquire(false)
                    .acquire_timeout(SQLITE_BUSY_TIMEOUT)
                    .connect_with(options.clone())
                    .await;
                match attempt {
                    Ok(pool) => break pool,
                    Err(e) if is_busy(&e) && started.elapsed() < SQLITE_BUSY_TIMEOUT => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => return Err(unreachable(e.to_string())),
                }
            };
            Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
        DatabaseTarget::Postgres { url } => {
            let mut options = ConnectOptions::new(url.clone());
            options
                .max_connections(max)
                .min_connections(0)
                .connect_timeout(CONNECT_TIMEOUT)
                .acquire_timeout(CONNECT_TIMEOUT)
                // sqlx pings a pooled connection before handing it out: a round trip before
                // every statement, on the path between one task and the next. Only a
                // connection idle long enough for a server or proxy to have dropped it is
                // pinged; a statement on a connection that broke sooner fails, and the writes
                // that matter are retried (`store::retry`) on a fresh one.
                .test_before_acquire_if_idle_for(PING_AFTER_IDLE)
                .sqlx_logging(false);
            Database::connect(options)
                .await
                .map_err(|e| unreachable(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each kind of command may hold: a run on SQLite keeps to one connection (the page
    /// cache stays warm, `bench/profile.sh`), the API reads side by side everywhere.
    #[test]
    fn pool_sizes_follow_the_command_and_the_database() {
        let sqlite = DatabaseTarget::Sqlite {
            path: "orch.db".into(),
        };
        let postgres = DatabaseTarget::Postgres {
            url: "postgres://localhost/orch".to_owned(),
        };
        assert_eq!(Pool::Single.size(&sqlite), 1);
        assert_eq!(Pool::Single.size(&postgres), 1);
        assert_eq!(Pool::Shared.size(&sqlite), 1);
        assert_eq!(Pool::Shared.size(&postgres), 4);
        assert_eq!(Pool::Serve.size(&sqlite), 4);
        assert_eq!(Pool::Serve.size(&postgres), 4);
    }
}
