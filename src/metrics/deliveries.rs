//! Webhook deliveries by state, and the age of the oldest one not delivered.

use chrono::{DateTime, Utc};
use prometheus_client::registry::Registry;

use super::{age, by_status};
use crate::error::Result;
use crate::store::webhook_delivery::DeliveryStatus;
use crate::store::{Store, stats};

pub async fn add(registry: &mut Registry, store: &Store, now: DateTime<Utc>) -> Result<()> {
    let counts = stats::deliveries_by_state(&store.db).await?;
    let all = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
    ]
    .map(DeliveryStatus::as_str);
    registry.register(
        "orch_webhook_deliveries",
        "Webhook deliveries recorded, by state (pending, delivered, failed)",
        by_status(&all, &counts),
    );
    registry.register(
        "orch_webhook_oldest_undelivered_age_seconds",
        "How long ago the oldest delivery that is pending or failed was recorded (0 when none)",
        age(now, stats::oldest_undelivered(&store.db).await?),
    );
    Ok(())
}
