//! The web pages served by `orch serve` beside the API: server-rendered HTML (askama
//! templates in `templates/`), one file per page, assets embedded in the binary. Read-only
//! in this phase; decisions stay with `orch approve` and the API until the forms land.
//!
//! URL layout: `/` inbox, `/runs` every run, `/runs/{run_id}` one run, `/tasks/{id}` one
//! task, `/tasks/{id}/log?from=N` a byte range of its log, `/runs/{run_id}/tasks` a run's task
//! rows as JSON (for the live run page), `/assets/{name}` embedded files.

mod assets;
mod errors;
mod inbox;
mod log;
mod params;
mod run;
mod runs;
mod saved_plan;
mod task;
mod view;
pub mod viewer;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use crate::store::Store;

pub use errors::{not_found_page, refused_page};

/// The pages' routes, with their state applied; `api::router` merges them.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/", get(inbox::page))
        .route("/runs", get(runs::page))
        .route("/runs/{run_id}", get(run::page))
        .route("/runs/{run_id}/tasks", get(run::rows))
        .route("/tasks/{id}", get(task::page))
        .route("/tasks/{id}/log", get(task::log_range))
        .route("/assets/{name}", get(assets::serve))
        .with_state(store)
        .layer(middleware::from_fn(params::clean_address))
        .layer(middleware::from_fn(security_headers))
}

/// Whether an unknown path belongs to the API (answered in JSON) rather than the pages.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/agents") || path == "/openapi.json" || path == "/healthz"
}

/// On every page: no inline script or style, no framing, no sniffing, no referrer abroad.
async fn security_headers(req: Request, next: Next) -> Response {
    security_headers_on(next.run(req).await)
}

fn security_headers_on(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
