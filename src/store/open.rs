//! Opening the store for a command: connect, refuse a database migrated by a newer orch,
//! and apply pending migrations before anything else runs.

use super::connect::{Pool, Schema, Store, connect_limited};
use super::migrate;
use super::outage::Outage;
use crate::config::DatabaseTarget;
use crate::error::Result;

/// Connects, refuses a database migrated by a newer orch, and applies pending migrations.
pub async fn open(target: &DatabaseTarget, schema: Schema, pool: Pool) -> Result<Store> {
    open_limited(target, schema, pool, None).await
}

/// [`open`], with SQLite's `max_page_count` set on every connection when `max_pages` is
/// given (the test-only `ORCH_TEST_SQLITE_MAX_PAGES`).
pub async fn open_limited(
    target: &DatabaseTarget,
    schema: Schema,
    pool: Pool,
    max_pages: Option<u64>,
) -> Result<Store> {
    let db = connect_limited(target, pool.size(target), max_pages).await?;
    let store = Store {
        db,
        target: target.clone(),
        outage: Outage::default(),
    };
    let pending = migrate::check(&store.db).await?;
    if pending && schema == Schema::Migrate {
        migrate::apply_pending(&store, true).await?;
    }
    Ok(store)
}
