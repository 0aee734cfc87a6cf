//! The approval policy keys of `approval:`'s object form: who may vote on a gate
//! (`approvers`), how many distinct approvals settle it (`required`), whether the run's
//! initiator may vote (`forbid_self`), what a rejection does (`reject`), and how long the
//! one-click links in its notifications stay valid (`links`). Read here into a
//! [`Policy`]; enforced by `store::votes`, the one function every vote goes through.

use serde_saphyr::Spanned;

use super::issues::{at, issue};
use super::problem::Problem;
use crate::error::PlanIssue;
pub use crate::status::{GROUP_PREFIX, RejectRule};

/// How long one-click links may stay valid: long enough to reach someone, short enough that
/// a link in an old message is no standing credential.
pub const LINKS_MIN: std::time::Duration = std::time::Duration::from_secs(60);
pub const LINKS_MAX: std::time::Duration = std::time::Duration::from_secs(90 * 24 * 3600);

/// One `approvers` entry: a user by name, or every member of a group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Approver {
    User(String),
    Group(String),
}

impl Approver {
    /// As the plan writes it: `alice`, `group:release`.
    pub fn written(&self) -> String {
        match self {
            Approver::User(u) => u.clone(),
            Approver::Group(g) => format!("{GROUP_PREFIX}{g}"),
        }
    }
}

/// A gate's policy as the plan says it. `approvers` empty: anyone allowed to decide may vote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub approvers: Vec<Approver>,
    pub required: u32,
    pub forbid_self: bool,
    pub reject: RejectRule,
    /// How long one-click links stay valid; `None`: no links.
    pub links: Option<super::Timeout>,
}

/// The policy keys as written (flattened into `RawGate`).
pub struct RawPolicy<'a> {
    pub approvers: Option<&'a Spanned<Vec<Spanned<String>>>>,
    pub required: Option<&'a Spanned<u32>>,
    pub forbid_self: Option<&'a Spanned<bool>>,
    pub reject: Option<&'a Spanned<RejectRule>>,
    pub links: Option<&'a Spanned<String>>,
}

/// The policy, when any of its keys is written; mistakes are reported and left out.
pub(super) fn policy(
    raw: RawPolicy<'_>,
    task: &str,
    issues: &mut Vec<PlanIssue>,
) -> Option<Policy> {
    if raw.approvers.is_none()
        && raw.required.is_none()
        && raw.forbid_self.is_none()
        && raw.reject.is_none()
        && raw.links.is_none()
    {
        return None;
    }
    let mut approvers: Vec<Approver> = Vec::new();
    if let Some(list) = raw.approvers {
        if list.value.is_empty() {
            let task = task.to_owned();
            issue(issues, at(list), Problem::NoApprovers { task });
        }
        for entry in &list.value {
            let Some(approver) = approver(&entry.value) else {
                let problem = Problem::BadApprover {
                    task: task.to_owned(),
                    entry: entry.value.clone(),
                };
                issue(issues, at(entry), problem);
                continue;
            };
            if approvers.contains(&approver) {
                let problem = Problem::DuplicateApprover {
                    task: task.to_owned(),
                    entry: entry.value.clone(),
                };
                issue(issues, at(entry), problem);
                continue;
            }
            approvers.push(approver);
        }
    }
    let required = raw.required.map_or(1, |r| r.value);
    if let Some(r) = raw.required {
        let only_users = approvers.iter().all(|a| matches!(a, Approver::User(_)));
        if r.value == 0 {
            let task = task.to_owned();
            issue(issues, at(r), Problem::RequiredZero { task });
        } else if only_users && !approvers.is_empty() && r.value as usize > approvers.len() {
            let problem = Problem::RequiredExceedsApprovers {
                task: task.to_owned(),
                required: r.value,
                listed: approvers.len(),
            };
            issue(issues, at(r), problem);
        }
    }
    let links = raw.links.and_then(|l| {
        let t = super::duration::timeout(l, "links", issues)?;
        if t.after < LINKS_MIN || t.after > LINKS_MAX {
            let problem = Problem::LinksOutOfRange {
                task: task.to_owned(),
                value: t.text.clone(),
            };
            issue(issues, at(l), problem);
            return None;
        }
        Some(t)
    });
    if let Some(l) = raw.links
        && raw.approvers.is_none()
    {
        let task = task.to_owned();
        issue(issues, at(l), Problem::LinksWithoutApprovers { task });
    }
    Some(Policy {
        links,
        approvers,
        required: required.max(1),
        forbid_self: raw.forbid_self.is_some_and(|f| f.value),
        reject: raw.reject.map_or_else(RejectRule::default, |r| r.value),
    })
}

/// `alice` or `group:release`: names as `orch users add` takes them (no spaces, no `:` in a
/// user's name).
fn approver(entry: &str) -> Option<Approver> {
    let valid = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == ':');
    match entry.strip_prefix(GROUP_PREFIX) {
        Some(group) if valid(group) => Some(Approver::Group(group.to_owned())),
        Some(_) => None,
        None if valid(entry) => Some(Approver::User(entry.to_owned())),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_users_or_groups() {
        assert_eq!(approver("alice"), Some(Approver::User("alice".into())));
        assert_eq!(
            approver("group:release"),
            Some(Approver::Group("release".into()))
        );
        assert_eq!(approver("group:"), None);
        assert_eq!(approver("a b"), None);
        assert_eq!(approver("team:x"), None);
        assert_eq!(approver(""), None);
    }
}
