//! What each kind of target receives for each event. These shapes are a contract (the
//! Slack and email ones come from the system we replace): docs/ORCHESTRATION.md §9 shows
//! every one, and the tests check them byte for byte.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::event::Event;
use super::target::TargetKind;
use crate::format::time::duration_ms;
use crate::status::status_counts;
use crate::store::approval_reminder::ReminderKind;
use crate::store::json::{task as task_json, timestamp};
use crate::store::{TaskStatus, agents_task};

/// Something that happened, with what a message about it needs.
#[derive(Clone, Debug)]
pub struct Notice {
    pub event: Event,
    pub run_id: String,
    /// The task it is about (every event but `run_finished`).
    pub task: Option<agents_task::Model>,
    /// The run's outcome (`run_finished` only).
    pub digest: Option<RunDigest>,
    pub at: DateTime<Utc>,
}

/// A finished run in brief.
#[derive(Clone, Debug, Default)]
pub struct RunDigest {
    pub duration_ms: i64,
    /// Tasks per status, every status present.
    pub counts: Vec<(TaskStatus, i64)>,
    /// `(task, id, outputs_uri)` for each task that produced one.
    pub links: Vec<(String, i64, String)>,
}

impl RunDigest {
    pub fn of(rows: &[agents_task::Model], duration_ms: i64) -> Self {
        RunDigest {
            duration_ms,
            counts: TaskStatus::ALL
                .iter()
                .map(|s| (*s, rows.iter().filter(|r| r.status == *s).count() as i64))
                .collect(),
            links: rows
                .iter()
                .filter_map(|r| r.outputs_uri.clone().map(|u| (r.task.clone(), r.id, u)))
                .collect(),
        }
    }

    fn counts_json(&self) -> Value {
        Value::Object(
            self.counts
                .iter()
                .map(|(s, n)| (s.as_str().to_owned(), json!(n)))
                .collect(),
        )
    }

    fn links_json(&self) -> Value {
        Value::Array(
            self.links
                .iter()
                .map(|(task, id, uri)| json!({"task": task, "id": id, "outputs_uri": uri}))
                .collect(),
        )
    }
}

/// A reminder or escalation about a gate still waiting: sent as an `awaiting_approval`
/// notice of the gate again, with what it is and the age it was due at.
#[derive(Clone, Debug)]
pub struct Reminder {
    pub kind: ReminderKind,
    /// The age as the plan wrote it (`4h`).
    pub age: String,
}

/// The body for a target of `kind`.
pub fn body(kind: TargetKind, notice: &Notice) -> Value {
    match kind {
        TargetKind::Slack => json!({ "text": slack_text(notice) }),
        TargetKind::Email => email(notice),
        TargetKind::Webhook => envelope(notice),
    }
}

/// The body of reminder `r` about the gate of `notice` (an `awaiting_approval` notice): the
/// Slack sentence says it; the email and generic webhook bodies are the gate's own, with a
/// `reminder` object added (`kind`, `after`).
pub fn reminder_body(kind: TargetKind, notice: &Notice, r: &Reminder) -> Value {
    let tag = json!({"kind": r.kind.as_str(), "after": r.age});
    match kind {
        TargetKind::Slack => json!({ "text": reminder_text(notice, r) }),
        TargetKind::Email | TargetKind::Webhook => {
            let mut value = body(kind, notice);
            if let Value::Object(m) = &mut value {
                m.insert("reminder".into(), tag);
            }
            value
        }
    }
}

