//! The six task statuses and three approval states, stored as text and guarded by CHECK
//! constraints, and the table of which status may follow which.

use std::fmt;
use std::str::FromStr;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A task's status. The six values are final: a cancellation or a timeout is `Failed` with
/// the reason in the log excerpt, never a seventh status.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    #[sea_orm(string_value = "queued")]
    Queued,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "awaiting_approval")]
    AwaitingApproval,
    #[sea_orm(string_value = "skipped")]
    Skipped,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Queued,
        TaskStatus::Running,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::AwaitingApproval,
        TaskStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::AwaitingApproval => "awaiting_approval",
            TaskStatus::Skipped => "skipped",
        }
    }

    /// The transition table (docs/ORCHESTRATION.md draws it). `succeeded`, `failed` and
    /// `skipped` are final; `awaiting_approval` ends only by a decision.
    pub fn can_become(self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        matches!(
            (self, to),
            (Queued, Running | Skipped | Failed)
                | (Running, Succeeded | Failed | AwaitingApproval | Skipped)
                | (AwaitingApproval, Succeeded | Failed)
        )
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Skipped
        )
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = TaskStatus::ALL.iter().map(|v| v.as_str()).collect();
                format!("`{s}` is not a status; use one of {}", all.join(", "))
            })
    }
}

/// Where a task stands on approval; `None` in the row when no approval is involved.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "approved")]
    Approved,
    #[sea_orm(string_value = "rejected")]
    Rejected,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The prefix that makes an `approvers` entry a group of `orch users` (`group:release`).
pub const GROUP_PREFIX: &str = "group:";

/// A gate policy's `reject:`: what rejections do. Here rather than in `plan` because the
/// policy a gate opened with is kept with its row, and `store::votes` enforces it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RejectRule {
    /// One allowed rejection settles the gate as rejected (the default).
    #[default]
    Veto,
    /// As many distinct rejections as `required` settle it as rejected.
    Quorum,
}

impl RejectRule {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectRule::Veto => "veto",
            RejectRule::Quorum => "quorum",
        }
    }
}

/// `2 succeeded, 1 failed` for the statuses that have any tasks (`none` otherwise).
pub fn status_counts(count: impl Fn(TaskStatus) -> i64) -> String {
    let parts: Vec<String> = TaskStatus::ALL
        .iter()
        .filter(|s| count(**s) > 0)
        .map(|s| format!("{} {}", count(*s), s))
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_have_no_way_out() {
        for from in TaskStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for to in TaskStatus::ALL {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>().unwrap(), s);
        }
        assert!("done".parse::<TaskStatus>().is_err());
    }
}
