//! The policy a gate opened with (`agents_tasks.approval_policy`) and the subject votes are
//! cast on: what `store::votes` enforces and the JSON and pages show. A leaf of the store, so
//! that the serializer can read it without importing the vote path.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::status::RejectRule;
use crate::store::agents_task;

/// The policy a gate opened with, kept with its row (`agents_tasks.approval_policy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatePolicy {
    /// As the plan wrote them (`alice`, `group:release`); empty: anyone allowed to decide.
    pub approvers: Vec<String>,
    /// The users those entries named when the gate opened, groups resolved (sorted); absent
    /// when `approvers` is empty.
    pub voters: Option<Vec<String>>,
    pub required: u32,
    pub forbid_self: bool,
    pub reject: RejectRule,
}

impl GatePolicy {
    /// The policy of a gate opened without one: one decision by anyone.
    fn default_for_gate() -> Self {
        GatePolicy {
            approvers: Vec::new(),
            voters: None,
            required: 1,
            forbid_self: false,
            reject: RejectRule::Veto,
        }
    }

    /// The policy recorded on `row`, or the default one.
    pub fn of(row: &agents_task::Model) -> Self {
        row.approval_policy
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_else(Self::default_for_gate)
    }

    /// Rejections that settle the gate as rejected.
    pub fn rejections_needed(&self) -> u32 {
        match self.reject {
            RejectRule::Veto => 1,
            RejectRule::Quorum => self.required,
        }
    }
}

/// What a vote is cast on: a digest of the gate's opening (its attempt, when it opened, its
/// outputs URI and excerpt). A task run again (a retry, a resume) opens a new subject, on
/// which earlier votes do not count.
pub fn subject(row: &agents_task::Model) -> String {
    let mut h = Sha256::new();
    h.update(row.attempt.to_le_bytes());
    h.update(
        row.finished_at
            .map_or(0, |t| t.timestamp_micros())
            .to_le_bytes(),
    );
    for part in [&row.outputs_uri, &row.log_excerpt] {
        let text = part.as_deref().unwrap_or("");
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    format!("{:x}", h.finalize())
}