/// The one sentence Slack gets for each event.
pub fn slack_text(n: &Notice) -> String {
    let Some(t) = &n.task else {
        return run_sentence(n);
    };
    let place = place(t);
    match n.event {
        Event::AwaitingApproval => match &t.outputs_uri {
            Some(uri) => format!("Task {} awaiting approval: {uri}", t.task),
            None => format!("Task {} awaiting approval {place}", t.task),
        },
        Event::Failed => format!("Task {} failed {place}", t.task),
        Event::Approved | Event::Rejected => {
            let verb = n.event.as_str();
            let by = t.approver.as_deref().unwrap_or("unknown");
            match &t.approval_note {
                Some(note) => format!("Task {} {verb} by {by} {place}: {note}", t.task),
                None => format!("Task {} {verb} by {by} {place}", t.task),
            }
        }
        Event::RunFinished => run_sentence(n),
    }
}

/// The Slack sentence of a reminder, in the style of the gate's own: the link when the task
/// produced one, else where the gate is.
pub fn reminder_text(n: &Notice, r: &Reminder) -> String {
    let lead = match r.kind {
        ReminderKind::Remind => "Reminder",
        ReminderKind::Escalate => "Escalation",
    };
    let Some(t) = &n.task else {
        return format!("{lead}: run {} has a gate awaiting approval", n.run_id);
    };
    let waited = format!("{lead}: task {} has awaited approval for {}", t.task, r.age);
    match &t.outputs_uri {
        Some(uri) => format!("{waited}: {uri}"),
        None => format!("{waited} {}", place(t)),
    }
}

fn place(t: &agents_task::Model) -> String {
    format!("(run {}, id {})", t.run_id, t.id)
}

fn run_sentence(n: &Notice) -> String {
    let digest = n.digest.clone().unwrap_or_default();
    let count = |s: TaskStatus| {
        digest
            .counts
            .iter()
            .find(|(k, _)| *k == s)
            .map_or(0, |(_, c)| *c)
    };
    let mut text = format!(
        "Run {} finished in {}: {}",
        n.run_id,
        duration_ms(Some(digest.duration_ms)),
        status_counts(count)
    );
    for (task, _, uri) in &digest.links {
        text.push_str(&format!("\n• {task}: {uri}"));
    }
    text
}

/// The email webhook's keys: exactly the five of the original for `awaiting_approval`, then
/// `event`, and `approver` and `note` for decisions.
fn email(n: &Notice) -> Value {
    let t = n.task.as_ref();
    let mut m = Map::new();
    m.insert("run_id".into(), json!(n.run_id));
    m.insert("task".into(), json!(t.map(|t| &t.task)));
    m.insert("status".into(), json!(t.map(|t| t.status.as_str())));
    m.insert(
        "outputs_uri".into(),
        json!(t.and_then(|t| t.outputs_uri.as_ref())),
    );
    m.insert(
        "log_excerpt".into(),
        json!(t.and_then(|t| t.log_excerpt.as_ref())),
    );
    if n.event == Event::AwaitingApproval {
        return Value::Object(m);
    }
    m.insert("event".into(), json!(n.event.as_str()));
    match n.event {
        Event::Approved | Event::Rejected => {
            m.insert(
                "approver".into(),
                json!(t.and_then(|t| t.approver.as_ref())),
            );
            m.insert(
                "note".into(),
                json!(t.and_then(|t| t.approval_note.as_ref())),
            );
        }
        Event::RunFinished => {
            let digest = n.digest.clone().unwrap_or_default();
            m.insert("duration_ms".into(), json!(digest.duration_ms));
            m.insert("counts".into(), digest.counts_json());
            m.insert("links".into(), digest.links_json());
        }
        Event::AwaitingApproval | Event::Failed => {}
    }
    Value::Object(m)
}

/// The generic webhook's envelope, the same for every event.
fn envelope(n: &Notice) -> Value {
    json!({
        "event": n.event.as_str(),
        "occurred_at": timestamp(&n.at),
        "run_id": n.run_id,
        "task": n.task.as_ref().map(task_json),
        "run": n.digest.as_ref().map(|d| json!({
            "duration_ms": d.duration_ms,
            "counts": d.counts_json(),
            "links": d.links_json(),
        })),
        "orch_version": env!("CARGO_PKG_VERSION"),
    })
}
