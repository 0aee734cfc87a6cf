//! `POST /tasks/{id}/approve` and `/reject`: the task page's forms. The decision is the
//! API's (same guarded update, same notifications), recorded under the viewer's identity;
//! a decision someone else took first shows the task page saying who, with 409.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::errors::PageError;
use super::forms::{check_token, unreadable};
use super::site::Site;
use super::task;
use super::viewer::Viewer;
use crate::error::Class;
use crate::runner::decision::{Ballot, decide_as};
use crate::store::approval_vote::Channel;
use crate::store::votes::Proof;

/// A note longer than this is refused (the API's body limit is far larger; a note is a
/// sentence or two, and it goes into every notification).
const NOTE_LIMIT: usize = 4000;

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    note: String,
    /// The gate's subject the page showed: a vote on output the viewer has not seen is
    /// refused.
    #[serde(default)]
    subject: Option<String>,
}

pub async fn approve(
    viewer: Viewer,
    State(site): State<Site>,
    Path(id): Path<String>,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(unreadable)?;
    decide(viewer, site, id, form, true).await
}

pub async fn reject(
    viewer: Viewer,
    State(site): State<Site>,
    Path(id): Path<String>,
    form: Result<Form<DecideForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(unreadable)?;
    decide(viewer, site, id, form, false).await
}

async fn decide(
    viewer: Viewer,
    site: Site,
    id: String,
    form: DecideForm,
    approve: bool,
) -> Result<Response, PageError> {
    let missing = || PageError::NotFound(format!("no task with id `{id}`"));
    let task_id: i64 = id.parse().map_err(|_| missing())?;
    check_token(&viewer, &form.form_token)?;
    let Some(by) = viewer.name().filter(|_| viewer.may_decide()) else {
        return Err(PageError::Refused(
            StatusCode::FORBIDDEN,
            "your token's scope does not allow deciding: ask for a `decide` token".to_owned(),
        ));
    };
    if form.note.contains('\0') || form.note.chars().count() > NOTE_LIMIT {
        let message = format!(
            "the note must be text of at most {NOTE_LIMIT} characters: nothing was decided"
        );
        return task::render(
            &site,
            &viewer,
            &id,
            None,
            Some(message),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let note = Some(form.note).filter(|n| !n.trim().is_empty());
    let ballot = Ballot {
        voter: by.to_owned(),
        // The page's viewer always comes from a credential (a session or the proxy's header).
        proof: Proof::Credential,
        approve,
        note,
        channel: Channel::Page,
        seen: form.subject.filter(|s| !s.is_empty()),
    };
    match decide_as(&site.store, &site.config, task_id, ballot).await {
        Ok(_) => Ok(Redirect::to(&format!("/tasks/{task_id}")).into_response()),
        Err(e) if matches!(e.class(), Class::Conflict | Class::NotAllowed) => {
            let status = if e.class() == Class::NotAllowed {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::CONFLICT
            };
            task::render(&site, &viewer, &id, None, Some(e.to_string()), status).await
        }
        Err(e) => Err(e.into()),
    }
}
