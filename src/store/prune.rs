//! Deleting old runs whole: their task rows, their delivery records and their `agents_runs`
//! row, in one transaction, so a run is either all there or all gone.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::error::{Error, Result};
use crate::store::{agents_run, agents_task, webhook_delivery};

/// What deleting some runs removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    pub runs: u64,
    pub tasks: u64,
    pub deliveries: u64,
}

/// Deletes the runs `run_ids` with everything recorded about them.
pub async fn delete_runs(db: &sea_orm::DatabaseConnection, run_ids: &[String]) -> Result<Removed> {
    let mut removed = Removed::default();
    // Bounded statements: a year of nightly runs is a long `IN (…)` list otherwise.
    for chunk in run_ids.chunks(500) {
        let txn = db.begin().await.map_err(Error::db)?;
        let ids = chunk.iter().cloned();
        removed.deliveries += webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::RunId.is_in(ids.clone()))
            .exec(&txn)
            .await
            .map_err(Error::db)?
            .rows_affected;
        removed.tasks += agents_task::Entity::delete_many()
            .filter(agents_task::Column::RunId.is_in(ids.clone()))
            .exec(&txn)
            .await
            .map_err(Error::db)?
            .rows_affected;
        removed.runs += agents_run::Entity::delete_many()
            .filter(agents_run::Column::RunId.is_in(ids))
            .exec(&txn)
            .await
            .map_err(Error::db)?
            .rows_affected;
        txn.commit().await.map_err(Error::db)?;
    }
    Ok(removed)
}

/// Gives SQLite's free pages back to the file system (PostgreSQL's autovacuum does this on
/// its own).
pub async fn compact(db: &sea_orm::DatabaseConnection) -> Result<()> {
    use sea_orm::ConnectionTrait;
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared("VACUUM").await.map_err(Error::db)?;
    }
    Ok(())
}
