//! Reading JSON bodies with errors people can act on: malformed JSON is 400, a wrong type or
//! an unknown field is 422 naming the field, a body over the limit is 413.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::Deserializer;
use serde::de::{self, DeserializeOwned, Unexpected, Visitor};

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

/// An optional integer field (`#[serde(default, deserialize_with = "integral")]`) that also
/// takes an integral number written with a fraction or an exponent (`249.0`, `2.49e2`): JSON
/// Schema counts those as integers, so a client generating requests from the document sends
/// them, and serde's `i64` alone refuses them. A fraction (`249.5`), or a number beyond
/// `i64`, is refused with the field's path.
pub fn integral<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct Integral;

    impl<'de> Visitor<'de> for Integral {
        type Value = Option<i64>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer (a number without a fraction)")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // 2^63 is exact as an f64; every integral f64 below it in magnitude fits an i64.
            const BOUND: f64 = 9_223_372_036_854_775_808.0;
            if v.fract() == 0.0 && (-BOUND..BOUND).contains(&v) {
                return Ok(Some(v as i64)); // integral and in range: exact
            }
            Err(E::invalid_value(Unexpected::Float(v), &self))
        }
    }

    d.deserialize_option(Integral)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Row {
        #[serde(default, deserialize_with = "integral")]
        n: Option<i64>,
    }

    fn n(json: &str) -> Result<Option<i64>, String> {
        serde_json::from_str::<Row>(json)
            .map(|r| r.n)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integral_numbers_are_integers_however_written() {
        for (json, want) in [
            (r#"{"n": 249}"#, Some(249)),
            (r#"{"n": 249.0}"#, Some(249)),
            (r#"{"n": 2.49e2}"#, Some(249)),
            (r#"{"n": -3.0}"#, Some(-3)),
            (r#"{"n": null}"#, None),
            (r#"{}"#, None),
        ] {
            assert_eq!(n(json), Ok(want), "{json}");
        }
    }

    #[test]
    fn fractions_and_out_of_range_numbers_are_refused() {
        for json in [
            r#"{"n": 249.5}"#,
            r#"{"n": 1e30}"#,
            r#"{"n": 9223372036854775808}"#,
            r#"{"n": "249"}"#,
            r#"{"n": true}"#,
        ] {
            let err = n(json).unwrap_err();
            assert!(err.contains("an integer"), "{json}: {err}");
        }
    }
}
