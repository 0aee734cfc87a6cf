//! What the API checks in a request beyond its JSON shape, the same on both databases (which
//! would otherwise disagree: PostgreSQL refuses a NUL in text with a 500, SQLite stores it):
//! no NUL in any text, timestamps within years 1 to 9999, no decision fields outside a
//! decision, no negative duration. Each refusal is a 422 naming the field.

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;

use super::error::ApiError;

/// Fields only a decision sets: refused in POST and PATCH with a message saying where they
/// come from.
const DECISION_FIELDS: [&str; 4] = ["approval_state", "approver", "approval_note", "decided_at"];

pub(super) fn unprocessable(field: &str, error: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, error)
}

pub(super) fn refuse_decision_fields(present: [&Option<Value>; 4]) -> Result<(), ApiError> {
    for (name, value) in DECISION_FIELDS.iter().zip(present) {
        if value.is_some() {
            return Err(unprocessable(
                name,
                format!("`{name}` is set only by `POST /agents/tasks/{{id}}/approve` or `/reject`"),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_duration(d: Option<i64>) -> Result<(), ApiError> {
    match d {
        Some(ms) if ms < 0 => Err(unprocessable(
            "duration_ms",
            "`duration_ms` cannot be negative",
        )),
        _ => Ok(()),
    }
}

/// Text without NUL (PostgreSQL cannot store it), timestamps a calendar can hold (years 1 to
/// 9999: beyond, PostgreSQL fails and far-future rows would sort first for ever), and JSON
/// whose strings and keys hold no NUL.
pub(super) fn check_values(
    texts: &[(&str, Option<&String>)],
    times: &[(&str, Option<DateTime<Utc>>)],
    inputs: Option<&Value>,
) -> Result<(), ApiError> {
    for (field, text) in texts {
        if text.is_some_and(|t| t.contains('\0')) {
            return Err(nul(field));
        }
    }
    for (field, at) in times {
        if let Some(at) = at
            && !(1..=9999).contains(&at.year())
        {
            return Err(unprocessable(
                field,
                format!("`{field}` must be a time in the years 1 to 9999"),
            ));
        }
    }
    // The document declares an object (or null); a bare array or number was stored and then
    // answered against its own schema.
    if inputs.is_some_and(|v| !v.is_object()) {
        return Err(unprocessable(
            "inputs",
            "`inputs` must be a JSON object (or null)",
        ));
    }
    if inputs.is_some_and(has_nul) {
        return Err(nul("inputs"));
    }
    Ok(())
}

/// The columns both POST and PATCH may set.
pub(super) fn check_row_values(
    outputs_uri: &Option<String>,
    log_excerpt: &Option<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    inputs: &Option<Value>,
) -> Result<(), ApiError> {
    check_values(
        &[
            ("outputs_uri", outputs_uri.as_ref()),
            ("log_excerpt", log_excerpt.as_ref()),
        ],
        &[("started_at", started_at), ("finished_at", finished_at)],
        inputs.as_ref(),
    )
}

/// A query parameter's value, checked as a field's text is.
pub(super) fn check_param(name: &str, value: &str) -> Result<(), ApiError> {
    if value.contains('\0') {
        return Err(nul(name));
    }
    Ok(())
}

fn nul(field: &str) -> ApiError {
    unprocessable(
        field,
        format!("`{field}` contains a NUL character (\\u0000), which cannot be stored"),
    )
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}
