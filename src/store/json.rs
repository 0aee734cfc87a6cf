//! The one JSON shape of a task row and of a run, shared by every `--json` output and the
//! REST API: every column present (null when empty), timestamps RFC 3339 in UTC with
//! `Z`, `inputs` as JSON rather than a string.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::status::{ApprovalState, TaskStatus};
use crate::store::query::RunSummary;
use crate::store::{agents_task, agents_task_attempt, webhook_delivery};

pub use crate::format::time::timestamp;

fn ts(at: &Option<DateTime<Utc>>) -> Option<String> {
    at.as_ref().map(timestamp)
}

/// A row of `agents_tasks`, in column order. Its OpenAPI schema is derived from this very
/// type, so the documented shape cannot drift from what is sent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Task)]
pub struct TaskJson<'a> {
    pub id: i64,
    pub task: &'a str,
    pub run_id: &'a str,
    pub status: TaskStatus,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub inputs: &'a Option<serde_json::Value>,
    pub outputs_uri: &'a Option<String>,
    pub log_excerpt: &'a Option<String>,
    pub approval_state: Option<ApprovalState>,
    pub approver: &'a Option<String>,
    pub approval_note: &'a Option<String>,
    #[schema(format = DateTime)]
    pub decided_at: Option<String>,
    pub attempt: i32,
    pub exit_code: Option<i32>,
    #[schema(format = DateTime)]
    pub approval_deadline: Option<String>,
    pub owner: &'a Option<String>,
    #[schema(format = DateTime)]
    pub heartbeat_at: Option<String>,
}

impl<'a> From<&'a agents_task::Model> for TaskJson<'a> {
    fn from(m: &'a agents_task::Model) -> Self {
        TaskJson {
            id: m.id,
            task: &m.task,
            run_id: &m.run_id,
            status: m.status,
            started_at: ts(&m.started_at),
            finished_at: ts(&m.finished_at),
            duration_ms: m.duration_ms,
            inputs: &m.inputs,
            outputs_uri: &m.outputs_uri,
            log_excerpt: &m.log_excerpt,
            approval_state: m.approval_state,
            approver: &m.approver,
            approval_note: &m.approval_note,
            decided_at: ts(&m.decided_at),
            attempt: m.attempt,
            exit_code: m.exit_code,
            approval_deadline: ts(&m.approval_deadline),
            owner: &m.owner,
            heartbeat_at: ts(&m.heartbeat_at),
        }
    }
}

pub fn task(m: &agents_task::Model) -> serde_json::Value {
    serde_json::to_value(TaskJson::from(m)).unwrap_or_default()
}

/// A task row with its earlier attempts (`orch tasks show --json`): the row's keys, then,
/// for a task that was retried, `previous_attempts`, oldest first. A task never retried
/// prints exactly the row, the API's shape (scripts compare the two).
pub fn task_with_attempts(
    m: &agents_task::Model,
    attempts: &[agents_task_attempt::Model],
) -> serde_json::Value {
    let mut value = task(m);
    if attempts.is_empty() {
        return value;
    }
    if let serde_json::Value::Object(map) = &mut value {
        let previous = attempts.iter().map(attempt).collect();
        map.insert(
            "previous_attempts".to_owned(),
            serde_json::Value::Array(previous),
        );
    }
    value
}

/// A task row with, for a gate with a policy or votes, `approval`: its policy, the
/// subject votes are cast on, and every vote (`current: false` for those on an earlier run of
/// the task, which no longer count). Any other row prints exactly as [`task`].
pub fn task_with_votes(
    m: &agents_task::Model,
    votes: &[crate::store::approval_vote::Model],
) -> serde_json::Value {
    let mut value = task(m);
    add_approval(&mut value, m, votes);
    value
}

/// Adds `approval` to a task's JSON when the row is a gate.
pub fn add_approval(
    value: &mut serde_json::Value,
    m: &agents_task::Model,
    votes: &[crate::store::approval_vote::Model],
) {
    // A gate without a policy nobody voted on yet prints as the row alone, as it always did.
    if m.approval_state.is_none() || (m.approval_policy.is_none() && votes.is_empty()) {
        return;
    }
    if let serde_json::Value::Object(map) = value {
        map.insert("approval".to_owned(), approval(m, votes));
    }
}

