//! The ceiling for the API benchmark (`bench/run.sh`): the smallest axum server, answering a
//! fixed JSON body. orch's own numbers are read against this one, measured in the same run.

use axum::Router;
use axum::routing::{get, post};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let app = Router::new()
        .route("/hello", get(|| async { r#"{"hello":"world"}"# }))
        .route("/hello", post(|body: String| async move { body }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
