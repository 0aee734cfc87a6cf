//! Small display helpers shared by the pages.

use chrono::{DateTime, Utc};

/// A time as the pages show it.
pub fn at(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(String::new, |t| {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    })
}

/// A duration in milliseconds, humanly.
pub fn ms(d: Option<i64>) -> String {
    match d {
        None => String::new(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        // Tenths under a minute: `1.2s` against `0.9s` is the comparison the run page makes.
        Some(ms) if ms < 60_000 => format!("{}.{}s", ms / 1000, (ms % 1000) / 100),
        Some(ms) => secs(ms / 1000),
    }
}

/// Seconds as `1h 2m 3s`.
pub fn secs(s: i64) -> String {
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// An outputs URI becomes a link only when it is http(s); anything else is shown as text.
pub fn http_link(uri: &Option<String>) -> Option<String> {
    uri.as_ref()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .cloned()
}
