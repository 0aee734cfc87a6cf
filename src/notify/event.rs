//! The events a notification target can subscribe to (`on:` in a plan's `notify` block).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A task now waits for a person (`orch approve` / `orch reject`).
    AwaitingApproval,
    /// A task failed (after its last retry; a rejection is `rejected`, not this).
    Failed,
    Approved,
    Rejected,
    /// A run ended: counts per status, duration, the outputs links.
    RunFinished,
}

impl Event {
    pub const ALL: [Event; 5] = [
        Event::AwaitingApproval,
        Event::Failed,
        Event::Approved,
        Event::Rejected,
        Event::RunFinished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::AwaitingApproval => "awaiting_approval",
            Event::Failed => "failed",
            Event::Approved => "approved",
            Event::Rejected => "rejected",
            Event::RunFinished => "run_finished",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Event {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Event::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown event `{s}`: use one of {}",
                    Event::ALL
                        .iter()
                        .map(|e| format!("`{e}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}
