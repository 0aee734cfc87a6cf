//! A task's `approval` key: the short form (`approval: always`) or the object form
//! (`approval: {when: always, remind: [1h, 4h], escalate: {after: 8h, notify: [oncall]}}`),
//! read with a location on every value and checked into a [`Gate`].
//!
//! serde's untagged enums buffer the value and lose serde-saphyr's spans, so the two forms are
//! told apart by hand ([`RawApproval`]'s `Deserialize`): a scalar is the short form, a mapping
//! the object, each read by the ordinary derived code, which keeps every span and reports an
//! unknown key at its line and column.

use std::fmt;

use chrono::{DateTime, Utc};

use serde::Deserialize;
use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::duration::timeout;
use super::issues::{at, issue};
use super::policy::{Policy, RawPolicy, RejectRule};
use super::problem::Problem;
use super::schema::{Duration, Name};
use super::{Approval, Loc, Timeout};
use crate::error::PlanIssue;

/// `approval:` as written.
#[derive(Debug)]
pub enum RawApproval {
    Short(Approval),
    /// A scalar that is none of the short form's values, reported by [`approval`] at the
    /// value (an error raised here would point at the key).
    Unknown(String),
    Object(Box<RawGate>),
}

/// The object form of `approval`: when the gate opens, and what it does while it waits.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ApprovalObject")]
pub struct RawGate {
    /// When a task that exited 0 waits for a person (default `always`).
    #[schemars(with = "Option<GateWhen>")]
    pub when: Option<Spanned<Approval>>,
    /// Ages of the undecided gate at which its targets are reminded, increasing: `[1h, 4h]`.
    #[schemars(with = "Option<Vec<Duration>>", length(min = 1))]
    pub remind: Option<Spanned<Vec<Spanned<String>>>>,
    /// Who else hears of the gate, once, when it has waited this long.
    #[schemars(with = "Option<RawEscalate>")]
    pub escalate: Option<Spanned<RawEscalate>>,
    /// Who may vote: user names, and `group:NAME` for every member of a group (resolved when
    /// the gate opens). Without it, anyone allowed to decide may vote.
    #[schemars(with = "Option<Vec<String>>", length(min = 1))]
    pub approvers: Option<Spanned<Vec<Spanned<String>>>>,
    /// How many distinct approvals settle the gate (default 1).
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub required: Option<Spanned<u32>>,
    /// Whoever started the run may not vote on its gates (default false).
    #[schemars(with = "Option<bool>")]
    pub forbid_self: Option<Spanned<bool>>,
    /// `veto` (default): one rejection settles the gate; `quorum`: as many rejections as
    /// `required`.
    #[schemars(with = "Option<RejectRule>")]
    pub reject: Option<Spanned<RejectRule>>,
    /// One-click approve and reject links for each approver in the gate's Slack and email
    /// notifications, valid this long (and never past `approval_timeout`); needs `approvers`
    /// and `ORCH_PUBLIC_URL`. Off by default.
    #[schemars(with = "Option<Duration>")]
    pub links: Option<Spanned<String>>,
}

/// `escalate:` in the object form.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Escalate")]
pub struct RawEscalate {
    /// The gate's age at which the escalation is sent.
    #[schemars(with = "Duration")]
    pub after: Spanned<String>,
    /// Targets of the plan's `notify` block that receive it (and only it).
    #[schemars(with = "Vec<Name>", length(min = 1))]
    pub notify: Spanned<Vec<Spanned<String>>>,
}

/// When the gate opens: the short form's values but `never`.
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a shape for the schema only
enum GateWhen {
    Always,
    /// When the task produced an outputs URI (it opened a PR, say).
    OnOutputUri,
}

/// `never`, `always`, `on_output_uri`, or the object form.
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // a shape for the schema only
pub enum ApprovalShape {
    Short(Approval),
    Object(Box<RawGate>),
}

impl<'de> Deserialize<'de> for RawApproval {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;

        impl<'de> Visitor<'de> for Either {
            type Value = RawApproval;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`never`, `always`, `on_output_uri`, or a mapping with `when`, `remind`, `escalate`, `approvers`, `required`, `forbid_self`, `reject`, `links`")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawApproval, E> {
                let short: Result<Approval, E> = Approval::deserialize(s.into_deserializer());
                Ok(short.map_or_else(|_| RawApproval::Unknown(s.to_owned()), RawApproval::Short))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawApproval, A::Error> {
                RawGate::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|g| RawApproval::Object(Box::new(g)))
            }
        }

        d.deserialize_any(Either)
    }
}

/// What a gate does while it waits, beyond `approval_timeout`: the object form's keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gate {
    /// Ages at which the gate's targets are reminded, increasing.
    pub remind: Vec<Timeout>,
    pub escalate: Option<Escalate>,
    /// Who may vote and how many must: `None` is one decision by anyone allowed to decide.
    pub policy: Option<Policy>,
}

