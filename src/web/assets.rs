//! The pages' CSS and JavaScript, embedded in the binary: nothing fetched at run time, no
//! CDN. Served with a long cache; their names change when their content does (`?v=` hash).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../../assets/orch.css");
const JS: &str = include_str!("../../assets/orch.js");

pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "orch.css" => (CSS, "text/css; charset=utf-8"),
        "orch.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}
