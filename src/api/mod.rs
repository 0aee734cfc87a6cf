//! `orch serve`: a thin REST API over `agents_tasks`, using the same store code as the CLI
//! (the same serializer, the same guarded transitions). It records and decides; it never runs
//! commands or reads plan files.

pub mod auth;
pub mod body;
mod checks;
pub mod error;
mod json_schema;
mod metrics;
mod origin;
mod pages;
pub mod tasks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::Layer;
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::store::Store;
use auth::ApiToken;

/// Bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// When set, every write needs `Authorization: Bearer <token>`.
    pub token: Option<Arc<ApiToken>>,
    /// Listening beyond loopback: reads need a credential too, and nothing is open.
    pub public: bool,
    /// `--trusted-user-header` with its `--trusted-proxy` ranges.
    pub trusted: Option<Arc<auth::TrustedProxy>>,
    /// Read once at start: notification timing and the environment's webhook URLs.
    pub config: Arc<Config>,
    /// Form tokens of people named by the trusted proxy.
    pub form_key: Arc<crate::identity::session::FormKey>,
    /// `--public-url` is https: session cookies are `Secure`.
    pub secure_cookies: bool,
    /// `--public-url`'s origin (`https://orch.example.com`): a form posted from it is this
    /// site's own even when the proxy rewrote `Host`.
    pub public_origin: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "orch",
        description = "Records and decides tasks in `agents_tasks`. Writes need a bearer token when the server has one."
    ),
    components(schemas(crate::store::json::TaskJson<'static>, json_schema::NulFreeJson)),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

/// The `bearer` security scheme (an admin or a user's token), optional on every route: a
/// loopback server without credentials answers without one.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        openapi.security = Some(vec![
            SecurityRequirement::default(),
            SecurityRequirement::new("bearer", Vec::<String>::new()),
        ]);
    }
}

/// The routes and the OpenAPI document generated from them (one source for both).
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let page_state = state.clone();
    let guard_state = state.clone();
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tasks::list, tasks::create))
        .routes(routes!(tasks::get_one, tasks::patch))
        .routes(routes!(tasks::approve))
        .routes(routes!(tasks::reject))
        .routes(routes!(tasks::healthz))
        .routes(routes!(metrics::scrape))
        .with_state(state)
        .split_for_parts();
    let doc = api.clone();
    let site = crate::web::Site {
        store: page_state.store.clone(),
        config: page_state.config.clone(),
        admin_digest: page_state.token.as_ref().map(|t| t.digest().into()),
        secure_cookies: page_state.secure_cookies,
    };
    let router = router
        .merge(
            crate::web::router(site).layer(middleware::from_fn_with_state(
                page_state,
                pages::read_check,
            )),
        )
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        )
        // Every error body is JSON, the framework's own answers included.
        // Except the pages': an unknown page path gets the HTML 404 page.
        .fallback(|uri: axum::http::Uri| async move {
            if !crate::web::is_api_path(uri.path()) {
                return crate::web::not_found_page().await;
            }
            error::ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "no such endpoint: see /openapi.json",
            )
            .into_response()
        })
        .method_not_allowed_fallback(|uri: axum::http::Uri| async move {
            if !crate::web::is_api_path(uri.path()) {
                return crate::web::refused_page(
                    axum::http::StatusCode::METHOD_NOT_ALLOWED,
                    "this page does not take that method: open it from the inbox".to_owned(),
                );
            }
            error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "this endpoint does not take that method: see /openapi.json",
            )
            .into_response()
        })
        .layer(middleware::from_fn_with_state(guard_state, origin::guard))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn(log_request));
    (router, api)
}

/// The whole application: every path answers with and without a trailing slash (axum does
/// not normalise, so the normalising layer wraps the router from outside).
pub fn app(state: AppState) -> NormalizePath<Router> {
    NormalizePathLayer::trim_trailing_slash().layer(router(state).0)
}

/// One line per request: method, path, status, latency.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let start = Instant::now();
    let response = next.run(req).await;
    tracing::info!(
        "{method} {path} {} {:.1}ms",
        response.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    response
}

/// Serves `state` on `listener` until `shutdown` resolves; in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::ServiceExt;
    // The peer's address reaches the handlers (the trusted proxy's check needs it).
    axum::serve(
        listener,
        ServiceExt::<Request>::into_make_service_with_connect_info::<std::net::SocketAddr>(app(
            state,
        )),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
