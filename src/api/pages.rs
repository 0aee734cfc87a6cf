//! The pages' read check, run before every page: it works out who is looking (a session
//! cookie first, then the API's rule: a bearer token, the trusted proxy's header, or nobody
//! on an open loopback server) and hands the pages a [`Viewer`]. Someone who must log in is
//! sent to `/login` and back; embedded assets, holding nothing private, stay open.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::AppState;
use super::auth::ReadAccess;
use super::error::ApiError;
use crate::identity::Via;
use crate::identity::session::{self, Ended};
use crate::web::viewer::Viewer;
use crate::web::{cookie, login};

pub async fn read_check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/assets/") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let (viewer, ended) = match viewer(&mut parts, &state).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    parts.extensions.insert(viewer);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if ended.is_some() && !response.headers().contains_key(header::SET_COOKIE) {
        // A cookie that names no one is dropped, so the browser stops sending it.
        response
            .headers_mut()
            .insert(header::SET_COOKIE, cookie::clear(state.secure_cookies));
    }
    response
}

/// The viewer, and whether a session cookie came that no longer names anyone; `Err` with
/// the answer to give instead of the page (a login redirect, a refusal, a 503).
async fn viewer(parts: &mut Parts, state: &AppState) -> Result<(Viewer, Option<Ended>), Response> {
    let mut ended = None;
    if let Some(secret) = cookie::session(&parts.headers, state.secure_cookies) {
        let admin = state.token.as_ref().map(|t| t.digest());
        match session::resolve(&state.store.db, admin, &secret).await {
            Ok(Ok(principal)) => {
                let viewer = Viewer {
                    principal,
                    form_token: Some(session::form_token(&secret)),
                };
                return Ok((viewer, None));
            }
            Ok(Err(why)) => ended = Some(why),
            Err(e) => return Err(refused(ApiError::from(e))),
        }
    }
    let path = parts.uri.path();
    // A one-click link is its own credential: no login is asked for it.
    let login_page = path == "/login" || path == "/logout" || path.starts_with("/links/");
    match ReadAccess::from_request_parts(parts, state).await {
        // A form sent with a session that has ended (expired, logged out): log in again,
        // rather than a refusal the person cannot act on.
        Ok(ReadAccess(p))
            if ended.is_some()
                && p.via == Via::LoopbackOpen
                && parts.method != Method::GET
                && !login_page =>
        {
            Err(to_login(parts, ended, state.secure_cookies))
        }
        Ok(ReadAccess(principal)) => {
            let form_token = match (&principal.via, &principal.user) {
                (Via::TrustedProxy, Some(name)) => Some(state.form_key.token_for(name)),
                _ => None,
            };
            Ok((
                Viewer {
                    principal,
                    form_token,
                },
                ended,
            ))
        }
        Err(_) if login_page => Ok((Viewer::anonymous(), ended)),
        Err(e)
            if e.status == StatusCode::UNAUTHORIZED && !has_bearer(parts) && wants_page(parts) =>
        {
            Err(to_login(parts, ended, state.secure_cookies))
        }
        Err(e) => Err(refused(e)),
    }
}

/// A browser opening a page or sending a form (it accepts HTML), not the pages' script
/// polling a log or a run's rows: that gets the 401 itself, and says live updates stopped.
fn wants_page(parts: &Parts) -> bool {
    parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn has_bearer(parts: &Parts) -> bool {
    parts.headers.contains_key(header::AUTHORIZATION)
}

fn refused(e: ApiError) -> Response {
    crate::web::refused_page(e.status, e.error)
}

/// Off to the login page, which sends the person back here afterwards.
fn to_login(parts: &Parts, ended: Option<Ended>, secure: bool) -> Response {
    // A link followed from another site (Slack, mail) arrives without the SameSite=Strict
    // cookie; one hop through this site's own page makes the browser send it.
    let cross_site = parts
        .headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "cross-site");
    let here = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    // Other cookies (a load balancer's affinity cookie, SameSite=None) do come; only the
    // session's is missing.
    if cross_site
        && parts.method == Method::GET
        && cookie::session(&parts.headers, secure).is_none()
    {
        return bounce(&here);
    }
    let back = if parts.method == Method::GET {
        here
    } else {
        // A form's target: back to the page that held the form.
        let path = parts.uri.path();
        path.strip_suffix("/approve")
            .or_else(|| path.strip_suffix("/reject"))
            .unwrap_or("/")
            .to_owned()
    };
    let why = ended.map_or("needed", login::why_word);
    let target = format!(
        "/login?next={}&why={why}",
        percent_encode(crate::web::login::safe_next_owned(&back))
    );
    let mut response = Redirect::to(&target).into_response();
    if ended.is_some() {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, cookie::clear(secure));
    }
    response
}

/// A page that reloads itself at once (a `meta` refresh: no script, allowed by the CSP).
fn bounce(here: &str) -> Response {
    let escaped = here
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0; url={escaped}\"><title>orch</title></head>\
         <body><p><a href=\"{escaped}\">Continue</a></p></body></html>"
    );
    let mut response = Html(html).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    crate::web::security_headers_on(response)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
