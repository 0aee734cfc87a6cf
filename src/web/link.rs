//! `/links/{token}`: a one-click approval link from a notification. Opening it (GET) changes
//! nothing: it shows the gate (outputs link, excerpt, votes so far) and a button; only the
//! POST from that page casts the link's vote, so a mail scanner or a chat preview that
//! fetches the link spends nothing. An unknown, expired or used link, one opened by someone
//! signed in as another user, and one whose gate was decided each get a page that says so.
//!
//! The link is its own credential (bound to one voter, verdict and gate, single-use): the
//! page needs no login, and the read check lets it through without one.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
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
    if let Some(refused) = foreign(&viewer, &link) {
        return refusal(&site, &viewer, Some(&link), refused).await;
    }
    let row = crate::store::query::get_task(&site.store.db, link.task_id).await?;
    if row.status != crate::store::TaskStatus::AwaitingApproval
        || row.approval_state != Some(crate::store::ApprovalState::Pending)
    {
        let e =
            crate::store::transition::explain_lost(row, crate::store::TaskStatus::AwaitingApproval);
        return refusal(&site, &viewer, Some(&link), e).await;
    }
    let approve = link.verdict == Verdict::Approve;
    let verb = if approve { "Approve" } else { "Reject" };
    let page = LinkPage {
        nav: viewer.nav(),
        heading: format!("{verb} task {} as {}?", row.task, link.voter),
        message: None,
        gate: Some(gate_view(&site, link.task_id).await?),
        confirm: Some(Confirm {
            token,
            voter: link.voter.clone(),
            expires_at: view::at(Some(link.expires_at)),
            approve,
            button: format!("{verb} as {}", link.voter),
        }),
    };
    Ok(Html(page.render()?).into_response())
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
    // Checked before the vote: someone signed in as another user is not the link's voter.
    if let Ok(Some(link)) = crate::store::links::find(&site.store.db, &token).await
        && let Some(refused) = foreign(&viewer, &link)
    {
        return refusal(&site, &viewer, Some(&link), refused).await;
    }
    let note = Some(form.note).filter(|n| !n.trim().is_empty());
    let (cast, link) = match crate::runner::decision::decide_by_link(
        &site.store,
        &site.config,
        &token,
        note,
    )
    .await
    {
        Ok(done) => done,
        Err(e) => {
            let link = crate::store::links::find(&site.store.db, &token)
                .await
                .ok()
                .flatten();
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
        gate: Some(gate_view(&site, link.task_id).await?),
        confirm: None,
    };
    Ok(Html(page.render()?).into_response())
}

/// Someone signed in (a session, the trusted proxy) as a user other than the link's voter.
fn foreign(viewer: &Viewer, link: &approval_link::Model) -> Option<Error> {
    let me = viewer.name()?;
    (me != link.voter).then(|| Error::LinkForeign {
        voter: link.voter.clone(),
        viewer: me.to_owned(),
    })
}

/// The page for a link that casts nothing: what happened, with the gate when it is known.
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
        _ => match e.class() {
            Class::Conflict => (StatusCode::CONFLICT, "Nothing recorded"),
            Class::NotAllowed => (StatusCode::FORBIDDEN, "Nothing recorded"),
            _ => return Err(e.into()),
        },
    };
    let gate = match link {
        // The gate is shown to the link's holder, not to someone signed in as another user
        // (who may read it on the task page if their credential lets them).
        Some(l) if !matches!(e, Error::LinkForeign { .. }) => gate_view(site, l.task_id).await.ok(),
        _ => None,
    };
    let page = LinkPage {
        nav: viewer.nav(),
        heading: heading.to_owned(),
        message: Some(e.to_string()),
        gate,
        confirm: None,
    };
    Ok((status, Html(page.render()?)).into_response())
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
