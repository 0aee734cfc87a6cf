//! A finished task's status, from how its process ended, what it said about itself on its
//! last stdout line, and its approval policy.

use super::outputs::ResultLine;
use super::process::End;
use crate::plan::Approval;
use crate::store::TaskStatus;

/// The final status and, when it is not plain success, the excerpt's last line.
pub fn verdict(
    end: &End,
    result: Option<&ResultLine>,
    approval: Approval,
    has_outputs_uri: bool,
) -> (TaskStatus, Option<String>) {
    if end != &End::Exited(0) {
        return (TaskStatus::Failed, end.reason());
    }
    let gated = match approval {
        Approval::Never => false,
        Approval::Always => true,
        Approval::OnOutputUri => has_outputs_uri,
    };
    // A result line counts only after a clean exit, and only to make things stricter: it can
    // fail, skip or gate a task, never succeed a failure or lift `approval: always`.
    match result.and_then(|r| r.status) {
        Some(TaskStatus::Failed) => (
            TaskStatus::Failed,
            Some("the task reported status `failed`".to_owned()),
        ),
        Some(TaskStatus::Skipped) if !gated => (TaskStatus::Skipped, None),
        Some(TaskStatus::AwaitingApproval) => (TaskStatus::AwaitingApproval, None),
        _ if gated => (TaskStatus::AwaitingApproval, None),
        _ => (TaskStatus::Succeeded, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(status: TaskStatus) -> ResultLine {
        ResultLine {
            status: Some(status),
            outputs_uri: None,
        }
    }

    #[test]
    fn a_failure_stays_a_failure() {
        let (s, reason) = verdict(
            &End::Exited(3),
            Some(&said(TaskStatus::Succeeded)),
            Approval::Never,
            false,
        );
        assert_eq!(s, TaskStatus::Failed);
        assert_eq!(reason.as_deref(), Some("exit status 3"));
        let (s, reason) = verdict(&End::Signaled(9), None, Approval::Never, false);
        assert_eq!(
            (s, reason.as_deref()),
            (TaskStatus::Failed, Some("killed by signal 9"))
        );
    }

    #[test]
    fn policies_gate_clean_exits() {
        assert_eq!(
            verdict(&End::Exited(0), None, Approval::Never, true).0,
            TaskStatus::Succeeded
        );
        assert_eq!(
            verdict(&End::Exited(0), None, Approval::Always, false).0,
            TaskStatus::AwaitingApproval
        );
        assert_eq!(
            verdict(&End::Exited(0), None, Approval::OnOutputUri, true).0,
            TaskStatus::AwaitingApproval
        );
        assert_eq!(
            verdict(&End::Exited(0), None, Approval::OnOutputUri, false).0,
            TaskStatus::Succeeded
        );
    }

    #[test]
    fn a_result_line_can_only_make_things_stricter() {
        let v = |s, a| verdict(&End::Exited(0), Some(&said(s)), a, false).0;
        assert_eq!(v(TaskStatus::Failed, Approval::Never), TaskStatus::Failed);
        assert_eq!(v(TaskStatus::Skipped, Approval::Never), TaskStatus::Skipped);
        assert_eq!(
            v(TaskStatus::AwaitingApproval, Approval::Never),
            TaskStatus::AwaitingApproval
        );
        assert_eq!(
            v(TaskStatus::Succeeded, Approval::Always),
            TaskStatus::AwaitingApproval
        );
        assert_eq!(
            v(TaskStatus::Skipped, Approval::Always),
            TaskStatus::AwaitingApproval
        );
        assert_eq!(v(TaskStatus::Failed, Approval::Always), TaskStatus::Failed);
    }
}
