//! `POST /runs/{run_id}/cancel` and `/retry`: the run page's Cancel and Retry forms, for a
//! viewer whose credential allows deciding (cancelling rejects gates, so it needs at least
//! what a decision needs). Recorded under the viewer's identity, through the same functions
//! as `orch cancel` (`runner::control`).
//!
//! Retry only queues the tasks again: `orch serve` never runs a plan's commands itself (it
//! may run as another user, on another machine than the checkout). The page says so, and
//! `orch resume RUN_ID` drives them, or, for a run workers drive, the workers take them.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use sea_orm::EntityTrait;
use serde::Deserialize;

use super::errors::PageError;
use super::forms::{check_token, unreadable};
use super::run;
use super::site::Site;
use super::viewer::Viewer;
use crate::error::{Class, Error};
use crate::notify::Notice;
use crate::notify::notices::decision_notice;
use crate::runner::control::{cancel as cancel_run, requeue_run};
use crate::store::agents_run;

#[derive(Deserialize)]
pub struct ControlForm {
    #[serde(default)]
    form_token: String,
}

pub async fn cancel(
    viewer: Viewer,
    State(site): State<Site>,
    Path(run_id): Path<String>,
    form: Result<Form<ControlForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(unreadable)?;
    let by = allowed(&viewer, &form)?;
    recover(&site).await;
    let stale = site.config.timing.stale_after;
    match cancel_run(&site.store, &run_id, &by, stale).await {
        Ok(c) => {
            let mut notices: Vec<Notice> = c.rejected.iter().map(decision_notice).collect();
            notices.extend(c.finished.clone());
            tell(&site, &run_id, notices);
            let message = match (&c.already, &c.driver) {
                (Some(_), _) => format!("A cancel was already asked for by {}.", c.by),
                (None, Some(owner)) => format!(
                    "Cancel recorded: {owner} drives this run and stops its running tasks at \
                     its next heartbeat; {} gate(s) rejected.",
                    c.rejected.len()
                ),
                (None, None) => format!(
                    "Cancelled by {by}: {} queued task(s) skipped, {} gate(s) rejected.",
                    c.skipped,
                    c.rejected.len()
                ),
            };
            run::render(&site, &viewer, run_id, Some(message), StatusCode::OK).await
        }
        Err(e) => refused(&site, &viewer, run_id, e).await,
    }
}

pub async fn retry(
    viewer: Viewer,
    State(site): State<Site>,
    Path(run_id): Path<String>,
    form: Result<Form<ControlForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(unreadable)?;
    let by = allowed(&viewer, &form)?;
    recover(&site).await;
    let stale = site.config.timing.stale_after;
    match requeue_run(&site.store, &run_id, &[], &by, stale).await {
        Ok(rows) => {
            let message = match queue_of(&site, &run_id).await {
                Some(queue) => format!(
                    "{} task(s) queued again by {by} as new attempts, for the workers on queue \
                     `{queue}`.",
                    rows.len()
                ),
                None => format!(
                    "{} task(s) queued again by {by} as new attempts. They run once the run is \
                     driven: `orch resume {run_id}` on the machine with the plan's checkout.",
                    rows.len()
                ),
            };
            run::render(&site, &viewer, run_id, Some(message), StatusCode::OK).await
        }
        Err(e) => refused(&site, &viewer, run_id, e).await,
    }
}

/// The queue of a run workers drive (`orch run --enqueue`); none for a local run.
async fn queue_of(site: &Site, run_id: &str) -> Option<String> {
    agents_run::Entity::find_by_id(run_id.to_owned())
        .one(&site.store.db)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.queue)
}

/// The viewer's name when the form is theirs and their credential allows deciding.
fn allowed(viewer: &Viewer, form: &ControlForm) -> Result<String, PageError> {
    check_token(viewer, &form.form_token)?;
    viewer
        .name()
        .filter(|_| viewer.may_decide())
        .map(str::to_owned)
        .ok_or_else(|| {
            PageError::Refused(
                StatusCode::FORBIDDEN,
                "your token's scope does not allow cancelling or retrying runs: ask for a \
                 `decide` token"
                    .to_owned(),
            )
        })
}

/// A run that has ended, has nothing to retry or is driven elsewhere: the run page says
/// why, with 409. Anything else is the usual error page.
async fn refused(
    site: &Site,
    viewer: &Viewer,
    run_id: String,
    e: Error,
) -> Result<Response, PageError> {
    match e.class() {
        Class::Conflict | Class::Ended => {
            let message = format!("Nothing was changed: {e}.");
            run::render(site, viewer, run_id, Some(message), StatusCode::CONFLICT).await
        }
        _ => Err(e.into()),
    }
}

/// What dead orchs left is recovered first, as before a decision.
async fn recover(site: &Site) {
    match crate::runner::recovery::recover(&site.store, &site.config).await {
        Ok(recovered) => recovered.detach(),
        Err(e) => tracing::warn!("recovery: {e}"),
    }
}

/// The run's targets hear of the gates rejected and of its end, in a task of its own (the
/// answer waits for none of it). A problem is logged; undelivered rows are sent later.
fn tell(site: &Site, run_id: &str, notices: Vec<Notice>) {
    if notices.is_empty() {
        return;
    }
    let (store, config, run_id) = (site.store.clone(), site.config.clone(), run_id.to_owned());
    tokio::spawn(async move {
        match crate::notify::Notifier::for_run(&store, &config, Some(&run_id)).await {
            Ok(notifier) => {
                for notice in &notices {
                    if let Err(e) = notifier.emit(notice).await {
                        tracing::warn!("notify: {e}");
                    }
                }
                notifier.detach();
            }
            Err(e) => tracing::warn!("notify: {e}"),
        }
    });
}
