//! Deleting old runs whole. The retention policy ([`select`]) decides which runs may go: older
//! than a bound, not being driven, and (unless asked) not waiting for a decision. [`remove`]
//! then deletes their task rows, delivery records, concurrency slots and `agents_runs` row
//! in one transaction per chunk, so a run is either all there or all gone, and their log
//! folders after.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use crate::error::{Error, Result};
use crate::store::query::{RunSummary, list_runs};
use crate::store::{
    Store, TaskStatus, agents_run, agents_task, agents_task_attempt, approval_link,
    approval_reminder, approval_vote, lease, webhook_delivery,
};
use crate::warning::{Warning, say};

/// Which runs may be deleted.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Runs that ended (or started) before this may go.
    pub cutoff: DateTime<Utc>,
    /// Also runs with a gate still waiting for a decision.
    pub include_pending: bool,
}

/// The runs the policy lets go, and what it kept that a reader may wonder about.
#[derive(Debug)]
pub struct Selection {
    pub runs: Vec<RunSummary>,
    /// Their log folders that exist on this machine.
    pub folders: Vec<PathBuf>,
    /// Old enough, but kept because a gate still waits (without `include_pending`).
    pub kept_waiting: usize,
}

impl Selection {
    /// What [`remove`] would delete, as far as it is known without deleting: the delivery
    /// records are only counted by the deletion itself.
    pub fn would_remove(&self) -> Removed {
        Removed {
            runs: self.runs.len() as u64,
            tasks: self.runs.iter().map(|r| r.total() as u64).sum(),
            deliveries: 0,
        }
    }
}

/// What a run's age is measured from: when it ended, else when it started. A run with
/// neither (rows that another tool queued) cannot be judged.
pub fn age_mark(run: &RunSummary) -> Option<DateTime<Utc>> {
    run.finished_at.or(run.started_at)
}

/// The runs that `policy` lets go. A run still being driven is never among them: one with a
/// task `running`, or whose lease a live process holds.
pub async fn select(store: &Store, policy: Retention) -> Result<Selection> {
    let held: Vec<String> = lease::all(&store.db)
        .await?
        .into_iter()
        .filter_map(|l| l.run_id)
        .collect();
    let mut runs = Vec::new();
    let mut kept_waiting = 0;
    for run in list_runs(&store.db, u64::MAX).await? {
        // A run that cannot be judged is kept.
        let Some(at) = age_mark(&run) else {
            continue;
        };
        if at >= policy.cutoff || run.count(TaskStatus::Running) > 0 || held.contains(&run.run_id) {
            continue;
        }
        if run.count(TaskStatus::AwaitingApproval) > 0 && !policy.include_pending {
            kept_waiting += 1;
            continue;
        }
        runs.push(run);
    }
    let folders = log_folders(&runs);
    Ok(Selection {
        runs,
        folders,
        kept_waiting,
    })
}

/// `<log_dir>/<run_id>` of each run that recorded its log folder, where that folder exists
/// (another machine's logs are not ours to count or remove).
fn log_folders(runs: &[RunSummary]) -> Vec<PathBuf> {
    runs.iter()
        .filter_map(|r| {
            r.record
                .as_ref()?
                .log_dir
                .as_ref()
                .map(|d| Path::new(d).join(&r.run_id))
        })
        .filter(|p| p.is_dir())
        .collect()
}

/// Deletes the selected runs' rows, then their log folders (a folder that cannot be removed
/// is a warning, not a failure: the rows are already gone), then compacts SQLite.
pub async fn remove(store: &Store, selection: &Selection) -> Result<Removed> {
    let ids: Vec<String> = selection.runs.iter().map(|r| r.run_id.clone()).collect();
    let removed = delete_runs(&store.db, &ids).await?;
    for dir in &selection.folders {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            say(Warning::CannotRemove {
                path: dir.clone(),
                error: e,
            });
        }
    }
    compact(&store.db).await?;
    Ok(removed)
}

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
        approval_reminder::Entity::delete_many()
            .filter(approval_reminder::Column::RunId.is_in(ids.clone()))
            .exec(&txn)
            .await
            .map_err(Error::db)?;
        approval_vote::Entity::delete_many()
            .filter(approval_vote::Column::RunId.is_in(ids.clone()))
            .exec(&txn)
            .await
            .map_err(Error::db)?;
        approval_link::Entity::delete_many()
            .filter(approval_link::Column::RunId.is_in(ids.clone()))
            .exec(&txn)
            .await
            .map_err(Error::db)?;
        // A task's earlier attempts go with it (counted as part of it, not on their own).
        agents_task_attempt::Entity::delete_many()
            .filter(agents_task_attempt::Column::RunId.is_in(ids.clone()))
            .exec(&txn)
            .await
            .map_err(Error::db)?;
        removed.tasks += agents_task::Entity::delete_many()
            .filter(agents_task::Column::RunId.is_in(ids.clone()))
            .exec(&txn)
            .await
            .map_err(Error::db)?
            .rows_affected;
        crate::store::entity::orch_run_slot::Entity::delete_many()
            .filter(crate::store::entity::orch_run_slot::Column::RunId.is_in(ids.clone()))
            .exec(&txn)
            .await
            .map_err(Error::db)?;
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