impl Gate {
    /// Whether a gate opened at `opened`, still undecided at `now`, waits longer than its plan
    /// allows: past its `approval_timeout` (`deadline`), or past `escalate.after`.
    pub fn overdue(
        &self,
        opened: DateTime<Utc>,
        deadline: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> bool {
        let escalated = self.escalate.as_ref().is_some_and(|e| {
            chrono::Duration::from_std(e.after.after)
                .ok()
                .and_then(|d| opened.checked_add_signed(d))
                .is_some_and(|at| at <= now)
        });
        escalated || deadline.is_some_and(|d| d <= now)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Escalate {
    pub after: Timeout,
    /// Names of the plan's targets (checked against the `notify` block by [`check_targets`]).
    pub notify: Vec<String>,
    pub notify_locs: Vec<Loc>,
}

/// `approval` checked: when the task waits, and what its gate does meanwhile. A mistake is
/// reported and its part left out (the plan fails anyway).
pub(super) fn approval(
    raw: Option<&Spanned<RawApproval>>,
    task: &str,
    issues: &mut Vec<PlanIssue>,
) -> (Approval, Gate) {
    let Some(raw) = raw else {
        return (Approval::Never, Gate::default());
    };
    let gate = match &raw.value {
        RawApproval::Short(a) => return (*a, Gate::default()),
        RawApproval::Unknown(value) => {
            let value = value.clone();
            issue(issues, at(raw), Problem::UnknownApproval { value });
            return (Approval::Never, Gate::default());
        }
        RawApproval::Object(g) => g,
    };
    let when = match &gate.when {
        Some(w) if w.value == Approval::Never => {
            let task = task.to_owned();
            issue(issues, at(w), Problem::GateNeverWaits { task });
            Approval::Never
        }
        Some(w) => w.value,
        None => Approval::Always,
    };
    let remind = gate
        .remind
        .as_ref()
        .map(|r| reminders(r, task, issues))
        .unwrap_or_default();
    let escalate = gate.escalate.as_ref().and_then(|e| {
        let after = timeout(&e.value.after, "escalate.after", issues)?;
        if e.value.notify.value.is_empty() {
            let task = task.to_owned();
            issue(
                issues,
                at(&e.value.notify),
                Problem::NoEscalateTargets { task },
            );
        }
        Some(Escalate {
            after,
            notify: e
                .value
                .notify
                .value
                .iter()
                .map(|n| n.value.clone())
                .collect(),
            notify_locs: e.value.notify.value.iter().map(at).collect(),
        })
    });
    let policy = super::policy::policy(
        RawPolicy {
            approvers: gate.approvers.as_ref(),
            required: gate.required.as_ref(),
            forbid_self: gate.forbid_self.as_ref(),
            reject: gate.reject.as_ref(),
            links: gate.links.as_ref(),
        },
        task,
        issues,
    );
    (
        when,
        Gate {
            remind,
            escalate,
            policy,
        },
    )
}

/// The `remind` ages: each a duration, each later than the one before.
fn reminders(
    raw: &Spanned<Vec<Spanned<String>>>,
    task: &str,
    issues: &mut Vec<PlanIssue>,
) -> Vec<Timeout> {
    if raw.value.is_empty() {
        let task = task.to_owned();
        issue(issues, at(raw), Problem::NoReminders { task });
    }
    let mut ages: Vec<Timeout> = Vec::new();
    for age in &raw.value {
        let Some(t) = timeout(age, "remind", issues) else {
            continue;
        };
        if let Some(before) = ages.last().filter(|b| b.after >= t.after) {
            let problem = Problem::RemindNotIncreasing {
                task: task.to_owned(),
                age: t.text.clone(),
                before: before.text.clone(),
            };
            issue(issues, at(age), problem);
            continue;
        }
        ages.push(t);
    }
    ages
}

/// A reminder or escalation at or after `approval_timeout` could never be sent (orch rejects
/// the gate then): an error rather than a silent no-op.
pub(super) fn check_against_timeout(
    gate: &Gate,
    raw: Option<&Spanned<RawApproval>>,
    approval_timeout: Option<&Timeout>,
    task: &str,
    issues: &mut Vec<PlanIssue>,
) {
    let (Some(limit), Some(raw)) = (approval_timeout, raw) else {
        return;
    };
    let RawApproval::Object(raw) = &raw.value else {
        return;
    };
    let late = |t: &Timeout| t.after >= limit.after;
    if let (Some(last), Some(r)) = (gate.remind.last(), &raw.remind)
        && late(last)
    {
        let problem = Problem::RemindAfterTimeout {
            task: task.to_owned(),
            age: last.text.clone(),
            timeout: limit.text.clone(),
        };
        issue(issues, at(r), problem);
    }
    if let (Some(e), Some(r)) = (&gate.escalate, &raw.escalate)
        && late(&e.after)
    {
        let problem = Problem::EscalateAfterTimeout {
            task: task.to_owned(),
            after: e.after.text.clone(),
            timeout: limit.text.clone(),
        };
        issue(issues, at(&r.value.after), problem);
    }
}

/// Every `escalate.notify` name must be a target of the plan's `notify` block.
pub(super) fn check_targets(
    tasks: &[super::TaskSpec],
    targets: &[&str],
    issues: &mut Vec<PlanIssue>,
) {
    for t in tasks {
        let Some(e) = &t.gate.escalate else {
            continue;
        };
        for (name, loc) in e.notify.iter().zip(&e.notify_locs) {
            if !targets.contains(&name.as_str()) {
                let problem = Problem::UnknownEscalateTarget {
                    task: t.name.clone(),
                    target: name.clone(),
                };
                issue(issues, *loc, problem);
            }
        }
    }
}
