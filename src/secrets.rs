//! Which environment values are secret, and replacing them with `***` wherever output goes:
//! log files, excerpts, rows, terminal output.
//!
//! A value is secret when its variable's name has a `_`-separated token TOKEN, SECRET,
//! PASSWORD, PASSWD, KEY, WEBHOOK or CREDENTIALS (`GITHUB_TOKEN`, `API_KEY`), or is listed in
//! the plan's `secrets:`. Values shorter than 6 bytes are not redacted: masking every `1` or
//! `true` in a log would destroy it and protect nothing.

use aho_corasick::{AhoCorasick, MatchKind};

pub const MASK: &str = "***";
pub const MIN_SECRET_LEN: usize = 6;
const SECRET_TOKENS: [&str; 7] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "KEY",
    "WEBHOOK",
    "CREDENTIALS",
];

/// Whether a variable of this name holds a secret (by the naming rule or `secrets:`).
pub fn is_secret_name(name: &str, listed: &[String]) -> bool {
    listed.iter().any(|l| l == name)
        || name
            .split('_')
            .any(|tok| SECRET_TOKENS.iter().any(|s| tok.eq_ignore_ascii_case(s)))
}

/// The secret values of one run, ready to be masked out of any bytes.
#[derive(Clone, Default)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    max_len: usize,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor(max_len: {})", self.max_len)
    }
}

impl Redactor {
    pub fn new<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        for v in values {
            let v: &[u8] = v.as_ref();
            // A YAML `|` block ends with a newline that is not part of the secret.
            let v = v.strip_suffix(b"\n").unwrap_or(v);
            let v = v.strip_suffix(b"\r").unwrap_or(v);
            patterns.push(v.to_vec());
            // Output is redacted line by line in the log file, so each line of a multi-line
            // secret (a PEM key) is a secret of its own.
            if v.contains(&b'\n') {
                patterns.extend(
                    v.split(|&b| b == b'\n')
                        .map(|l| l.trim_ascii_end().to_vec()),
                );
            }
        }
        let mut values = patterns;
        values.retain(|v| v.len() >= MIN_SECRET_LEN);
        values.sort();
        values.dedup();
        if values.is_empty() {
            return Redactor::default();
        }
        let max_len = values.iter().map(Vec::len).max().unwrap_or(0);
        // Leftmost-longest: a secret that contains another is masked whole.
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&values)
            .ok();
        Redactor { matcher, max_len }
    }

    /// The longest secret; a streaming reader keeps `max_len - 1` bytes back between reads
    /// so that a value split across two reads is still found.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Where to split a growing buffer so that the part before can be redacted and written
    /// now without ever cutting a secret in two: at least `max_len - 1` bytes stay behind, and
    /// never a split inside a match.
    pub fn safe_split(&self, data: &[u8]) -> usize {
        let Some(m) = &self.matcher else {
            return data.len();
        };
        let mut cut = data.len().saturating_sub(self.max_len.saturating_sub(1));
        for found in m.find_iter(data) {
            if found.start() < cut && found.end() > cut {
                cut = found.start();
                break;
            }
            if found.start() >= cut {
                break;
            }
        }
        cut
    }

    pub fn redact_bytes(&self, input: &[u8]) -> Vec<u8> {
        match &self.matcher {
            None => input.to_vec(),
            Some(m) => {
                let mut out = Vec::with_capacity(input.len());
                m.replace_all_with_bytes(input, &mut out, |_, _, dst| {
                    dst.extend_from_slice(MASK.as_bytes());
                    true
                });
                out
            }
        }
    }

    pub fn redact(&self, input: &str) -> String {
        match &self.matcher {
            None => input.to_owned(),
            Some(m) => m.replace_all(input, &vec![MASK; m.patterns_len()]),
        }
    }

    /// Masks every string inside a JSON value.
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        if self.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.redact_json(v)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_token_rule() {
        for n in [
            "GITHUB_TOKEN",
            "API_KEY",
            "SLACK_WEBHOOK",
            "DB_PASSWORD",
            "my_secret",
            "AWS_CREDENTIALS",
        ] {
            assert!(is_secret_name(n, &[]), "{n}");
        }
        for n in ["MONKEY", "TOKENIZER", "PATH", "KEYBOARD_LAYOUT_X"] {
            assert!(!is_secret_name(n, &[]), "{n}");
        }
        assert!(is_secret_name("SITE_PASS", &["SITE_PASS".to_owned()]));
    }

    #[test]
    fn masks_long_values_only() {
        let r = Redactor::new(["hunter22", "abc", "hunter22-longer"]);
        assert_eq!(
            r.redact("x hunter22 y hunter22-longer abc"),
            "x *** y *** abc"
        );
        assert_eq!(r.redact_bytes(b"\xffhunter22\xff"), b"\xff***\xff");
        assert_eq!(r.max_len(), 15);
        assert!(Redactor::new(["short"]).is_empty());
    }

    #[test]
    fn multi_line_secrets_are_masked_line_by_line() {
        let r = Redactor::new(["-----BEGIN KEY-----\nMIIBOgIBAAJBAK\n-----END KEY-----\n"]);
        assert_eq!(r.redact("MIIBOgIBAAJBAK\n"), "***\n");
        assert_eq!(r.redact("x -----END KEY-----\nnext"), "x ***\nnext");
    }

    #[test]
    fn safe_split_never_cuts_a_secret() {
        let r = Redactor::new(["abcdefgh"]);
        // The tail that could start a secret stays behind.
        assert_eq!(r.safe_split(b"0123456789"), 3);
        // A whole secret straddling the natural cut moves the cut before it.
        assert_eq!(r.safe_split(b"xxabcdefghy"), 2);
        assert_eq!(Redactor::default().safe_split(b"0123"), 4);
    }
}
