//! `/links/{token}`: a one-click approval link from a notification. The link says which gate
//! and verdict, and for whom; the person's own login (a session, or the trusted proxy) says
//! who they are, so a link read by others (a Slack channel shows every approver's buttons, an
//! email body holds every approver's links) votes for no one else. Opening it (GET) changes
//! nothing: signed in as its voter, it shows the gate (outputs link, excerpt, votes so far)
//! and one button; only the POST from that page casts the link's vote, so a mail scanner or a
//! chat preview that fetches the link spends nothing. Not signed in, it asks to sign in and
//! comes back. An unknown, expired or used link, someone signed in as another user, a gate
//! decided or run again since: each gets a page that says so, and shows no gate.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::errors::PageError;
use super::forms::unreadable;
use super::site::Site;
use super::view;
use super::viewer::{Nav, Viewer};
use crate::error::{Class, Error};
use crate::store::approval_link::{self, Verdict};
use crate::store::votes::Cast;

/// A note longer than this is refused, as on the task page.
const NOTE_LIMIT: usize = 4000;

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage {
    nav: Nav,
    heading: String,
    message: Option<String>,
    /// Where to sign in and come back, for someone not signed in.
    login: Option<String>,
    gate: Option<GateView>,
    confirm: Option<Confirm>,
}

struct GateView {
    id: i64,
    task: String,
    run_id: String,
    link: Option<String>,
    outputs_uri: String,
    excerpt: String,
    standing: String,
}

struct Confirm {
    token: String,
    voter: String,
    expires_at: String,
    approve: bool,
    button: String,
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    note: String,
}

pub async fn page(
    viewer: Viewer,
    State(site): State<Site>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let now = crate::store::now();
    let link = match crate::store::links::open(&site.store.db, &token, now).await {
        Ok(link) => link,
        Err(e) => return refusal(&site, &viewer, None, e).await,
    };
    let Some(me) = viewer.name() else {
        let e = Error::LinkNeedsLogin {
            voter: link.voter.clone(),
        };
        let page = LinkPage {
            nav: viewer.nav(),
            heading: format!("Sign in as {} to vote", link.voter),
            message: Some(e.to_string()),
            login: Some(format!("/login?next=/links/{token}")),
            gate: None,
            confirm: None,
        };
        return respond(StatusCode::OK, page);
    };
    if me != link.voter {
        let e = Error::LinkForeign {
            voter: link.voter.clone(),
            viewer: me.to_owned(),
        };
        return refusal(&site, &viewer, None, e).await;
    }
    let row = crate::store::query::get_task(&site.store.db, link.task_id).await?;
    if row.status != crate::store::TaskStatus::AwaitingApproval
        || row.approval_state != Some(crate::store::ApprovalState::Pending)
    {
        let e =
            crate::store::transition::explain_lost(row, crate::store::TaskStatus::AwaitingApproval);
        return refusal(&site, &viewer, Some(&link), e).await;
    }
    if crate::store::votes::subject(&row) != link.subject {
        let e = Error::SubjectChanged { id: row.id };
        return refusal(&site, &viewer, Some(&link), e).await;
    }
    let approve = link.verdict == Verdict::Approve;
    let verb = if approve { "Approve" } else { "Reject" };
    let page = LinkPage {
        nav: viewer.nav(),
        heading: format!("{verb} task {} as {}?", row.task, link.voter),
        message: None,
        login: None,
        gate: Some(gate_view(&site, link.task_id).await?),
        confirm: Some(Confirm {
            token,
            voter: link.voter.clone(),
            expires_at: view::at(Some(link.expires_at)),
            approve,
            button: format!("{verb} as {}", link.voter),
        }),
    };
    respond(StatusCode::OK, page)
}

