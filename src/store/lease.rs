//! Leases on runs and plans (`agents_run_locks`): one process drives a run at a time, and a
//! second `orch run` of a plan still running is refused (cron overlap) unless asked for.
//!
//! A lease is taken with one conditional upsert — insert, or take over a row whose heartbeat
//! is stale — which works the same on SQLite and PostgreSQL (advisory locks do not fit a
//! connection pool, and SQLite has none). The holder renews it with heartbeats by the
//! database's clock; a heartbeat older than the staleness bound means its owner is gone.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

pub use crate::error::Holder;
use crate::error::{Error, LeaseHint, Result};
use crate::store::agents_run_lock::{self, Column, Entity};
use crate::store::{agents_run, agents_task, clock};

/// This process, as lease rows and running tasks name it: `host:pid:random`.
pub fn owner_id() -> String {
    format!(
        "{}:{}:{:08x}",
        gethostname::gethostname().to_string_lossy(),
        std::process::id(),
        fastrand::u32(..)
    )
}

/// What a lease is on: one run (one driver at a time), one plan (no overlapping runs of
/// it unless `--allow-overlap`), or the approvals sweeper (one pass at a time across every
/// process sharing the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseKey {
    Run(String),
    Plan(String),
    Sweeper,
}

impl LeaseKey {
    /// The row's `lock_key`: `run:ID`, `plan:NAME` or `sweeper`.
    pub fn key(&self) -> String {
        match self {
            LeaseKey::Run(id) => format!("run:{id}"),
            LeaseKey::Plan(name) => format!("plan:{name}"),
            LeaseKey::Sweeper => "sweeper".to_owned(),
        }
    }

    /// How the refusal names it, and what it suggests.
    fn refused(&self, holder: Holder) -> Error {
        let (what, hint) = match self {
            LeaseKey::Run(id) => (format!("run `{id}`"), LeaseHint::Wait),
            LeaseKey::Plan(name) => (format!("plan `{name}`"), LeaseHint::Overlap),
            LeaseKey::Sweeper => ("the approvals sweeper".to_owned(), LeaseHint::Wait),
        };
        Error::Leased { what, holder, hint }
    }
}

/// A lease wanted by `owner`, for a run of `plan_name`.
#[derive(Clone, Debug)]
pub struct Lease<'a> {
    pub key: LeaseKey,
    pub plan_name: &'a str,
    pub run_id: Option<&'a str>,
    pub owner: &'a str,
    /// A holder whose heartbeat is older than this is gone; its lease may be taken over.
    pub stale_after: Duration,
}

/// Proof that a lease is held. Leases are given up together, by owner ([`release`]), when
/// the drive that took them ends; after a crash they lapse with the heartbeat.
#[derive(Debug)]
#[must_use = "a lease is held until `release`"]
pub struct LeaseGuard {
    pub key: LeaseKey,
}

/// Takes the lease: inserts it, or takes it over when its holder's heartbeat is older than
/// `stale_after`. [`Error::Leased`] (naming the holder) when someone alive holds it.
pub async fn acquire(db: &impl ConnectionTrait, lease: &Lease<'_>) -> Result<LeaseGuard> {
    let backend = db.get_database_backend();
    let key = lease.key.key();
    let mut insert = Query::insert();
    insert
        .into_table(Entity)
        .columns([
            Column::LockKey,
            Column::RunId,
            Column::PlanName,
            Column::Owner,
            Column::AcquiredAt,
            Column::HeartbeatAt,
        ])
        .values([
            key.as_str().into(),
            lease.run_id.map(str::to_owned).into(),
            lease.plan_name.into(),
            lease.owner.into(),
            clock::db_now(backend),
            clock::db_now(backend),
        ])
        .map_err(|e| Error::Database {
            detail: e.to_string(),
            transient: false,
        })?
        .on_conflict(
            OnConflict::column(Column::LockKey)
                .update_columns([
                    Column::RunId,
                    Column::PlanName,
                    Column::Owner,
                    Column::AcquiredAt,
                    Column::HeartbeatAt,
                ])
                .action_and_where(
                    sea_orm::sea_query::Expr::col((Entity, Column::HeartbeatAt))
                        .lt(clock::db_ago(backend, lease.stale_after)),
                )
                .to_owned(),
        );
    let result = db.execute(&insert).await.map_err(Error::db)?;
    if result.rows_affected() == 1 {
        return Ok(LeaseGuard {
            key: lease.key.clone(),
        });
    }
    let holder = Entity::find_by_id(key).one(db).await.map_err(Error::db)?;
    Err(lease.key.refused(match holder {
        Some(h) => Holder {
            owner: h.owner,
            run_id: h.run_id,
            heartbeat_at: h.heartbeat_at,
        },
        // Released between our attempt and our read: say so rather than retry forever.
        None => Holder {
            owner: "(just released)".to_owned(),
            run_id: None,
            heartbeat_at: Utc::now(),
        },
    }))
}

