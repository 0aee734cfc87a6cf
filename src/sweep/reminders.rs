//! The reminders and escalations due now: for each gate still waiting, the schedule of the
//! plan saved with its run (`agents_runs.plan_text`, read as `orch resume` reads it), and for
//! each age reached, one transaction that claims the reminder's row and records its
//! deliveries. A racing sweeper's claim changes no row, and it sends nothing.
//!
//! The schedule is read from the saved plan rather than copied onto the task row: the plan
//! is already saved with every run, the runner stays as it is, and what a gate does while it
//! waits is read from the same text its run was started from.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::notify::payload::Reminder;
use crate::notify::{Event, Notice, Notifier, Target};
use crate::plan::saved::SavedPlans;
use crate::plan::{Plan, TaskSpec, Timeout};
use crate::store::approval_reminder::ReminderKind;
use crate::store::reminders::{NewReminder, OpenGate, claim, open_gates};
use crate::store::{Store, now};
use crate::warning::{Warning, say};

/// A reminder or escalation this pass sent.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sent {
    pub task_id: i64,
    pub task: String,
    pub run_id: String,
    pub kind: ReminderKind,
    /// The age it was due at, as the plan wrote it.
    pub after: String,
    pub due_at: String,
    /// The targets it went to.
    pub targets: Vec<String>,
}

/// Sends every reminder due now that nobody sent yet.
pub(super) async fn send_due(store: &Store, config: &Config) -> Result<(Vec<Sent>, Vec<Notifier>)> {
    let at = now();
    let mut plans = SavedPlans::default();
    let mut unreadable: HashSet<String> = HashSet::new();
    let mut notifiers: HashMap<String, Notifier> = HashMap::new();
    let mut sent = Vec::new();
    for gate in open_gates(&store.db).await? {
        // Rejected at the deadline instead (the pass did that first, or the next one will).
        if gate.task.approval_deadline.is_some_and(|d| d <= at) {
            continue;
        }
        let Some(text) = &gate.plan_text else {
            continue;
        };
        let plan = match plans.get(&gate.task.run_id, text) {
            Ok(plan) => plan,
            Err(why) => {
                // Said once per pass and run, not for each of its gates.
                if unreadable.insert(gate.task.run_id.clone()) {
                    say(Warning::SweepPlanUnreadable {
                        run_id: gate.task.run_id.clone(),
                        detail: why.to_owned(),
                    });
                }
                continue;
            }
        };
        let Some(spec) = plan.tasks.iter().find(|t| t.name == gate.task.task) else {
            continue;
        };
        let due = due(spec, gate.opened_at, at);
        if due.is_empty() {
            continue;
        }
        if !notifiers.contains_key(&gate.task.run_id) {
            let n = Notifier::for_run(store, config, Some(&gate.task.run_id)).await?;
            notifiers.insert(gate.task.run_id.clone(), n);
        }
        let Some(notifier) = notifiers.get(&gate.task.run_id) else {
            continue;
        };
        for d in due {
            let targets = targets(d.kind, spec, plan, notifier);
            if let Some(s) = send(store, notifier, &gate, &d, &targets).await? {
                sent.push(s);
            }
        }
    }
    Ok((sent, notifiers.into_values().collect()))
}

/// One age of a gate's schedule that has been reached.
struct Due<'a> {
    kind: ReminderKind,
    after: &'a Timeout,
    due_at: DateTime<Utc>,
    /// A later reminder is due too (the sweeper was not running): this one is claimed
    /// without being sent, so a gate is not reminded of each age at once.
    superseded: bool,
}

/// The reminders and the escalation of `spec` reached at `at` by a gate opened at `opened`.
fn due(spec: &TaskSpec, opened: DateTime<Utc>, at: DateTime<Utc>) -> Vec<Due<'_>> {
    let reached = |t: &Timeout| {
        let due_at = chrono::Duration::from_std(t.after)
            .ok()
            .and_then(|d| opened.checked_add_signed(d))?;
        (due_at <= at).then_some(due_at)
    };
    let mut due: Vec<Due> = spec
        .gate
        .remind
        .iter()
        .filter_map(|t| {
            Some(Due {
                kind: ReminderKind::Remind,
                after: t,
                due_at: reached(t)?,
                superseded: false,
            })
        })
        .collect();
    let reminders = due.len();
    for d in due.iter_mut().take(reminders.saturating_sub(1)) {
        d.superseded = true;
    }
    if let Some(e) = &spec.gate.escalate
        && let Some(due_at) = reached(&e.after)
    {
        due.push(Due {
            kind: ReminderKind::Escalate,
            after: &e.after,
            due_at,
            superseded: false,
        });
    }
    due
}