pub async fn submit(
    viewer: Viewer,
    State(site): State<Site>,
    Path(token): Path<String>,
    form: Result<Form<LinkForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(unreadable)?;
    if form.note.contains('\0') || form.note.chars().count() > NOTE_LIMIT {
        return Err(PageError::BadRequest(format!(
            "the note must be text of at most {NOTE_LIMIT} characters: nothing was recorded"
        )));
    }
    let Some(me) = viewer.name().map(str::to_owned) else {
        let link = crate::store::links::find(&site.store.db, &token).await?;
        let e = match link {
            Some(l) => Error::LinkNeedsLogin { voter: l.voter },
            None => Error::LinkUnknown,
        };
        return refusal(&site, &viewer, None, e).await;
    };
    let note = Some(form.note).filter(|n| !n.trim().is_empty());
    let decided =
        crate::runner::decision::decide_by_link(&site.store, &site.config, &token, &me, note).await;
    let (cast, link) = match decided {
        Ok(done) => done,
        Err(e) => {
            // The gate is shown only to its voter, and only while the link still stands for
            // it: a used, expired or someone else's link shows nothing of it.
            let link = match &e {
                Error::LinkUnknown
                | Error::LinkUsed { .. }
                | Error::LinkExpired { .. }
                | Error::LinkForeign { .. } => None,
                _ => crate::store::links::find(&site.store.db, &token).await?,
            };
            return refusal(&site, &viewer, link.as_ref(), e).await;
        }
    };
    let verdict = link.verdict.past();
    let message = match &cast {
        Cast::Decided(row) => format!(
            "You {verdict} it as {}: the gate is {} by {}.",
            link.voter,
            row.approval_state.map_or("decided", |s| s.as_str()),
            row.approver.as_deref().unwrap_or("-")
        ),
        Cast::Counted { .. } => format!(
            "You {verdict} it as {}: your vote is recorded, and the gate still waits for others.",
            link.voter
        ),
    };
    let page = LinkPage {
        nav: viewer.nav(),
        heading: "Vote recorded".to_owned(),
        message: Some(message),
        login: None,
        gate: Some(gate_view(&site, link.task_id).await?),
        confirm: None,
    };
    respond(StatusCode::OK, page)
}

/// The page, sent with a `Referer` of its origin only (its path holds the token). Not
/// `no-referrer`, under which browsers send `Origin: null` with the form, which the server's
/// cross-site check refuses.
fn respond(status: StatusCode, page: LinkPage) -> Result<Response, PageError> {
    let mut response = (status, Html(page.render()?)).into_response();
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin"),
    );
    Ok(response)
}

/// The page for a link that casts nothing: what happened, with the gate when its voter is
/// looking and the link still stands for it.
async fn refusal(
    site: &Site,
    viewer: &Viewer,
    link: Option<&approval_link::Model>,
    e: Error,
) -> Result<Response, PageError> {
    let (status, heading) = match &e {
        Error::LinkUnknown => (StatusCode::NOT_FOUND, "Unknown link"),
        Error::LinkExpired { .. } => (StatusCode::GONE, "This link has expired"),
        Error::LinkUsed { .. } => (StatusCode::GONE, "This link was used"),
        Error::LinkForeign { .. } => (StatusCode::FORBIDDEN, "This link is someone else's"),
        Error::LinkNeedsLogin { .. } => (StatusCode::UNAUTHORIZED, "Sign in to vote"),
        _ => match e.class() {
            Class::Conflict => (StatusCode::CONFLICT, "Nothing recorded"),
            Class::NotAllowed => (StatusCode::FORBIDDEN, "Nothing recorded"),
            _ => return Err(e.into()),
        },
    };
    let gate = match link {
        Some(l) => gate_view(site, l.task_id).await.ok(),
        None => None,
    };
    let page = LinkPage {
        nav: viewer.nav(),
        heading: heading.to_owned(),
        message: Some(e.to_string()),
        login: None,
        gate,
        confirm: None,
    };
    respond(status, page)
}

async fn gate_view(site: &Site, id: i64) -> Result<GateView, PageError> {
    let row = crate::store::query::get_task(&site.store.db, id).await?;
    let votes = crate::store::votes::votes(&site.store.db, id).await?;
    let tally = crate::store::votes::current_tally(&row, &votes);
    let initiator = crate::store::votes::initiator(&site.store.db, &row.run_id).await?;
    Ok(GateView {
        id: row.id,
        link: view::http_link(&row.outputs_uri),
        outputs_uri: row.outputs_uri.clone().unwrap_or_else(|| "none".to_owned()),
        excerpt: row.log_excerpt.clone().unwrap_or_default(),
        standing: crate::store::standing::of_row(&row, &tally, initiator.as_deref()),
        task: row.task,
        run_id: row.run_id,
    })
}
