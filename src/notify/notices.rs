//! The notices orch sends besides a task's own events: the end of a run, and a decision.

use super::event::Event;
use super::payload::Notice;
use crate::store::now;

/// The `run_finished` notice for a run that started at `started` and left `rows`.
pub fn run_finished(
    run_id: &str,
    rows: &[crate::store::agents_task::Model],
    started: chrono::DateTime<chrono::Utc>,
) -> Notice {
    let at = now();
    let ms = (at - started).num_milliseconds().max(0);
    Notice {
        event: Event::RunFinished,
        run_id: run_id.to_owned(),
        task: None,
        digest: Some(super::RunDigest::of(rows, ms)),
        at,
    }
}

/// The notice for a decision just taken on `row` (`approved` or `rejected`).
pub fn decision_notice(row: &crate::store::agents_task::Model) -> Notice {
    let event = match row.approval_state {
        Some(crate::store::ApprovalState::Approved) => Event::Approved,
        _ => Event::Rejected,
    };
    Notice {
        event,
        run_id: row.run_id.clone(),
        task: Some(row.clone()),
        digest: None,
        at: row.decided_at.unwrap_or_else(now),
    }
}