/// Reminders go to the run's targets that hear `awaiting_approval`; the escalation to the
/// targets its `notify` names (those saved with the run, else the plan's own definition),
/// whatever their `on`.
fn targets(kind: ReminderKind, spec: &TaskSpec, plan: &Plan, notifier: &Notifier) -> Vec<Target> {
    match kind {
        ReminderKind::Remind => notifier
            .targets()
            .iter()
            .filter(|t| t.wants(Event::AwaitingApproval))
            .cloned()
            .collect(),
        ReminderKind::Escalate => {
            let names = spec.gate.escalate.iter().flat_map(|e| &e.notify);
            names
                .filter_map(|name| {
                    let saved = notifier.targets().iter().find(|t| &t.name == name);
                    saved
                        .or_else(|| plan.notify.iter().find(|t| &t.name == name))
                        .cloned()
                })
                .collect()
        }
    }
}

/// Claims reminder `d` of `gate` and records its deliveries in one transaction, then starts
/// sending them; `None` when another process claimed it first.
async fn send(
    store: &Store,
    notifier: &Notifier,
    gate: &OpenGate,
    d: &Due<'_>,
    targets: &[Target],
) -> Result<Option<Sent>> {
    let new = NewReminder {
        task_id: gate.task.id,
        run_id: gate.task.run_id.clone(),
        opened_at: gate.opened_at,
        kind: d.kind,
        after_ms: i64::try_from(d.after.after.as_millis()).unwrap_or(i64::MAX),
        due_at: d.due_at,
    };
    let txn = store.db.begin().await.map_err(Error::db)?;
    if !claim(&txn, &new).await? {
        txn.rollback().await.map_err(Error::db)?;
        return Ok(None);
    }
    let notice = Notice {
        event: Event::AwaitingApproval,
        run_id: gate.task.run_id.clone(),
        task: Some(gate.task.clone()),
        digest: None,
        at: now(),
    };
    let reminder = Reminder {
        kind: d.kind,
        age: d.after.text.clone(),
    };
    let chosen: Vec<&Target> = if d.superseded {
        Vec::new()
    } else {
        targets.iter().collect()
    };
    let jobs = notifier
        .record_reminder(&txn, &notice, &reminder, &chosen)
        .await?;
    txn.commit().await.map_err(Error::db)?;
    notifier.start(jobs);
    if d.superseded {
        return Ok(None);
    }
    let names: Vec<String> = chosen.iter().map(|t| t.name.clone()).collect();
    Ok(Some(Sent {
        task_id: gate.task.id,
        task: gate.task.task.clone(),
        run_id: gate.task.run_id.clone(),
        kind: d.kind,
        after: d.after.text.clone(),
        due_at: crate::store::json::timestamp(&d.due_at),
        targets: names,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml_approval: &str) -> TaskSpec {
        let text = format!(
            "name: p\nnotify:\n  oncall:\n    url: ${{ONCALL}}\ntasks:\n  - task: gate\n    \
             run: [\"true\"]\n    approval: {yaml_approval}\n"
        );
        let plan = crate::plan::parse(std::path::Path::new("p.yaml"), text).unwrap();
        plan.tasks.into_iter().next().unwrap()
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    /// (kind, age, superseded) of what is due `secs` after the gate opened.
    fn due_after(spec: &TaskSpec, secs: i64) -> Vec<(ReminderKind, String, bool)> {
        due(spec, at(0), at(secs))
            .iter()
            .map(|d| (d.kind, d.after.text.clone(), d.superseded))
            .collect()
    }

    #[test]
    fn each_age_is_due_once_reached_and_only_the_latest_reminder_is_sent() {
        let s = spec("{remind: [1h, 4h], escalate: {after: 8h, notify: [oncall]}}");
        assert!(due_after(&s, 3599).is_empty());
        assert_eq!(
            due_after(&s, 3600),
            [(ReminderKind::Remind, "1h".to_owned(), false)]
        );
        // Both reminders reached at once (no sweeper ran between): the first is not sent.
        assert_eq!(
            due_after(&s, 5 * 3600),
            [
                (ReminderKind::Remind, "1h".to_owned(), true),
                (ReminderKind::Remind, "4h".to_owned(), false)
            ]
        );
        assert_eq!(
            due_after(&s, 8 * 3600).last(),
            Some(&(ReminderKind::Escalate, "8h".to_owned(), false))
        );
        // The short form has no schedule.
        assert!(due_after(&spec("always"), 10 * 3600).is_empty());
    }

    #[test]
    fn a_gate_is_overdue_past_its_escalation_or_its_deadline() {
        let s = spec("{escalate: {after: 2h, notify: [oncall]}}");
        assert!(!s.gate.overdue(at(0), None, at(7199)));
        assert!(s.gate.overdue(at(0), None, at(7200)));
        let plain = spec("always");
        assert!(!plain.gate.overdue(at(0), None, at(99_999)));
        assert!(plain.gate.overdue(at(0), Some(at(60)), at(61)));
    }
}
