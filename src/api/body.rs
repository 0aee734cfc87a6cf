//! Reading JSON bodies with errors people can act on: malformed JSON is 400, a wrong type or
//! an unknown field is 422 naming the field, a body over the limit is 413.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

pub fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {} bytes", super::BODY_LIMIT),
            )
        } else {
            ApiError::new(rejection.status(), rejection.body_text())
        }
    })?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {inner}"));
        }
        let message = inner.to_string();
        // `unknown field `x`` is reported at the parent's path: name the field itself.
        let field = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
            .or_else(|| (path != "." && !path.is_empty()).then_some(path));
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: message,
            field,
        }
    })?;
    // Trailing garbage after the object is malformed JSON too.
    de.end()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))?;
    Ok(value)
}
