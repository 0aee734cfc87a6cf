//! Bringing the schema up to date safely: never writing to a database migrated by a newer
//! orch, and never letting two orch processes migrate the same database at once.
//!
//! sea-orm-migration does not serialise concurrent runs, so we do: on PostgreSQL with a
//! session advisory lock held on a dedicated single connection (a pool could hand the
//! unlock to another session), on SQLite with an exclusive lock on a file beside the
//! database (SQLite has no advisory locks, and a deferred transaction would fail rather
//! than wait when two processes upgrade their read locks).

use std::fs::File;
use std::path::PathBuf;

use migration::{Migrator, MigratorTrait, known_migrations};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Statement};
use sea_orm_migration::seaql_migrations;

use crate::config::DatabaseTarget;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::connect::connect;
use crate::warning::{Warning, say};

/// Any 64-bit constant unique to orch: "orch" in ASCII.
const PG_MIGRATION_LOCK_KEY: i64 = 0x6f72_6368;

/// One migration and whether this database has it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MigrationState {
    pub name: String,
    pub applied: bool,
}

/// The migrations recorded in the database, without creating anything.
pub async fn applied(db: &DatabaseConnection) -> Result<Vec<String>> {
    let exists = sea_orm_migration::SchemaManager::new(db)
        .has_table("seaql_migrations")
        .await
        .map_err(Error::db)?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows = seaql_migrations::Entity::find()
        .all(db)
        .await
        .map_err(Error::db)?;
    let mut names: Vec<String> = rows.into_iter().map(|m| m.version).collect();
    names.sort();
    Ok(names)
}

/// Fails with exit 3 when the database has a migration this build does not know.
pub async fn refuse_newer(db: &DatabaseConnection) -> Result<()> {
    refuse_unknown(&applied(db).await?)
}

/// What every command checks before it starts, from one read of the migrations table:
/// refuses a database migrated by a newer orch; says whether any migration is pending.
pub async fn check(db: &DatabaseConnection) -> Result<bool> {
    let applied = applied(db).await?;
    refuse_unknown(&applied)?;
    Ok(known_migrations().iter().any(|m| !applied.contains(m)))
}

fn refuse_unknown(applied: &[String]) -> Result<()> {
    let known = known_migrations();
    if let Some(unknown) = applied.iter().rev().find(|n| !known.contains(n)) {
        return Err(Error::SchemaTooNew {
            database_at: unknown.clone(),
            binary_knows: known.last().cloned().unwrap_or_default(),
        });
    }
    Ok(())
}

pub async fn status(db: &DatabaseConnection) -> Result<Vec<MigrationState>> {
    let applied = applied(db).await?;
    Ok(known_migrations()
        .into_iter()
        .map(|name| MigrationState {
            applied: applied.contains(&name),
            name,
        })
        .collect())
}

/// Applies every pending migration under the migration lock; returns how many ran.
/// With `announce`, says so in one line on stderr (nothing when there was nothing to do).
pub async fn apply_pending(store: &Store, announce: bool) -> Result<usize> {
    if status(&store.db).await?.iter().all(|m| m.applied) {
        return Ok(0);
    }
    let ran = with_migration_lock(&store.target, |db| async move {
        refuse_newer(&db).await?;
        let pending = status(&db).await?.iter().filter(|m| !m.applied).count();
        if pending > 0 {
            Migrator::up(&db, None).await.map_err(migration_error)?;
        }
        Ok(pending)
    })
    .await?;
    if announce && ran > 0 {
        let latest = known_migrations().last().cloned().unwrap_or_default();
        say(Warning::MigrationsApplied {
            count: ran,
            database: store.target.to_string(),
            latest: latest.to_string(),
        });
    }
    Ok(ran)
}

/// Rolls back the newest `steps` migrations; returns how many were rolled back.
pub async fn down(store: &Store, steps: u32) -> Result<usize> {
    with_migration_lock(&store.target, |db| async move {
        refuse_newer(&db).await?;
        let before = applied(&db).await?.len();
        Migrator::down(&db, Some(steps))
            .await
            .map_err(migration_error)?;
        Ok(before - applied(&db).await?.len())
    })
    .await
}

/// Rolls back every orch migration and applies them all again: orch's tables are emptied,
/// other tables in the same database are left alone (sea-orm's own `fresh` would drop them).
pub async fn fresh(store: &Store) -> Result<()> {
    with_migration_lock(&store.target, |db| async move {
        refuse_newer(&db).await?;
        Migrator::refresh(&db).await.map_err(migration_error)
    })
    .await
}

fn migration_error(err: sea_orm::DbErr) -> Error {
    Error::Migration {
        detail: crate::format::url::redact_urls(&err.to_string()),
    }
}

/// Runs `f` on a dedicated connection while holding orch's migration lock for `target`.
async fn with_migration_lock<T, F, Fut>(target: &DatabaseTarget, f: F) -> Result<T>
where
    F: FnOnce(DatabaseConnection) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    match target {
        DatabaseTarget::Postgres { .. } => {
            let db = connect(target, 1).await?;
            let lock = |sql: &str| {
                Statement::from_string(
                    db.get_database_backend(),
                    format!("{sql}({PG_MIGRATION_LOCK_KEY})"),
                )
            };
            db.execute_raw(lock("SELECT pg_advisory_lock"))
                .await
                .map_err(Error::db)?;
            let result = f(db.clone()).await;
            // Closing the connection would release the lock too; unlocking first keeps the
            // lock's lifetime obvious to the next reader.
            let _ = db.execute_raw(lock("SELECT pg_advisory_unlock")).await;
            let _ = db.close().await;
            result
        }
        DatabaseTarget::Sqlite { path } => {
            let lock_path = sidecar_lock_path(path);
            let file = File::create(&lock_path).map_err(|source| Error::Io {
                context: format!("cannot create lock file `{}`", lock_path.display()),
                source,
            })?;
            let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
                .await
                .map_err(|e| Error::Migration {
                    detail: e.to_string(),
                })?
                .map_err(|source| Error::Io {
                    context: format!("cannot lock `{}`", lock_path.display()),
                    source,
                })?;
            let db = connect(target, 1).await?;
            let result = f(db.clone()).await;
            let _ = db.close().await;
            drop(file);
            result
        }
    }
}

fn sidecar_lock_path(db_path: &std::path::Path) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_owned();
    name.push(".migrate-lock");
    db_path.with_file_name(name)
}
