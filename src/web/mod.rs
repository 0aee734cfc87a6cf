//! The web pages served by `orch serve` beside the API: server-rendered HTML (askama
//! templates in `templates/`), one file per page, assets embedded in the binary. Read-only
//! Reading is open on loopback as the API's is; beyond it, and for every form, a person logs
//! in with a token (`/login`) and gets a session cookie, or is named by a trusted proxy.
//!
//! URL layout: `/` inbox, `/runs` every run, `/runs/{run_id}` one run, `/tasks/{id}` one
//! task, `/tasks/{id}/log?from=N` a byte range of its log, `/runs/{run_id}/tasks` a run's task
//! rows as JSON (for the live run page), `POST /tasks/{id}/approve` and `/reject` the task
//! page's forms, `POST /runs/{run_id}/cancel` and `/retry` the run page's, `/links/{token}`
//! a notification's one-click link (GET confirms, POST votes), `/login` and
//! `POST /logout`, `/assets/{name}` embedded files.

mod assets;
mod control;
pub mod cookie;
mod decide;
mod errors;
mod forms;
mod inbox;
mod link;
mod log;
pub mod login;
mod params;
mod run;
mod runs;
mod saved_plan;
pub mod site;
mod task;
mod view;
pub mod viewer;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

pub use errors::{not_found_page, refused_page};
pub use site::Site;

/// The pages' routes, with their state applied; `api::router` merges them.
pub fn router(site: Site) -> Router {
    Router::new()
        .route("/", get(inbox::page))
        .route("/runs", get(runs::page))
        .route("/runs/{run_id}", get(run::page))
        .route("/runs/{run_id}/tasks", get(run::rows))
        .route("/runs/{run_id}/cancel", post(control::cancel))
        .route("/runs/{run_id}/retry", post(control::retry))
        .route("/tasks/{id}", get(task::page))
        .route("/tasks/{id}/log", get(task::log_range))
        .route("/tasks/{id}/approve", post(decide::approve))
        .route("/tasks/{id}/reject", post(decide::reject))
        .route("/links/{token}", get(link::page).post(link::submit))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/assets/{name}", get(assets::serve))
        .with_state(site)
        .layer(middleware::from_fn(params::clean_address))
        .layer(middleware::from_fn(security_headers))
}

/// Whether an unknown path belongs to the API (answered in JSON) rather than the pages.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/agents")
        || path == "/openapi.json"
        || path == "/healthz"
        || path == "/metrics"
}

/// On every page: no inline script or style, no framing, no sniffing, no referrer abroad.
async fn security_headers(req: Request, next: Next) -> Response {
    security_headers_on(next.run(req).await)
}

pub fn security_headers_on(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A page whose URL is a credential (a one-click link) sets a stricter one itself.
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A page may hold a form token and private rows: no shared cache keeps it, and the back
    // button after logout asks again. Assets keep their own long cache.
    let html = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if html && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
