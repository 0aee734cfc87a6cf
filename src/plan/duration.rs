//! Durations in a plan (`timeout`, `kill_grace`, `approval_timeout`, `remind`…): parsed
//! once, each problem at its place.

use std::time::Duration;

use serde_saphyr::Spanned;

use super::Timeout;
use super::issues::{at, issue};
use super::problem::Problem;
use crate::error::PlanIssue;

/// `30s`, `10m`, `1h30m`, `500ms`.
pub(super) fn duration(
    s: &Spanned<String>,
    key: &'static str,
    issues: &mut Vec<PlanIssue>,
) -> Option<Duration> {
    match humantime::parse_duration(s.value.trim()) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            issue(issues, at(s), Problem::ZeroDuration { key });
            None
        }
        Err(_) => {
            let value = s.value.clone();
            issue(issues, at(s), Problem::BadDuration { key, value });
            None
        }
    }
}

/// A duration that keeps its text as written, for the excerpt's `timed out after 10m`.
pub(super) fn timeout(
    s: &Spanned<String>,
    key: &'static str,
    issues: &mut Vec<PlanIssue>,
) -> Option<Timeout> {
    duration(s, key, issues).map(|after| Timeout {
        after,
        text: s.value.trim().to_owned(),
    })
}
