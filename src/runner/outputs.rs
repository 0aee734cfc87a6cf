//! What a task produced: its outputs URI (found in its output, or stated by a JSON result
//! line) and the status a JSON result line may ask for.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::store::TaskStatus;

/// The longest last line that is read as a JSON result.
pub const RESULT_LINE_MAX: usize = 64 * 1024;

// Both patterns are constants that the tests below compile, so neither `expect` can fail.
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"https?://[^\s<>"'`\)\]\}\x00-\x1f\x7f]+"#).expect("valid URL regex")
});
static REVIEW_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"/(pull|pulls|merge_requests|pull-requests)/\d+").expect("valid PR regex")
});

/// Watches output for the outputs URI: with a custom pattern, its last match (its first
/// capture group when it has one); by default the last http(s) URL that looks like a pull or
/// merge request, else the last http(s) URL.
#[derive(Debug, Default)]
pub struct UriFinder {
    custom: Option<Regex>,
    last_review: Option<String>,
    last_any: Option<String>,
}

impl UriFinder {
    pub fn new(custom: Option<Regex>) -> Self {
        UriFinder {
            custom,
            ..Default::default()
        }
    }

    pub fn feed(&mut self, text: &str) {
        if let Some(re) = &self.custom {
            for caps in re.captures_iter(text) {
                let m = caps.get(1).or_else(|| caps.get(0));
                if let Some(m) = m {
                    self.last_any = Some(m.as_str().to_owned());
                }
            }
            return;
        }
        for m in URL.find_iter(text) {
            let url = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?']);
            if REVIEW_URL.is_match(url) {
                self.last_review = Some(url.to_owned());
            }
            self.last_any = Some(url.to_owned());
        }
    }

    pub fn found(&self) -> Option<String> {
        self.last_review.clone().or_else(|| self.last_any.clone())
    }
}

/// A task's own statement of its result: a last stdout line that is a JSON object.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResultLine {
    pub status: Option<TaskStatus>,
    pub outputs_uri: Option<String>,
}

/// Reads `line` as a result line; `None` when it is not a JSON object.
pub fn parse_result_line(line: &[u8]) -> Option<ResultLine> {
    let trimmed = line.trim_ascii();
    if !trimmed.starts_with(b"{") || trimmed.len() > RESULT_LINE_MAX {
        return None;
    }
    let Value::Object(obj) = serde_json::from_slice::<Value>(trimmed).ok()? else {
        return None;
    };
    let status = obj
        .get("status")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<TaskStatus>().ok());
    // One line of a URL, nothing a terminal or a CI runner would read as a command: a value
    // with a line break, an escape or another control character is not an outputs URI.
    let outputs_uri = obj
        .get("outputs_uri")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty() && !s.chars().any(char::is_control))
        .map(str::to_owned);
    Some(ResultLine {
        status,
        outputs_uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_last_review_url() {
        let mut f = UriFinder::new(None);
        f.feed("see https://github.com/o/r/pull/12, then https://example.com/build/3.");
        f.feed("and https://gitlab.com/g/p/-/merge_requests/7 done");
        f.feed("artifact at https://example.com/a.tgz");
        assert_eq!(
            f.found().as_deref(),
            Some("https://gitlab.com/g/p/-/merge_requests/7")
        );
        let mut c = UriFinder::new(None);
        c.feed("\x1b[4mhttps://github.com/o/r/pull/7\x1b[0m");
        assert_eq!(c.found().as_deref(), Some("https://github.com/o/r/pull/7"));
        let mut g = UriFinder::new(None);
        g.feed("report: https://example.com/r/1.");
        assert_eq!(g.found().as_deref(), Some("https://example.com/r/1"));
    }

    #[test]
    fn a_custom_pattern_uses_its_first_group() {
        let mut f = UriFinder::new(Some(Regex::new(r"artifact: (\S+)").unwrap()));
        f.feed("artifact: s3://b/1 https://github.com/o/r/pull/1\nartifact: s3://b/2");
        assert_eq!(f.found().as_deref(), Some("s3://b/2"));
    }

    #[test]
    fn result_lines_are_json_objects() {
        assert_eq!(
            parse_result_line(
                br#"{"status": "awaiting_approval", "outputs_uri": "https://x/pull/1"}"#
            ),
            Some(ResultLine {
                status: Some(TaskStatus::AwaitingApproval),
                outputs_uri: Some("https://x/pull/1".into())
            })
        );
        assert_eq!(parse_result_line(b"[1, 2]"), None);
        // A line break, an escape: not a URI (a CI runner would read `::error::` as a command).
        let hostile = br#"{"status": "succeeded", "outputs_uri": "https://x/ok\n::error::injected\u001b[31m"}"#;
        assert_eq!(
            parse_result_line(hostile),
            Some(ResultLine {
                status: Some(TaskStatus::Succeeded),
                outputs_uri: None
            })
        );
        assert_eq!(parse_result_line(b"done"), None);
        assert_eq!(
            parse_result_line(br#"{"status": "bogus"}"#),
            Some(ResultLine::default())
        );
    }
}
