//! How values are written for people and for JSON: timestamps, durations, hex digests and
//! URLs with their secrets masked. A leaf: it imports nothing from orch, so every layer
//! (the error messages included) can use it.

pub mod hex;
pub mod time;
pub mod url;

/// `-` for a value that is missing or empty, as tables show it.
pub fn or_dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}
