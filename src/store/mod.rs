//! Everything that touches the database: entities (data only), connecting and migrating,
//! reads, the one guarded function that changes a task's status, and the one JSON shape of
//! a row.

pub mod batch;
pub mod batch_sql;
pub mod cancel;
pub mod claim;
pub mod clock;
pub mod connect;
pub mod delivery;
pub mod entity;
pub mod gate_policy;
pub mod json;
pub mod lease;
pub mod links;
pub mod migrate;
pub mod mutation;
mod open;
pub mod outage;
pub mod prune;
pub mod query;
pub mod ready;
pub mod reminders;
pub mod requeue;
pub mod run_end;
pub mod sessions;
pub mod standing;
pub mod stats;
pub mod stranded;
pub mod tokens;
pub mod transition;
pub mod users;
pub mod votes;
pub mod workers;

use crate::error;
pub use connect::Store;
pub use entity::{
    agents_run, agents_run_lock, agents_task, agents_task_attempt, approval_link,
    approval_reminder, approval_vote, webhook_delivery,
};
pub use open::{open, open_limited};
// The statuses are a leaf of their own (error messages name them); the store keeps them
// where its callers look for them.
pub use crate::status::{ApprovalState, TaskStatus};

/// This process's clock, at the precision both databases keep (microseconds), so a row reads
/// the same from SQLite and PostgreSQL. Heartbeats and staleness use the database's clock
/// instead (`clock::db_now`), which every orch sharing the database agrees on.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// A transaction that locks, then reads: after waiting for another's lock (a vote's gate row,
/// a run row while its readiness is judged) the reads must see what that one committed, which
/// a server defaulting to REPEATABLE READ would refuse (a serialization error) instead; so
/// READ COMMITTED on PostgreSQL. SQLite has one writer and no such levels.
pub async fn begin_read_committed(
    db: &sea_orm::DatabaseConnection,
) -> error::Result<sea_orm::DatabaseTransaction> {
    use sea_orm::{DbBackend, IsolationLevel, TransactionTrait};
    let level =
        (db.get_database_backend() == DbBackend::Postgres).then_some(IsolationLevel::ReadCommitted);
    db.begin_with_config(level, None)
        .await
        .map_err(error::Error::db)
}
