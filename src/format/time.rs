//! Timestamps and durations: RFC 3339 in UTC for JSON and messages, a compact form for
//! tables, and durations that read naturally (`850ms`, `4m05s`).

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339, UTC, `Z`, with fractional seconds only when there are any.
pub fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

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
