//! Validated settings built from the command line and the environment, before any command
//! runs: which database to open, and how to show its address without its password.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where orch keeps its embedded database (and, later, its logs) when nothing else is asked.
pub const STATE_DIR: &str = ".orch";
pub const DEFAULT_SQLITE_FILE: &str = "orch.db";

/// Which database to use. The URL inside may hold a password: `Debug` and `Display` never
/// show it.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A SQLite file; created (with its folder) when missing.
    Sqlite { path: PathBuf },
    /// A PostgreSQL server, by URL (`postgres://` or `postgresql://`).
    Postgres { url: String },
}

impl DatabaseTarget {
    /// Resolves the `--database-url` flag or `DATABASE_URL` (clap merges the two). An empty
    /// value counts as unset, so a CI secret that is defined but empty still means SQLite.
    pub fn resolve(url: Option<&str>) -> Result<Self> {
        let url = url.map(str::trim).filter(|u| !u.is_empty());
        let Some(url) = url else {
            return Ok(DatabaseTarget::Sqlite {
                path: Path::new(STATE_DIR).join(DEFAULT_SQLITE_FILE),
            });
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget::Postgres {
                url: url.to_owned(),
            });
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            // Accept `sqlite://path`, `sqlite:path` and drop any `?mode=…` query: orch sets
            // its own connection options.
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let path = rest.split('?').next().unwrap_or(rest);
            if path.is_empty() || path == ":memory:" {
                return Err(Error::Usage {
                    message: format!(
                        "`{url}` names no file: orch needs a SQLite file that outlives the \
                         process, e.g. `sqlite://.orch/orch.db`"
                    ),
                });
            }
            return Ok(DatabaseTarget::Sqlite {
                path: PathBuf::from(path),
            });
        }
        Err(Error::UnsupportedDatabaseUrl {
            url: redact_url(url),
        })
    }

    /// The address as it may be shown to people: the password masked.
    pub fn display_url(&self) -> String {
        match self {
            DatabaseTarget::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseTarget::Postgres { url } => redact_url(url),
        }
    }
}

impl fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseTarget({})", self.display_url())
    }
}

impl fmt::Display for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_url())
    }
}

/// A webhook URL as it may be shown: scheme and host (and port) only. The path of a Slack
/// or similar URL is the credential.
pub fn display_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "(not a URL)".to_owned();
    };
    let authority = authority(url, scheme_end + 3);
    // Drop any userinfo: `https://user:pw@host` shows as `https://host`.
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{}://{host}", &url[..scheme_end])
}

/// The `user:pw@host:port` part of a URL whose authority starts at `start`.
fn authority(url: &str, start: usize) -> &str {
    let rest = &url[start..];
    &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())]
}

/// Masks the password of a URL's userinfo (`postgres://u:secret@h/db` → `postgres://u:***@h/db`)
/// and any `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    redact_query_password(&out)
}

fn redact_query_password(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_owned();
    };
    let (base, query) = url.split_at(q + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}{}", parts.join("&"))
}

/// The password in a URL's userinfo or `password=` parameter, so it can be masked in task
/// output too (tasks inherit `DATABASE_URL`).
pub fn url_password(url: &str) -> Option<String> {
    let authority = authority(url, url.find("://")? + 3);
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && let Some((_, pw)) = userinfo.split_once(':')
        && !pw.is_empty()
    {
        return Some(pw.to_owned());
    }
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.eq_ignore_ascii_case("password") && !v.is_empty()).then(|| v.to_owned())
    })
}

/// Masks passwords of any database URLs inside free text (driver error messages can echo the
/// URL they were given).
pub fn redact_urls(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains("://") {
                redact_url(word)
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_url_means_default_sqlite() {
        for v in [None, Some(""), Some("  ")] {
            assert_eq!(
                DatabaseTarget::resolve(v).unwrap(),
                DatabaseTarget::Sqlite {
                    path: PathBuf::from(".orch/orch.db")
                }
            );
        }
    }

    #[test]
    fn password_is_masked_everywhere() {
        let t = DatabaseTarget::resolve(Some("postgres://bob:hunter22@db:5432/x?sslmode=require"))
            .unwrap();
        assert_eq!(
            t.display_url(),
            "postgres://bob:***@db:5432/x?sslmode=require"
        );
        assert!(!format!("{t:?}").contains("hunter22"));
        assert_eq!(
            redact_url("postgres://h/x?user=a&password=pw123456"),
            "postgres://h/x?user=a&password=***"
        );
        assert_eq!(redact_url("postgres://bob@h/x"), "postgres://bob@h/x");
    }

    #[test]
    fn webhook_urls_show_scheme_and_host_only() {
        assert_eq!(
            display_url("https://hooks.slack.com/services/T0/B0/XYZ"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            display_url("http://u:pw@127.0.0.1:8080/x?y=1"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(display_url("nonsense"), "(not a URL)");
    }

    #[test]
    fn unknown_scheme_is_a_usage_error() {
        let err = DatabaseTarget::resolve(Some("mysql://u:pw@h/db")).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(!err.to_string().contains("pw@"));
    }
}
