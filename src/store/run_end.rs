//! Whether a run is over, and the exit code it ends with: what `orch wait` returns, what
//! `orch cancel` refuses and `orch retry` looks at. A run has no status column; its tasks'
//! statuses and its cancel request say how it stands.

use crate::error::code;
use crate::store::{TaskStatus, agents_run, agents_task};

/// No task runs, is queued or waits for a decision: nothing more happens unless it is
/// retried.
pub fn is_over(rows: &[agents_task::Model]) -> bool {
    rows.iter().all(|r| {
        !matches!(
            r.status,
            TaskStatus::Queued | TaskStatus::Running | TaskStatus::AwaitingApproval
        )
    })
}

/// The code an ended run exits with: 7 when it was cancelled, 1 when a task failed
/// (rejections included), else 0.
pub fn exit_code(run: Option<&agents_run::Model>, rows: &[agents_task::Model]) -> i32 {
    if run.is_some_and(|r| r.cancel_requested_at.is_some()) {
        code::CANCELLED
    } else if rows.iter().any(|r| r.status == TaskStatus::Failed) {
        code::TASK_FAILED
    } else {
        code::SUCCESS
    }
}