fn approval(
    m: &agents_task::Model,
    votes: &[crate::store::approval_vote::Model],
) -> serde_json::Value {
    let subject = crate::store::gate_policy::subject(m);
    let votes: Vec<serde_json::Value> = votes
        .iter()
        .map(|v| {
            serde_json::json!({
                "voter": v.voter,
                "verdict": v.verdict,
                "note": v.note,
                "channel": v.channel,
                "cast_at": timestamp(&v.cast_at),
                "current": v.subject == subject,
            })
        })
        .collect();
    match crate::store::gate_policy::GatePolicy::of(m) {
        Ok(policy) => serde_json::json!({
            "subject": subject,
            "approvers": policy.approvers,
            "voters": policy.voters,
            "required": policy.required,
            "forbid_self": policy.forbid_self,
            "reject": policy.reject,
            "links": policy.links,
            "votes": votes,
        }),
        // Shown, not hidden: the votes stand, and the reason says why no more are taken.
        Err(e) => serde_json::json!({
            "subject": subject,
            "error": e.to_string(),
            "votes": votes,
        }),
    }
}

/// One earlier attempt of a task, as it ended before `orch retry` ran it again.
pub fn attempt(a: &agents_task_attempt::Model) -> serde_json::Value {
    serde_json::json!({
        "attempt": a.attempt,
        "status": a.status,
        "exit_code": a.exit_code,
        "started_at": ts(&a.started_at),
        "finished_at": ts(&a.finished_at),
        "duration_ms": a.duration_ms,
        "log_excerpt": a.log_excerpt,
        "outputs_uri": a.outputs_uri,
        "approval_state": a.approval_state,
        "approver": a.approver,
        "approval_note": a.approval_note,
        "decided_at": ts(&a.decided_at),
        "retried_at": timestamp(&a.retried_at),
        "retried_by": a.retried_by,
    })
}

pub fn tasks(rows: &[agents_task::Model]) -> serde_json::Value {
    serde_json::Value::Array(rows.iter().map(task).collect())
}

/// A run: its `agents_runs` record when there is one, and counts per status.
#[derive(Debug, Serialize)]
pub struct RunJson<'a> {
    pub run_id: &'a str,
    pub plan_name: Option<&'a str>,
    pub plan_sha256: Option<&'a str>,
    pub git_commit: Option<&'a str>,
    pub host: Option<&'a str>,
    pub orch_version: Option<&'a str>,
    pub trigger: Option<&'a str>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Who asked `orch cancel` (or the run page) to stop the run, and when; `null` when no
    /// one did, or the run was retried since.
    pub cancel_requested_at: Option<String>,
    pub cancel_requested_by: Option<&'a str>,
    pub tasks: i64,
    pub counts: BTreeMap<&'static str, i64>,
}

impl<'a> From<&'a RunSummary> for RunJson<'a> {
    fn from(r: &'a RunSummary) -> Self {
        let rec = r.record.as_ref();
        RunJson {
            run_id: &r.run_id,
            plan_name: rec.map(|x| x.plan_name.as_str()),
            plan_sha256: rec.map(|x| x.plan_sha256.as_str()),
            git_commit: rec.and_then(|x| x.git_commit.as_deref()),
            host: rec.map(|x| x.host.as_str()),
            orch_version: rec.map(|x| x.orch_version.as_str()),
            trigger: rec.map(|x| x.trigger.as_str()),
            started_at: ts(&r.started_at),
            finished_at: ts(&r.finished_at),
            cancel_requested_at: rec.and_then(|x| ts(&x.cancel_requested_at)),
            cancel_requested_by: rec.and_then(|x| x.cancel_requested_by.as_deref()),
            tasks: r.total(),
            // Every status present, zero when none, so scripts need no defaults.
            counts: TaskStatus::ALL
                .iter()
                .map(|s| (s.as_str(), r.count(*s)))
                .collect(),
        }
    }
}

pub fn run(r: &RunSummary) -> serde_json::Value {
    serde_json::to_value(RunJson::from(r)).unwrap_or_default()
}

/// A row of `webhook_deliveries`, in column order; `payload` as the JSON it is.
pub fn delivery(d: &webhook_delivery::Model) -> serde_json::Value {
    serde_json::json!({
        "id": d.id,
        "task_id": d.task_id,
        "run_id": d.run_id,
        "event": d.event,
        "target": d.target,
        "kind": d.kind,
        "url_redacted": d.url_redacted,
        "payload": serde_json::from_str::<serde_json::Value>(&d.payload)
            .unwrap_or_else(|_| serde_json::Value::String(d.payload.clone())),
        "status": d.status,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "created_at": timestamp(&d.created_at),
        "updated_at": timestamp(&d.updated_at),
        "locked_until": ts(&d.locked_until),
        "delivered_at": ts(&d.delivered_at),
    })
}

pub fn deliveries(rows: &[webhook_delivery::Model]) -> serde_json::Value {
    serde_json::Value::Array(rows.iter().map(delivery).collect())
}
