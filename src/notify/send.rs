//! One HTTP request to a webhook, and what its answer means for the next one: delivered,
//! try again (5xx, a timeout, no connection, 429 after its `Retry-After`), or give up (any
//! other 4xx, a redirect). Nothing here touches the database.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use super::sign::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use super::target::{Endpoint, TargetKind};
use crate::config::NotifySettings;
use crate::format::url::display_url;

/// The longest `Retry-After` orch honours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How much of a receiver's answer is kept (for `orch notify test` and the row's error).
const ANSWER_LIMIT: usize = 512;

/// The wait before attempt `next` (2, 3, …): `backoff × 2^(next−2)`, with jitter.
pub fn backoff_before(settings: &NotifySettings, next: u32) -> Duration {
    crate::backoff::jittered(settings.backoff, next.saturating_sub(1), MAX_RETRY_AFTER)
}

/// What a receiver answered, or why there was no answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: Option<u16>,
    /// The start of the body (redacted by the caller before it is shown or stored).
    pub body: String,
    /// Why no answer came, or why the answer counts as a failure; never holds the URL.
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
}

/// What to do after an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Delivered,
    /// Try again, after this long when the receiver said so (`Retry-After`).
    Retry(Option<Duration>),
    GiveUp,
}

impl Answer {
    pub fn next(&self) -> Next {
        match self.status.map(StatusCode::from_u16) {
            None => Next::Retry(None),
            Some(Ok(s)) if s.is_success() => Next::Delivered,
            Some(Ok(StatusCode::TOO_MANY_REQUESTS)) => Next::Retry(self.retry_after),
            Some(Ok(s)) if s.is_server_error() => Next::Retry(None),
            // 4xx: the request itself is wrong (a revoked Slack hook says 404 or 410), and
            // so is a redirect we will not follow; repeating it cannot help.
            Some(_) => Next::GiveUp,
        }
    }
}

/// The one HTTP client of the process. It never follows redirects: a webhook that moved
/// must be reconfigured, not chased with our payload to wherever it points.
fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // The binary installs ring at start; a library caller (a test) may not have.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .user_agent(concat!("orch/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("cannot set up HTTP: {}", error_text(&e, "")))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Request headers that say what a delivery is (and sign it when the target has a secret).
pub struct Meta<'a> {
    pub event: &'a str,
    pub delivery_id: Option<i64>,
}

/// Sends `body` to `endpoint` once.
pub async fn post(endpoint: &Endpoint, body: &str, meta: &Meta<'_>, timeout: Duration) -> Answer {
    let client = match client() {
        Ok(c) => c,
        Err(error) => return failure(error),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
    if endpoint.target.kind == TargetKind::Webhook {
        insert(&mut headers, "x-orch-event", meta.event);
        if let Some(id) = meta.delivery_id {
            // Receivers dedupe retries by it.
            insert(&mut headers, "x-orch-delivery", &id.to_string());
        }
        if let Some(secret) = &endpoint.secret {
            let ts = chrono::Utc::now().timestamp();
            insert(&mut headers, TIMESTAMP_HEADER, &ts.to_string());
            insert(
                &mut headers,
                SIGNATURE_HEADER,
                &signature(secret, ts, body.as_bytes()),
            );
        }
    }
    let sent = client
        .post(&endpoint.url)
        .headers(headers)
        .timeout(timeout)
        .body(body.to_owned())
        .send()
        .await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => {
            let text = if e.is_timeout() {
                format!("no answer within {}", humantime::format_duration(timeout))
            } else {
                error_text(&e.without_url(), &endpoint.url)
            };
            return failure(text);
        }
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let mut body = Vec::new();
    while body.len() < ANSWER_LIMIT {
        match tokio::time::timeout(timeout, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(ANSWER_LIMIT);
    let body = String::from_utf8_lossy(&body).trim().to_owned();
    let error = (!status.is_success()).then(|| {
        let mut e = format!("HTTP {}", status.as_u16());
        if status.is_redirection() {
            e.push_str(
                ": a redirect, which orch does not follow (point the target at the final address)",
            );
        } else if !body.is_empty() {
            e.push_str(&format!(": {}", body.lines().next().unwrap_or_default()));
        }
        e
    });
    Answer {
        status: Some(status.as_u16()),
        body,
        error,
        retry_after,
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = value.parse() {
        headers.insert(name, v);
    }
}

fn failure(error: String) -> Answer {
    Answer {
        status: None,
        body: String::new(),
        error: Some(error),
        retry_after: None,
    }
}

/// `Retry-After: 7` or an HTTP date, capped at [`MAX_RETRY_AFTER`].
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    let wait = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(v).ok()?;
            at.duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A reqwest error as one line without the URL (its path is a credential): the outermost
/// message and the innermost cause, e.g. `cannot connect: Connection refused (os error 111)`.
fn error_text(e: &reqwest::Error, url: &str) -> String {
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let cause = root.to_string();
    let text = if e.is_connect() {
        format!("cannot connect: {cause}")
    } else if e.is_request() || e.is_body() {
        format!("the request failed: {cause}")
    } else {
        cause
    };
    // Belt and braces: no layer below may echo the address.
    if url.is_empty() {
        text
    } else {
        text.replace(url, &display_url(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: Option<u16>, retry_after: Option<u64>) -> Answer {
        Answer {
            status,
            body: String::new(),
            error: None,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn answers_decide_what_comes_next() {
        assert_eq!(answer(Some(200), None).next(), Next::Delivered);
        assert_eq!(answer(Some(204), None).next(), Next::Delivered);
        assert_eq!(answer(Some(500), None).next(), Next::Retry(None));
        assert_eq!(answer(Some(503), None).next(), Next::Retry(None));
        assert_eq!(answer(None, None).next(), Next::Retry(None));
        assert_eq!(
            answer(Some(429), Some(3)).next(),
            Next::Retry(Some(Duration::from_secs(3)))
        );
        assert_eq!(answer(Some(400), None).next(), Next::GiveUp);
        assert_eq!(answer(Some(404), None).next(), Next::GiveUp);
        assert_eq!(answer(Some(301), None).next(), Next::GiveUp);
    }

    #[test]
    fn retry_after_is_capped() {
        assert_eq!(parse_retry_after("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("3600"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        let s = NotifySettings::default();
        for _ in 0..20 {
            let second = backoff_before(&s, 2);
            assert!(second >= Duration::from_millis(500) && second <= Duration::from_secs(1));
            let third = backoff_before(&s, 3);
            assert!(third >= Duration::from_secs(1) && third <= Duration::from_secs(2));
        }
    }
}
