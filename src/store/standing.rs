//! A gate's standing under its approval policy, in one sentence shared by `orch approve`,
//! `orch tasks show` and the task page: "1 of 2 approvals: alice approved; needs 1 more of
//! `alice`, `group:release`, not `bob` (started the run)". A decided gate says how it ended
//! instead of what it still needs.

use crate::status::ApprovalState;
use crate::store::agents_task;
use crate::store::votes::{GatePolicy, Tally};

/// Where `row`'s gate stands, or why its policy cannot be read.
pub fn of_row(row: &agents_task::Model, tally: &Tally, initiator: Option<&str>) -> String {
    match GatePolicy::of(row) {
        Ok(policy) => standing(&policy, tally, initiator, row.approval_state),
        Err(e) => e.to_string(),
    }
}

pub fn standing(
    policy: &GatePolicy,
    tally: &Tally,
    initiator: Option<&str>,
    state: Option<ApprovalState>,
) -> String {
    let counted = counted(policy, tally);
    match state {
        Some(ApprovalState::Approved) => format!("approved: {counted}"),
        Some(ApprovalState::Rejected) => format!("rejected: {counted}"),
        _ => still_needed(policy, tally, initiator, counted),
    }
}

/// "1 of 2 approvals: alice approved, bob rejected".
fn counted(policy: &GatePolicy, tally: &Tally) -> String {
    let mut s = format!(
        "{} of {} approval{}",
        tally.approvals.len(),
        policy.required,
        if policy.required == 1 { "" } else { "s" }
    );
    let said: Vec<String> = tally
        .approvals
        .iter()
        .map(|v| format!("{v} approved"))
        .chain(tally.rejections.iter().map(|v| format!("{v} rejected")))
        .collect();
    if !said.is_empty() {
        s.push_str(": ");
        s.push_str(&said.join(", "));
    }
    s
}

/// The counted votes, then who else is needed and who may not be.
fn still_needed(
    policy: &GatePolicy,
    tally: &Tally,
    initiator: Option<&str>,
    mut s: String,
) -> String {
    let missing = (policy.required as usize).saturating_sub(tally.approvals.len());
    if missing > 0 {
        let from = if policy.approvers.is_empty() {
            "anyone allowed to decide".to_owned()
        } else {
            policy
                .approvers
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s.push_str(&format!("; needs {missing} more of {from}"));
        let mut not: Vec<String> = tally
            .approvals
            .iter()
            .chain(&tally.rejections)
            .map(|v| format!("`{v}`"))
            .collect();
        if policy.forbid_self
            && let Some(i) = initiator
        {
            not.push(format!("`{i}` (started the run)"));
        }
        if !not.is_empty() {
            s.push_str(&format!(", not {}", not.join(", ")));
        }
    }
    if policy.rejections_needed() > 1 {
        s.push_str(&format!(
            "; {} of {} rejections reject it",
            tally.rejections.len(),
            policy.rejections_needed()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::RejectRule;

    #[test]
    fn says_who_voted_and_who_is_still_needed() {
        let policy = GatePolicy {
            approvers: vec!["alice".into(), "group:release".into()],
            voters: Some(vec!["alice".into(), "bob".into(), "carol".into()]),
            required: 2,
            forbid_self: true,
            reject: RejectRule::Veto,
            links: None,
        };
        let tally = Tally {
            approvals: vec!["alice".into()],
            rejections: vec![],
        };
        assert_eq!(
            standing(&policy, &tally, Some("bob"), Some(ApprovalState::Pending)),
            "1 of 2 approvals: alice approved; needs 1 more of `alice`, `group:release`, \
             not `alice`, `bob` (started the run)"
        );
        let vetoed = Tally {
            approvals: vec!["alice".into()],
            rejections: vec!["carol".into()],
        };
        assert_eq!(
            standing(&policy, &vetoed, Some("bob"), Some(ApprovalState::Rejected)),
            "rejected: 1 of 2 approvals: alice approved, carol rejected"
        );
    }
}
