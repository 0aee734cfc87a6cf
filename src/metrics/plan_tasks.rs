//! Per plan and task: when it last succeeded, and how long its latest finished run took.
//! Only tasks of runs orch recorded from a plan (rows written through the API have no plan),
//! at most `stats::MAX_PLAN_TASKS` pairs each.

use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::{PlanTask, Seconds};
use crate::error::Result;
use crate::store::{Store, stats};

pub async fn add(registry: &mut Registry, store: &Store) -> Result<()> {
    let success = Family::<PlanTask, Seconds>::default();
    for (plan, task, at) in stats::last_successes(&store.db).await? {
        let secs = at.timestamp_micros() as f64 / 1e6;
        success.get_or_create(&PlanTask { plan, task }).set(secs);
    }
    registry.register(
        "orch_task_last_success_timestamp_seconds",
        "When the task last succeeded (Unix time), per plan and task",
        success,
    );
    let duration = Family::<PlanTask, Seconds>::default();
    for (plan, task, ms) in stats::last_durations(&store.db).await? {
        duration
            .get_or_create(&PlanTask { plan, task })
            .set(ms as f64 / 1000.0);
    }
    registry.register(
        "orch_task_last_duration_seconds",
        "How long the task's latest finished run took, whatever its outcome, per plan and task",
        duration,
    );
    Ok(())
}
