//! The handlers of `/agents/tasks`, each a thin layer over the store functions the CLI uses.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::auth::{AdminAccess, DecideAccess, ReadAccess};
use super::body::{integral, parse};
use super::checks::{
    check_duration, check_param, check_row_values, check_values, refuse_decision_fields,
    unprocessable,
};
use super::error::{ApiError, ErrorBody};
use crate::identity::Principal;
use crate::plan::is_valid_name;
use crate::store::TaskStatus;
use crate::store::json;
use crate::store::mutation::{NewTask, insert_task};
use crate::store::query::{self, MAX_LIMIT, TaskFilter};
use crate::store::transition::{TaskChange, patch as patch_row};

/// The `{id}` of a path; anything but an integer is a 404 with a JSON body.
pub struct TaskId(pub i64);

impl axum::extract::FromRequestParts<AppState> for TaskId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
        raw.parse()
            .map(TaskId)
            .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, format!("no task with id `{raw}`")))
    }
}

/// A new row. `approval_state` and the other decision fields are set by approve/reject only.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// Letters, digits, `.`, `_` and `-`, and not `.` or `..`: it becomes a file name.
    // The pattern is "any of those characters but all dots unless three or more", which is
    // `is_valid_name` without a lookahead (not every client's regex engine has one).
    #[schema(
        pattern = r"^(\.{0,2}[A-Za-z0-9_-]|\.{3})[A-Za-z0-9._-]*$",
        min_length = 1
    )]
    pub task: String,
    /// As `task`: it names the run's log folder.
    #[schema(
        pattern = r"^(\.{0,2}[A-Za-z0-9_-]|\.{3})[A-Za-z0-9._-]*$",
        min_length = 1
    )]
    pub run_id: String,
    pub status: TaskStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 0)]
    pub duration_ms: Option<i64>,
    #[schema(schema_with = super::json_schema::inputs)]
    pub inputs: Option<Value>,
    #[schema(pattern = r"^[^\u0000]*$")]
    pub outputs_uri: Option<String>,
    #[schema(pattern = r"^[^\u0000]*$")]
    pub log_excerpt: Option<String>,
    #[serde(default)]
    #[schema(ignore)]
    pub approval_state: Option<Value>,
    #[serde(default)]
    #[schema(ignore)]
    pub approver: Option<Value>,
    #[serde(default)]
    #[schema(ignore)]
    pub approval_note: Option<Value>,
    #[serde(default)]
    #[schema(ignore)]
    pub decided_at: Option<Value>,
}

/// Any subset of the changeable columns.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTask {
    pub status: Option<TaskStatus>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 0)]
    pub duration_ms: Option<i64>,
    #[schema(schema_with = super::json_schema::inputs)]
    pub inputs: Option<Value>,
    #[schema(pattern = r"^[^\u0000]*$")]
    pub outputs_uri: Option<String>,
    #[schema(pattern = r"^[^\u0000]*$")]
    pub log_excerpt: Option<String>,
    #[serde(default)]
    #[schema(ignore)]
    pub approval_state: Option<Value>,
    #[serde(default)]
    #[schema(ignore)]
    pub approver: Option<Value>,
    #[serde(default)]
    #[schema(ignore)]
    pub approval_note: Option<Value>,
    #[serde(default)]
    #[schema(ignore)]
    pub decided_at: Option<Value>,
}

/// Who decides and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Who decides. With a credential it defaults to the credential's user, and naming anyone
    /// else is refused (403). On an open server (loopback, no credential configured and no
    /// user token ever issued) there is no user to default to: there `by` is required and
    /// recorded as given, and a decision without it is refused with 422. The schema cannot
    /// say "required" for one mode only, so it calls `by` optional.
    #[schema(pattern = r"^[^\u0000]*\S[^\u0000]*$", min_length = 1)]
    pub by: Option<String>,
    #[schema(pattern = r"^[^\u0000]*$")]
    pub note: Option<String>,
    /// The gate's `approval.subject` as the caller saw it (from `GET /tasks/{id}`): when it
    /// is given and the task ran again since, the vote is refused (409) instead of counting
    /// for output the caller has not seen.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub subject: Option<String>,
}

