//! The `orch_workers` rows: each worker records itself when it starts, stamps its row and its
//! running tasks at every heartbeat (learning in the same transaction which of its tasks'
//! runs someone asked to cancel), and marks when it drains and when it stopped.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};

use crate::error::{Error, Result};
use crate::store::clock::db_now;
use crate::store::entity::orch_worker::{self, Column, Entity};
use crate::store::{TaskStatus, agents_run, agents_task};

/// A worker as it starts.
pub struct NewWorker<'a> {
    pub id: &'a str,
    pub labels: &'a [(String, String)],
    pub queues: &'a [String],
    pub slots: u32,
}

/// Records the worker (its host, pid and version, labels, queues and slots).
pub async fn register(db: &impl ConnectionTrait, new: &NewWorker<'_>) -> Result<()> {
    let labels: serde_json::Map<String, serde_json::Value> = new
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let at = crate::store::now();
    orch_worker::ActiveModel {
        id: Set(new.id.to_owned()),
        host: Set(gethostname::gethostname().to_string_lossy().into_owned()),
        pid: Set(std::process::id() as i32),
        version: Set(env!("CARGO_PKG_VERSION").to_owned()),
        labels: Set(serde_json::Value::Object(labels).to_string()),
        queues: Set(serde_json::to_string(new.queues).unwrap_or_default()),
        slots: Set(new.slots as i32),
        started_at: Set(at),
        heartbeat_at: Set(at),
        draining_at: Set(None),
        stopped_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(Error::db)?;
    Ok(())
}

/// One heartbeat of worker `id`: its row and the running tasks it really runs (`held`)
/// stamped with the database's clock; returns, for each of those whose run someone asked to
/// cancel, the task id and who asked.
///
/// Only `held`, not every row that names the worker: a claim whose answer was lost (the
/// connection broke after the commit) leaves a row the worker never started, and that row
/// must go stale and be judged lost rather than be kept alive by heartbeats.
pub async fn beat(db: &DatabaseConnection, id: &str, held: &[i64]) -> Result<Vec<(i64, String)>> {
    let backend = db.get_database_backend();
    let txn = db.begin().await.map_err(Error::db)?;
    Entity::update_many()
        .col_expr(Column::HeartbeatAt, db_now(backend))
        .filter(Column::Id.eq(id))
        .exec(&txn)
        .await
        .map_err(Error::db)?;
    agents_task::Entity::update_many()
        .col_expr(agents_task::Column::HeartbeatAt, db_now(backend))
        .filter(agents_task::Column::Owner.eq(id))
        .filter(agents_task::Column::Status.eq(TaskStatus::Running))
        .filter(agents_task::Column::Id.is_in(held.iter().copied()))
        .exec(&txn)
        .await
        .map_err(Error::db)?;
    let cancelled_runs = Query::select()
        .column(agents_run::Column::RunId)
        .from(agents_run::Entity)
        .and_where(agents_run::Column::CancelRequestedAt.is_not_null())
        .to_owned();
    let mine = agents_task::Entity::find()
        .filter(agents_task::Column::Owner.eq(id))
        .filter(agents_task::Column::Status.eq(TaskStatus::Running))
        .filter(agents_task::Column::Id.is_in(held.iter().copied()))
        .filter(agents_task::Column::RunId.in_subquery(cancelled_runs))
        .all(&txn)
        .await
        .map_err(Error::db)?;
    let mut cancels = Vec::with_capacity(mine.len());
    for row in mine {
        let run = agents_run::Entity::find_by_id(row.run_id.clone())
            .one(&txn)
            .await
            .map_err(Error::db)?;
        let by = run.and_then(|r| r.cancel_requested_by).unwrap_or_default();
        cancels.push((row.id, by));
    }
    txn.commit().await.map_err(Error::db)?;
    Ok(cancels)
}

/// The worker claims nothing more from now on (SIGTERM).
pub async fn draining(db: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> Result<()> {
    set(db, id, Column::DrainingAt, at).await
}

/// The worker exited cleanly.
pub async fn stopped(db: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> Result<()> {
    set(db, id, Column::StoppedAt, at).await
}

async fn set(db: &impl ConnectionTrait, id: &str, col: Column, at: DateTime<Utc>) -> Result<()> {
    Entity::update_many()
        .col_expr(col, Expr::value(at))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(())
}

/// Every worker that has not stopped, newest first; with `all`, stopped ones too.
pub async fn list(db: &impl ConnectionTrait, all: bool) -> Result<Vec<orch_worker::Model>> {
    let mut find = Entity::find().order_by_desc(Column::StartedAt);
    if !all {
        find = find.filter(Column::StoppedAt.is_null());
    }
    find.all(db).await.map_err(Error::db)
}

/// How many tasks each worker runs now, by owner id.
pub async fn busy(db: &impl ConnectionTrait) -> Result<std::collections::HashMap<String, u64>> {
    let rows = agents_task::Entity::find()
        .filter(agents_task::Column::Status.eq(TaskStatus::Running))
        .filter(agents_task::Column::Owner.is_not_null())
        .all(db)
        .await
        .map_err(Error::db)?;
    let mut busy = std::collections::HashMap::new();
    for row in rows {
        if let Some(owner) = row.owner {
            *busy.entry(owner).or_insert(0) += 1;
        }
    }
    Ok(busy)
}