/// Records which run a plan lease is driving, once the run has its id.
pub async fn set_run_id(
    db: &impl ConnectionTrait,
    key: &LeaseKey,
    owner: &str,
    run_id: &str,
) -> Result<()> {
    Entity::update_many()
        .col_expr(Column::RunId, sea_orm::sea_query::Expr::value(run_id))
        .filter(Column::LockKey.eq(key.key()))
        .filter(Column::Owner.eq(owner))
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(())
}

/// Renews every lease of `owner` and the heartbeat of each task it is running, in one
/// transaction (a lease renewed while its tasks are not would let them be judged lost), and
/// reads there whether someone asked to cancel a run it leases: who, if so.
pub async fn beat(db: &sea_orm::DatabaseConnection, owner: &str) -> Result<Option<String>> {
    use sea_orm::TransactionTrait;
    let backend = db.get_database_backend();
    let txn = db.begin().await.map_err(Error::db)?;
    Entity::update_many()
        .col_expr(Column::HeartbeatAt, clock::db_now(backend))
        .filter(Column::Owner.eq(owner))
        .exec(&txn)
        .await
        .map_err(Error::db)?;
    agents_task::Entity::update_many()
        .col_expr(agents_task::Column::HeartbeatAt, clock::db_now(backend))
        .filter(agents_task::Column::Owner.eq(owner))
        .filter(agents_task::Column::Status.eq(crate::store::TaskStatus::Running))
        .exec(&txn)
        .await
        .map_err(Error::db)?;
    let leased = Query::select()
        .column(Column::RunId)
        .from(Entity)
        .and_where(Column::Owner.eq(owner))
        .and_where(Column::RunId.is_not_null())
        .to_owned();
    let cancel = agents_run::Entity::find()
        .filter(agents_run::Column::RunId.in_subquery(leased))
        .filter(agents_run::Column::CancelRequestedAt.is_not_null())
        .one(&txn)
        .await
        .map_err(Error::db)?;
    txn.commit().await.map_err(Error::db)?;
    Ok(cancel.map(|run| run.cancel_requested_by.unwrap_or_default()))
}

/// Gives up every lease of `owner`.
pub async fn release(db: &impl ConnectionTrait, owner: &str) -> Result<()> {
    Entity::delete_many()
        .filter(Column::Owner.eq(owner))
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(())
}

/// Gives up lease `key` if `owner` still holds it (the sweeper's, after each pass: the
/// process may hold leases of its own besides).
pub async fn release_key(db: &impl ConnectionTrait, key: &LeaseKey, owner: &str) -> Result<()> {
    Entity::delete_many()
        .filter(Column::LockKey.eq(key.key()))
        .filter(Column::Owner.eq(owner))
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(())
}

/// Removes leases whose holder stopped beating `stale_after` ago.
pub async fn drop_stale(db: &impl ConnectionTrait, stale_after: Duration) -> Result<u64> {
    let backend = db.get_database_backend();
    let result = Entity::delete_many()
        .filter(
            sea_orm::sea_query::Expr::col(Column::HeartbeatAt)
                .lt(clock::db_ago(backend, stale_after)),
        )
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(result.rows_affected)
}

/// Every lease, for `orch runs list`'s view of what is being driven.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<agents_run_lock::Model>> {
    Entity::find().all(db).await.map_err(Error::db)
}