/// Create a task row.
#[utoipa::path(post, path = "/agents/tasks", request_body = CreateTask,
    responses(
        (status = 201, description = "The created row", body = json::TaskJson),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No credential, or a token unknown, revoked or expired", body = ErrorBody),
        (status = 403, description = "The token's scope does not allow this, or `by` names someone else", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
        (status = 500, description = "A database error (the detail is in the server's log)", body = ErrorBody),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn create(
    _: AdminAccess,
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: CreateTask = parse(body)?;
    refuse_decision_fields([
        &req.approval_state,
        &req.approver,
        &req.approval_note,
        &req.decided_at,
    ])?;
    for (field, value) in [("task", &req.task), ("run_id", &req.run_id)] {
        if !is_valid_name(value) {
            return Err(unprocessable(
                field,
                format!("`{field}` must be letters, digits, `.`, `_` and `-`, and not `.` or `..`"),
            ));
        }
    }
    check_duration(req.duration_ms)?;
    check_values(
        &[("task", Some(&req.task)), ("run_id", Some(&req.run_id))],
        &[],
        None,
    )?;
    check_row_values(
        &req.outputs_uri,
        &req.log_excerpt,
        req.started_at,
        req.finished_at,
        &req.inputs,
    )?;
    // One INSERT: a row is created whole or not at all.
    let new = NewTask {
        started_at: req.started_at,
        inputs: req.inputs,
        finished_at: req.finished_at,
        duration_ms: req.duration_ms,
        outputs_uri: req.outputs_uri,
        log_excerpt: req.log_excerpt,
        ..NewTask::new(req.task, req.run_id, req.status)
    };
    let row = insert_task(&state.store.db, new).await?;
    Ok((StatusCode::CREATED, Json(json::task(&row))))
}

/// Change any subset of a row's columns; a status change follows the transition table.
#[utoipa::path(patch, path = "/agents/tasks/{id}", request_body = PatchTask,
    params(("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "The updated row", body = json::TaskJson),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No credential, or a token unknown, revoked or expired", body = ErrorBody),
        (status = 403, description = "The token's scope does not allow this, or `by` names someone else", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "The row changed meanwhile, a live orch is running it, or it is a gate awaiting or past its decision", body = ErrorBody),
        (status = 422, description = "A field is wrong, or the transition is not allowed", body = ErrorBody),
        (status = 500, description = "A database error (the detail is in the server's log)", body = ErrorBody),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn patch(
    _: AdminAccess,
    State(state): State<AppState>,
    TaskId(id): TaskId,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let req: PatchTask = parse(body)?;
    refuse_decision_fields([
        &req.approval_state,
        &req.approver,
        &req.approval_note,
        &req.decided_at,
    ])?;
    check_duration(req.duration_ms)?;
    check_row_values(
        &req.outputs_uri,
        &req.log_excerpt,
        req.started_at,
        req.finished_at,
        &req.inputs,
    )?;
    let change = TaskChange {
        started_at: req.started_at,
        finished_at: req.finished_at,
        duration_ms: req.duration_ms,
        outputs_uri: req.outputs_uri,
        log_excerpt: req.log_excerpt,
        inputs: req.inputs,
        ..Default::default()
    };
    // One guarded UPDATE, with or without a status change, on the status read here: a row
    // that moved meanwhile, or that a live orch is running, is refused (409).
    let db = &state.store.db;
    let current = query::get_task(db, id).await?;
    if current.status == TaskStatus::AwaitingApproval
        && req.status.is_some_and(|to| to != current.status)
    {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "status",
            format!(
                "task {id} awaits a decision: use `POST /agents/tasks/{id}/approve` or `/reject`"
            ),
        ));
    }
    let stale_after = state.config.timing.stale_after;
    let row = patch_row(db, id, current.status, req.status, change, stale_after).await?;
    Ok(Json(json::task(&row)))
}

/// List rows, newest first.
#[utoipa::path(get, path = "/agents/tasks",
    params(
        ("run_id" = Option<String>, Query, pattern = r"^[^\u0000]*$", description = "Only this run (empty: any run)"),
        ("status" = Option<TaskStatus>, Query, description = "Only this status (an empty value is refused: leave the parameter out for any status)"),
        ("task" = Option<String>, Query, pattern = r"^[^\u0000]*$", description = "Only this task name (empty: any task)"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 1000, description = "At most this many rows (1–1000, default 50)"),
    ),
    responses(
        (status = 200, description = "Rows, newest first", body = Vec<json::TaskJson>),
        (status = 401, description = "Beyond loopback: no credential, or a token unknown, revoked or expired", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody),
        (status = 500, description = "A database error (the detail is in the server's log)", body = ErrorBody),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn list(
    _: ReadAccess,
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<axum::response::Response, ApiError> {
    let mut filter = TaskFilter::default();
    for (key, value) in params {
        check_param(&key, &value)?;
        match key.as_str() {
            "run_id" => filter.run_id = Some(value).filter(|v| !v.is_empty()),
            "task" => filter.task = Some(value).filter(|v| !v.is_empty()),
            // The document's enum has no empty value, and a client whose variable came out
            // empty means something: refused, not taken as "any status" (answering every row
            // to a filter that was meant to narrow them is the surprise a client cannot see).
            "status" if value.is_empty() => return Err(empty_status()),
            "status" => {
                filter.status = Some(
                    value
                        .parse()
                        .map_err(|e: String| unprocessable("status", e))?,
                )
            }
            "limit" => {
                let n: u64 = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        unprocessable("limit", format!("`limit` must be 1 to {MAX_LIMIT}"))
                    })?;
                filter.limit = Some(n);
            }
            other => {
                return Err(unprocessable(
                    other,
                    format!("unknown parameter `{other}`: use run_id, status, task or limit"),
                ));
            }
        }
    }
    let rows = query::list_tasks(&state.store.db, &filter).await?;
    // Serialized straight from the rows (the same shape as `json::tasks`, without building
    // a `serde_json::Value` map per row first: the busiest endpoint, and allocation-bound).
    let body: Vec<json::TaskJson<'_>> = rows.iter().map(json::TaskJson::from).collect();
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response())
}

