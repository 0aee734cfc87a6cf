//! The policy a gate opened with (`agents_tasks.approval_policy`) and the subject votes are
//! cast on: what `store::votes` enforces and the JSON and pages show. A leaf of the store, so
//! that the serializer can read it without importing the vote path.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
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
    /// How long the one-click links sent for this gate stay valid, in seconds; absent: none
    /// (and in policies kept before links existed).
    #[serde(default)]
    pub links: Option<u64>,
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
            links: None,
        }
    }

    /// The policy recorded on `row` (the default one when it has none). One that cannot be
    /// read is an error, never the default: that would let anyone decide a gate whose policy
    /// named its approvers.
    pub fn of(row: &agents_task::Model) -> Result<Self> {
        match &row.approval_policy {
            None => Ok(Self::default_for_gate()),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| Error::UnreadablePolicy {
                id: row.id,
                reason: e.to_string(),
            }),
        }
    }

    /// The policy as it is kept in `agents_tasks.approval_policy`. Built by hand, not by
    /// `serde_json::to_value`, whose error a caller could drop and open the gate with no
    /// policy at all; [`GatePolicy::of`] reads it back.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert("approvers".into(), self.approvers.clone().into());
        map.insert(
            "voters".into(),
            self.voters
                .clone()
                .map_or(serde_json::Value::Null, Into::into),
        );
        map.insert("required".into(), self.required.into());
        map.insert("forbid_self".into(), self.forbid_self.into());
        map.insert("reject".into(), self.reject.as_str().into());
        map.insert(
            "links".into(),
            self.links.map_or(serde_json::Value::Null, Into::into),
        );
        serde_json::Value::Object(map)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_policy_reads_back_as_itself() {
        let policy = GatePolicy {
            approvers: vec!["alice".into(), "group:release".into()],
            voters: Some(vec!["alice".into(), "bob".into()]),
            required: 2,
            forbid_self: true,
            reject: RejectRule::Quorum,
            links: Some(86_400),
        };
        let back: GatePolicy = serde_json::from_value(policy.to_json()).unwrap();
        assert_eq!(back, policy);
        let open = GatePolicy::default_for_gate();
        let back: GatePolicy = serde_json::from_value(open.to_json()).unwrap();
        assert_eq!(back, open);
    }
}
