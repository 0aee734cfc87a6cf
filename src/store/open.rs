//! Opening the store for a command: connect, refuse a database migrated by a newer orch,
//! and apply pending migrations before anything else runs.

use super::connect::{Pool, Schema, Store, connect};
use super::migrate;
use super::outage::Outage;
use crate::config::DatabaseTarget;
use crate::error::Result;

/// Connects, refuses a database migrated by a newer orch, and applies pending migrations.
pub async fn open(target: &DatabaseTarget, schema: Schema, pool: Pool) -> Result<Store> {
    let db = connect(target, pool.size(target)).await?;
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
