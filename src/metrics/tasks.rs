//! `orch_tasks` by status, and the approvals pending with the age of the oldest.

use chrono::{DateTime, Utc};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::{age, by_status};
use crate::error::Result;
use crate::status::TaskStatus;
use crate::store::{Store, stats};

pub async fn add(registry: &mut Registry, store: &Store, now: DateTime<Utc>) -> Result<()> {
    let counts = stats::tasks_by_status(&store.db).await?;
    let all = TaskStatus::ALL.map(TaskStatus::as_str);
    registry.register(
        "orch_tasks",
        "Task rows in the database, by status",
        by_status(&all, &counts),
    );
    let (pending, oldest) = stats::pending_approvals(&store.db).await?;
    let gauge = Gauge::<i64>::default();
    gauge.set(pending);
    registry.register(
        "orch_approvals_pending",
        "Tasks awaiting an approval decision",
        gauge,
    );
    registry.register(
        "orch_approval_oldest_pending_age_seconds",
        "How long the oldest task awaiting a decision has waited (0 when none waits)",
        age(now, oldest),
    );
    Ok(())
}
