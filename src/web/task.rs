//! `/tasks/{id}`: every column of one task, its excerpt, its log (the tail first, earlier
//! parts by byte range), and its decision. `/tasks/{id}/log?from=N` is the log's text alone,
//! which the page's script polls to follow a running task.

use std::path::PathBuf;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::errors::PageError;
use super::log::{self, CHUNK};
use super::params::Params;
use super::site::Site;
use super::view;
use super::viewer::{Nav, Viewer};
use crate::error::Error;
use crate::runner::process::recorded_log_path;
use crate::store::query::find_task;
use crate::store::requeue::attempts_of;
use crate::store::{Store, agents_task};

#[derive(Deserialize, Default)]
pub struct Range {
    from: Option<u64>,
}

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage {
    nav: Nav,
    t: agents_task::Model,
    /// The Approve and Reject forms' token, when this viewer may decide this task.
    form_token: Option<String>,
    /// Why a form was not taken (decided first by someone else, too late, a bad note).
    notice: Option<String>,
    fields: Vec<(&'static str, String)>,
    decision: String,
    link: Option<String>,
    log: Option<log::Slice>,
    earlier: Option<u64>,
    later: Option<u64>,
    live: bool,
    /// Why no log is read at all (the row's names cannot name a file).
    no_log: Option<String>,
    /// Earlier attempts kept by `orch retry`, oldest first.
    previous: Vec<Previous>,
    /// The gate's subject, sent back with a vote: a vote on output this page did not show
    /// (the task ran again meanwhile) is refused.
    subject: String,
    /// For a gate: where its votes stand ("1 of 2 approvals: …").
    standing: Option<String>,
    votes: Vec<VoteRow>,
    /// Why the policy does not let this viewer vote (no forms then).
    barred: Option<String>,
}

/// One vote as the page shows it.
struct VoteRow {
    voter: String,
    verdict: String,
    channel: String,
    at: String,
    note: String,
}

/// One earlier attempt as the page shows it.
struct Previous {
    attempt: i32,
    status: String,
    exit_code: String,
    finished: String,
    retried: String,
    reason: String,
}

impl Previous {
    fn of(a: &crate::store::agents_task_attempt::Model) -> Previous {
        Previous {
            attempt: a.attempt,
            status: a.status.to_string(),
            exit_code: a.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            finished: view::at(a.finished_at),
            retried: format!("by {} at {}", a.retried_by, view::at(Some(a.retried_at))),
            reason: a
                .log_excerpt
                .as_deref()
                .and_then(|e| e.lines().last())
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// The task and where its log is; a row whose run id or task name cannot name a file (see
/// `recorded_log_path`) has no log to read, and says why.
async fn load(
    store: &Store,
    id: &str,
) -> Result<(agents_task::Model, Result<PathBuf, String>), PageError> {
    let missing = || PageError::NotFound(format!("no task with id `{id}`"));
    let id: i64 = id.parse().map_err(|_| missing())?;
    let t = find_task(&store.db, id).await?.ok_or_else(missing)?;
    let path = match recorded_log_path(&store.db, &t.run_id, &t.task).await {
        Ok(path) => Ok(path),
        Err(e @ Error::UnsafeLogName { .. }) => Err(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    Ok((t, path))
}

pub async fn page(
    viewer: Viewer,
    State(site): State<Site>,
    Path(id): Path<String>,
    Params(range): Params<Range>,
) -> Result<Response, PageError> {
    render(&site, &viewer, &id, range.from, None, StatusCode::OK).await
}

/// The task page, with `notice` above its forms (a form's refusal) and `status`.
pub async fn render(
    site: &Site,
    viewer: &Viewer,
    id: &str,
    from: Option<u64>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (t, path) = load(&site.store, id).await?;
    let previous = attempts_of(&site.store.db, t.id)
        .await?
        .iter()
        .map(Previous::of)
        .collect();
    let log = path.as_ref().ok().and_then(|p| log::read(p, from));
    let no_log = path.err();
    let earlier = log
        .as_ref()
        .filter(|l| l.from > 0)
        .map(|l| l.from.saturating_sub(CHUNK));
    let later = log.as_ref().filter(|l| l.to < l.len).map(|l| l.to);
    let fields = vec![
        ("id", t.id.to_string()),
        ("run", t.run_id.clone()),
        ("status", t.status.to_string()),
        ("attempt", t.attempt.to_string()),
        (
            "exit code",
            t.exit_code.map(|c| c.to_string()).unwrap_or_default(),
        ),
        ("started", view::at(t.started_at)),
        ("finished", view::at(t.finished_at)),
        ("duration", view::ms(t.duration_ms)),
        (
            "inputs",
            t.inputs.as_ref().map(|v| v.to_string()).unwrap_or_default(),
        ),
        (
            "approval",
            t.approval_state.map(|s| s.to_string()).unwrap_or_default(),
        ),
        ("approver", t.approver.clone().unwrap_or_default()),
        ("note", t.approval_note.clone().unwrap_or_default()),
        ("decided", view::at(t.decided_at)),
        ("approval deadline", view::at(t.approval_deadline)),
        ("owner", t.owner.clone().unwrap_or_default()),
        ("heartbeat", view::at(t.heartbeat_at)),
    ];
    let live = !t.status.is_final() && t.status != crate::store::TaskStatus::AwaitingApproval;
    let decision = match (t.approval_state, &t.approver) {
        (Some(s), Some(by)) => format!("{s} by {by} at {}", view::at(t.decided_at)),
        (Some(s), None) => s.to_string(),
        (None, _) => "no decision".to_owned(),
    };
    let waiting = t.status == crate::store::TaskStatus::AwaitingApproval;
    let subject = crate::store::votes::subject(&t);
    let all = crate::store::votes::votes(&site.store.db, t.id).await?;
    let mut barred = None;
    let standing = match t.approval_state {
        Some(_) => {
            let tally = crate::store::votes::current_tally(&t, &all);
            let initiator = crate::store::votes::initiator(&site.store.db, &t.run_id).await?;
            // Forms only for someone the policy lets vote; the others are told why (an
            // unreadable policy bars everyone).
            barred = viewer.name().and_then(|me| {
                match crate::store::votes::GatePolicy::of(&t) {
                    Ok(policy) => {
                        crate::store::votes::barred(t.id, &policy, me, initiator.as_deref())
                    }
                    Err(e) => Some(e),
                }
                .map(|e| e.to_string())
            });
            Some(crate::store::standing::of_row(
                &t,
                &tally,
                initiator.as_deref(),
            ))
        }
        None => None,
    };
    let votes = all
        .iter()
        .map(|v| VoteRow {
            voter: v.voter.clone(),
            verdict: if v.subject == subject {
                v.verdict.past().to_owned()
            } else {
                format!("{} (earlier run: no longer counts)", v.verdict.past())
            },
            channel: v.channel.as_str().to_owned(),
            at: view::at(Some(v.cast_at)),
            note: v.note.clone().unwrap_or_default(),
        })
        .collect();
    let page = TaskPage {
        subject,
        standing,
        votes,
        nav: viewer.nav(),
        form_token: viewer
            .form_token
            .clone()
            .filter(|_| waiting && viewer.may_decide() && barred.is_none()),
        barred: barred.filter(|_| waiting),
        notice,
        decision,
        link: view::http_link(&t.outputs_uri),
        fields,
        log,
        earlier,
        later,
        live,
        no_log,
        previous,
        t,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// The log's bytes from `from` (at most one chunk) as plain text; the end offset in a header
/// so a follower asks for what comes next.
pub async fn log_range(
    _viewer: Viewer,
    State(store): State<Store>,
    Path(id): Path<String>,
    Params(range): Params<Range>,
) -> Result<Response, PageError> {
    let (_, path) = load(&store, &id).await?;
    let path = path.map_err(PageError::NotFound)?;
    let from = range.from.unwrap_or(0);
    let slice = log::read(&path, Some(from));
    let (to, text) = slice.map_or((from, String::new()), |s| (s.to, s.text));
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::HeaderName::from_static("x-log-end"), to.to_string()),
        ],
        text,
    )
        .into_response())
}
