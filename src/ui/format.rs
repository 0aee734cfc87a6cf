//! Small value formatters shared by tables and summaries.

use chrono::{DateTime, Utc};

/// `2026-11-25 02:30:00` in UTC: compact for tables (JSON keeps full RFC 3339).
pub fn when(at: Option<&DateTime<Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

/// `850ms`, `12.3s`, `4m05s`, `2h03m`.
pub fn duration_ms(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "-".to_owned();
    };
    let ms = ms.max(0);
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// `2 succeeded, 1 failed` for the statuses that have any tasks (`none` otherwise).
pub fn status_counts(count: impl Fn(crate::store::TaskStatus) -> i64) -> String {
    let parts: Vec<String> = crate::store::TaskStatus::ALL
        .iter()
        .filter(|s| count(**s) > 0)
        .map(|s| format!("{} {}", count(*s), s))
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

pub fn or_dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_ms(None), "-");
        assert_eq!(duration_ms(Some(850)), "850ms");
        assert_eq!(duration_ms(Some(12_345)), "12.3s");
        assert_eq!(duration_ms(Some(245_000)), "4m05s");
        assert_eq!(duration_ms(Some(7_380_000)), "2h03m");
    }
}
