//! `/login` and `/logout`. A person pastes a token once; the server opens a session and sets
//! its cookie, then sends them back where they were going. Logging out ends the session in
//! the database, so a copied cookie stops working too.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::errors::PageError;
use super::params::Params;
use super::site::Site;
use super::viewer::{Nav, Viewer};
use super::{cookie, forms};
use crate::identity::resolve::bearer;
use crate::identity::session::{self, Ended};
use crate::identity::{Via, token::digests_match};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    next: String,
    message: Option<String>,
    /// Already signed in as this person.
    signed_in: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct Next {
    next: Option<String>,
    /// Why the person was sent here: one of a fixed set of words, never text to show.
    why: Option<String>,
}

/// `forms::safe_next` for callers outside the pages (the read check's redirect).
pub fn safe_next_owned(next: &str) -> &str {
    forms::safe_next(Some(next))
}

/// The reason words the server itself puts into `?why=`.
pub fn why_word(ended: Ended) -> &'static str {
    match ended {
        Ended::Unknown => "unknown",
        Ended::Expired => "expired",
        Ended::LoggedOut => "logged-out",
        Ended::CredentialGone => "credential",
    }
}

fn why_message(word: &str) -> Option<String> {
    let ended = match word {
        "unknown" => Ended::Unknown,
        "expired" => Ended::Expired,
        "logged-out" => Ended::LoggedOut,
        "credential" => Ended::CredentialGone,
        "needed" => return Some("log in to see this page".to_owned()),
        _ => return None,
    };
    Some(ended.message().to_owned())
}

pub async fn page(viewer: Viewer, Params(q): Params<Next>) -> Result<Response, PageError> {
    let page = LoginPage {
        nav: viewer.nav(),
        next: forms::safe_next(q.next.as_deref()).to_owned(),
        message: q.why.as_deref().and_then(why_message),
        signed_in: viewer.name().map(str::to_owned),
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

pub async fn submit(
    viewer: Viewer,
    State(site): State<Site>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(forms::unreadable)?;
    let next = forms::safe_next(Some(&form.next)).to_owned();
    let refuse = |status: StatusCode, message: &str| -> Result<Response, PageError> {
        let page = LoginPage {
            nav: viewer.nav(),
            next: next.clone(),
            message: Some(message.to_owned()),
            signed_in: None,
        };
        Ok((status, Html(page.render()?)).into_response())
    };
    let token = form.token.trim();
    if token.is_empty() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "paste your token: `orch tokens create --user NAME` prints one",
        );
    }
    let who = match bearer(&site.store.db, site.admin_digest.as_deref(), token).await? {
        Ok(who) => who,
        Err(refused) => return refuse(StatusCode::UNAUTHORIZED, refused.message()),
    };
    let token_expires = match who.via {
        Via::UserToken { token_id } => crate::store::tokens::by_id(&site.store.db, token_id)
            .await?
            .and_then(|(t, _)| t.expires_at),
        _ => None,
    };
    let admin = match who.via {
        Via::AdminToken => site.admin_digest.as_deref(),
        _ => None,
    };
    let opened = session::open(&site.store.db, &who, admin, token_expires).await?;
    let mut response = Redirect::to(&forms::location(&next)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie::set(
            opened.secret.reveal(),
            opened.expires_at,
            site.secure_cookies,
        ),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    form_token: String,
}

pub async fn logout(
    viewer: Viewer,
    State(site): State<Site>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(forms::unreadable)?;
    let Some(secret) = cookie::session(&headers, site.secure_cookies) else {
        return Ok(Redirect::to("/login").into_response());
    };
    // A session that has ended already (expired, its token revoked) just loses its cookie.
    if viewer.has_session() {
        let expected = viewer.form_token.as_deref().unwrap_or("");
        if expected.is_empty() || !digests_match(expected, &form.form_token) {
            return Err(forms::stale_form());
        }
        session::close(&site.store.db, &secret).await?;
    }
    let mut response = Redirect::to("/login?why=logged-out").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie::clear(site.secure_cookies));
    Ok(response)
}