fn empty_status() -> ApiError {
    let all: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
    unprocessable(
        "status",
        format!(
            "`status` is empty: use one of {}, or leave it out for any status",
            all.join(", ")
        ),
    )
}

/// One row.
#[utoipa::path(get, path = "/agents/tasks/{id}",
    params(("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "The row", body = json::TaskJson),
        (status = 401, description = "Beyond loopback: no credential, or a token unknown, revoked or expired", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 500, description = "A database error (the detail is in the server's log)", body = ErrorBody),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn get_one(
    _: ReadAccess,
    State(state): State<AppState>,
    TaskId(id): TaskId,
) -> Result<Json<Value>, ApiError> {
    let row = query::get_task(&state.store.db, id).await?;
    let votes = crate::store::votes::votes(&state.store.db, id).await?;
    Ok(Json(json::task_with_votes(&row, &votes)))
}

async fn decide_with(
    state: AppState,
    who: Principal,
    id: i64,
    body: Result<Bytes, BytesRejection>,
    approve: bool,
) -> Result<Json<Value>, ApiError> {
    let req: DecisionBody = parse(body)?;
    let by = approver(&who, req.by.as_deref())?;
    check_values(&[("by", Some(&by)), ("note", req.note.as_ref())], &[], None)?;
    // Without a credential (an open loopback server) the name is only what the caller typed.
    let proof = match who.user {
        Some(_) => crate::store::votes::Proof::Credential,
        None => crate::store::votes::Proof::Typed,
    };
    let ballot = crate::runner::decision::Ballot {
        voter: by,
        proof,
        approve,
        note: req.note,
        channel: crate::store::approval_vote::Channel::Api,
        seen: req.subject,
    };
    let cast = crate::runner::decision::decide_as(&state.store, &state.config, id, ballot).await?;
    let votes = crate::store::votes::votes(&state.store.db, id).await?;
    Ok(Json(json::task_with_votes(cast.row(), &votes)))
}

/// Who is recorded as deciding: the credential's user. A `by` naming someone else is refused;
/// without a credential (an open loopback server) `by` is taken as given, as the CLI's is.
fn approver(who: &Principal, by: Option<&str>) -> Result<String, ApiError> {
    let by = by.map(str::trim);
    match (&who.user, by) {
        (Some(user), None) => Ok(user.clone()),
        (Some(user), Some(b)) if b == user => Ok(user.clone()),
        (Some(user), Some(b)) => Err(ApiError::field(
            StatusCode::FORBIDDEN,
            "by",
            format!(
                "`by` names `{b}`, but the credential is `{user}`: a decision is recorded under its credential's user; leave `by` out"
            ),
        )),
        (None, None) | (None, Some("")) => {
            Err(unprocessable("by", "`by` is empty: say who decides"))
        }
        (None, Some(b)) => Ok(b.to_owned()),
    }
}

/// Approve a task awaiting approval: it becomes `succeeded`.
#[utoipa::path(post, path = "/agents/tasks/{id}/approve", request_body = DecisionBody,
    params(("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "The row after the vote: decided, or, on a gate with an approval policy whose quorum is not reached yet, still `awaiting_approval` with the vote in `approval.votes`", body = json::TaskJson),
        (status = 400, description = "Malformed JSON, or no body", body = ErrorBody),
        (status = 401, description = "No credential, or a token unknown, revoked or expired", body = ErrorBody),
        (status = 403, description = "The token's scope does not allow this, `by` names someone else, or the gate's approval policy does not let this voter vote (not listed, started the run under `forbid_self`, disabled, or no credential on a policy gate)", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "Not awaiting a decision, decided already (says by whom), this voter voted on the gate already, or `subject` is not the gate's now (the task ran again)", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
        (status = 500, description = "A database error (the detail is in the server's log)", body = ErrorBody),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn approve(
    DecideAccess(who): DecideAccess,
    State(state): State<AppState>,
    TaskId(id): TaskId,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    decide_with(state, who, id, body, true).await
}

/// Reject a task awaiting approval: it becomes `failed`.
#[utoipa::path(post, path = "/agents/tasks/{id}/reject", request_body = DecisionBody,
    params(("id" = i64, Path, description = "Task id")),
    responses(
        (status = 200, description = "The row after the vote: decided, or, on a gate with an approval policy whose quorum is not reached yet, still `awaiting_approval` with the vote in `approval.votes`", body = json::TaskJson),
        (status = 400, description = "Malformed JSON, or no body", body = ErrorBody),
        (status = 401, description = "No credential, or a token unknown, revoked or expired", body = ErrorBody),
        (status = 403, description = "The token's scope does not allow this, `by` names someone else, or the gate's approval policy does not let this voter vote (not listed, started the run under `forbid_self`, disabled, or no credential on a policy gate)", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "Not awaiting a decision, decided already (says by whom), this voter voted on the gate already, or `subject` is not the gate's now (the task ran again)", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
        (status = 500, description = "A database error (the detail is in the server's log)", body = ErrorBody),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn reject(
    DecideAccess(who): DecideAccess,
    State(state): State<AppState>,
    TaskId(id): TaskId,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    decide_with(state, who, id, body, false).await
}

/// Whether the server can reach its database.
#[utoipa::path(get, path = "/healthz",
    responses(
        (status = 200, description = "The database answers"),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.db.ping().await.map_err(|e| {
        tracing::error!("health check: {e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer",
        )
    })?;
    Ok(Json(serde_json::json!({"status": "ok"})))
}
