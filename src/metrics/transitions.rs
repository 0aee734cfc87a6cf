//! `orch_task_transitions_total`: how many times each task of each plan ended in each final
//! status. A counter, so `rate()` and `increase()` work: its rows are kept by the database in
//! the transaction that ends the task and are never pruned, so it never goes down.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::error::Result;
use crate::store::{Store, stats};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlanTaskStatus {
    plan: String,
    task: String,
    status: String,
}

pub async fn add(registry: &mut Registry, store: &Store) -> Result<()> {
    let family = Family::<PlanTaskStatus, Counter>::default();
    for (plan, task, status, count) in stats::transition_counts(&store.db).await? {
        let labels = PlanTaskStatus { plan, task, status };
        family
            .get_or_create(&labels)
            .inc_by(u64::try_from(count).unwrap_or(0));
    }
    // The encoder adds `_total` to a counter's name.
    registry.register(
        "orch_task_transitions",
        "How many times the task ended in this final status, per plan and task (never pruned)",
        family,
    );
    Ok(())
}
