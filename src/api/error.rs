//! One error type for the API: client errors pass through with a JSON body naming what was
//! wrong (`{"error": …, "field": …}`); server errors are logged and answered without detail.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{Class, Error};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub field: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            field: None,
        }
    }

    pub fn field(status: StatusCode, field: impl Into<String>, error: impl Into<String>) -> Self {
        ApiError {
            status,
            error: error.into(),
            field: Some(field.into()),
        }
    }

    pub fn unauthorized(error: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, error)
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        // The same classification as the exit codes: every error has its status.
        let status = match err.class() {
            Class::NotFound => StatusCode::NOT_FOUND,
            Class::Conflict | Class::Ended => StatusCode::CONFLICT,
            Class::TimedOut => StatusCode::GATEWAY_TIMEOUT,
            Class::NotAllowed => StatusCode::FORBIDDEN,
            Class::BadTransition => {
                return ApiError::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "status",
                    err.to_string(),
                );
            }
            Class::Usage => StatusCode::UNPROCESSABLE_ENTITY,
            Class::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Class::Undelivered => StatusCode::BAD_GATEWAY,
            Class::Io | Class::Database => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = if self.status.is_server_error() {
            // The detail may name tables or hosts: keep it in the server's log.
            tracing::error!("{}", self.error);
            "internal error: see the server log".to_owned()
        } else {
            self.error
        };
        (
            self.status,
            Json(ErrorBody {
                error,
                field: self.field,
            }),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_that_once_fell_into_a_wildcard_are_409() {
        let holder = crate::error::Holder {
            owner: "h:1:ab".to_owned(),
            run_id: None,
            heartbeat_at: chrono::Utc::now(),
        };
        let leased = Error::Leased {
            what: "run `r`".to_owned(),
            holder,
            hint: crate::error::LeaseHint::Wait,
        };
        for (err, status) in [
            (leased, StatusCode::CONFLICT),
            (
                Error::DeliveryBusy { id: 3, until: None },
                StatusCode::CONFLICT,
            ),
            (
                Error::RunIdTaken {
                    run_id: "r".to_owned(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (Error::UnknownDelivery { id: 3 }, StatusCode::NOT_FOUND),
            (
                Error::Database {
                    detail: "connection reset".to_owned(),
                    transient: true,
                },
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ] {
            assert_eq!(ApiError::from(err).status, status);
        }
    }
}
