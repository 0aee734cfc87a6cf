//! Gates waiting longer than their plan allows: past their `approval_timeout` (which the
//! sweeper should have enforced: is one running?) or past `escalate.after`, per plan. Read from
//! the plans saved with the runs of the gates still waiting, each text parsed once.

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::Result;
use crate::plan::saved::SavedPlans;
use crate::store::Store;
use crate::store::reminders::open_gates;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlanLabel {
    plan: String,
}

pub async fn add(registry: &mut Registry, store: &Store, now: DateTime<Utc>) -> Result<()> {
    let family = Family::<PlanLabel, Gauge>::default();
    let mut plans = SavedPlans::default();
    for gate in open_gates(&store.db).await? {
        // Rows written through the API have no plan, and no plan to exceed.
        let (Some(name), Some(text)) = (&gate.plan_name, &gate.plan_text) else {
            continue;
        };
        let spec = plans
            .get(&gate.task.run_id, text)
            .ok()
            .and_then(|p| p.tasks.iter().find(|t| t.name == gate.task.task));
        let overdue = match spec {
            Some(spec) => spec
                .gate
                .overdue(gate.opened_at, gate.task.approval_deadline, now),
            // A plan that no longer parses still has the deadline its run recorded.
            None => gate.task.approval_deadline.is_some_and(|d| d <= now),
        };
        let gauge = family.get_or_create(&PlanLabel { plan: name.clone() });
        if overdue {
            gauge.inc();
        }
    }
    registry.register(
        "orch_approvals_overdue",
        "Gates awaiting a decision longer than their plan allows (past approval_timeout or escalate.after), per plan with a gate waiting",
        family,
    );
    Ok(())
}
