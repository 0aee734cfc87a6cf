//! Validated settings built from the command line and the environment once, before any
//! command runs (ripgrep's low-args → high-args step): which database to open, how long
//! heartbeats and outages may last, how notifications are timed, who is at the keyboard and
//! whether this is CI. This is the only module that reads the process environment
//! (`clippy.toml` bans `std::env::var` elsewhere); every variable is listed in
//! docs/CONFIGURATION.md.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::format::url::{PublicUrl, parse_public_url, redact_url};

/// Everything orch takes from its environment, read and checked once by
/// `commands::dispatch` and passed down; nothing below it reads the environment again.
#[derive(Clone)]
pub struct Config {
    /// `--database-url` or `DATABASE_URL` (clap merges the two), not yet resolved: commands
    /// that never open the database do not fail on a bad one.
    pub database_url: Option<String>,
    /// The process environment as it was at start: plan variables, webhook URLs, secrets.
    pub env: Env,
    pub timing: Timing,
    pub notify: NotifySettings,
    /// `ORCH_TEST_SQLITE_MAX_PAGES`, for tests only: SQLite's `max_page_count` on every
    /// connection, so that a test fills the database without filling a disk.
    pub sqlite_max_pages: Option<u64>,
    /// `ci` when `CI` is set (and not `false`/`0`), else `manual`: recorded with each run.
    pub trigger: &'static str,
    /// Set when orch runs as a step of a GitHub Actions job (`GITHUB_ACTIONS=true`).
    pub github: Option<GitHubStep>,
    /// `ORCH_API_TOKEN`: the bearer token `orch serve` requires (`--token-file` wins).
    pub api_token: Option<ApiTokenText>,
    /// Who is at the keyboard (`USER`, `USERNAME`, `LOGNAME`, else the account name): the
    /// default `--by` of a decision.
    pub user: String,
    /// `ORCH_PUBLIC_URL`: where people open orch's pages, for one-click approval links in
    /// notifications (and `orch serve --public-url`'s default).
    pub public_url: Option<PublicUrl>,
}

/// The environment's values may be secrets: `Debug` names the variables only.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.env.keys().collect();
        names.sort();
        f.debug_struct("Config")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("env", &names)
            .field("timing", &self.timing)
            .field("notify", &self.notify)
            .field("trigger", &self.trigger)
            .field("github", &self.github)
            .field("api_token", &self.api_token)
            .field("user", &self.user)
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// The process environment, captured once.
pub type Env = HashMap<String, String>;

/// How often a driver renews its leases and running tasks, after how long without renewal
/// it counts as gone, and how long it rides out a database outage before giving up (exit 3).
/// The outage bound is shorter than the staleness so that an orch waiting for its database
/// gives up before any other orch may judge it dead and take its run over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub heartbeat: Duration,
    pub stale_after: Duration,
    pub outage: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat: Duration::from_secs(5),
            stale_after: Duration::from_secs(60),
            outage: Duration::from_secs(45),
        }
    }
}

/// Webhook delivery timing. The defaults are the documented behaviour; the `ORCH_NOTIFY_*`
/// variables exist so the tests can run in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotifySettings {
    /// Per request.
    pub timeout: Duration,
    /// Attempts per delivery before it is left `pending` for a later retry.
    pub attempts: u32,
    /// The first wait between attempts; doubled each time, with jitter.
    pub backoff: Duration,
    /// How long `orch run` (and `approve`/`reject`) wait for deliveries still under way.
    pub wait: Duration,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            timeout: Duration::from_secs(10),
            attempts: 3,
            backoff: Duration::from_secs(1),
            wait: Duration::from_secs(60),
        }
    }
}

/// Where GitHub Actions wants the job summary (`GITHUB_STEP_SUMMARY`), when it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubStep {
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_TRIGGERING_ACTOR`, else `GITHUB_ACTOR`: who triggered the workflow (or re-ran
    /// it), recorded as the run's initiator.
    pub actor: Option<String>,
}

/// A bearer token as read from the environment; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiTokenText(pub String);

impl fmt::Debug for ApiTokenText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiTokenText(***)")
    }
}

impl Config {
    /// Reads this process's environment. `database_url` comes from clap.
    pub fn from_process(database_url: Option<String>) -> Result<Self> {
        #[allow(clippy::disallowed_methods)] // the one place that reads the environment
        let env: Env = std::env::vars().collect();
        Config::from_env(database_url, env)
    }

    /// Builds and checks the configuration from an environment (a map, so tests can build
    /// one without touching the process's).
    pub fn from_env(database_url: Option<String>, env: Env) -> Result<Self> {
        let get = |name: &str| env.get(name).map(String::as_str);
        let defaults = Timing::default();
        let timing = Timing {
            heartbeat: millis(&env, "ORCH_HEARTBEAT_MS")?.unwrap_or(defaults.heartbeat),
            stale_after: millis(&env, "ORCH_STALE_AFTER_MS")?.unwrap_or(defaults.stale_after),
            outage: millis(&env, "ORCH_DB_OUTAGE_MS")?.unwrap_or(defaults.outage),
        };
        // Only zero is refused: a command that judges others (`orch runs list`) may be given a
        // staleness below its own heartbeat, which it never uses.
        if timing.heartbeat.is_zero() {
            return Err(Error::HeartbeatZero);
        }
        let n = NotifySettings::default();
        let notify = NotifySettings {
            timeout: millis(&env, "ORCH_NOTIFY_TIMEOUT_MS")?.unwrap_or(n.timeout),
            attempts: n.attempts,
            backoff: millis(&env, "ORCH_NOTIFY_BACKOFF_MS")?.unwrap_or(n.backoff),
            wait: millis(&env, "ORCH_NOTIFY_WAIT_MS")?.unwrap_or(n.wait),
        };
        let sqlite_max_pages = whole(&env, "ORCH_TEST_SQLITE_MAX_PAGES")?;
        let trigger = match get("CI") {
            Some(v) if !v.is_empty() && v != "false" && v != "0" => "ci",
            _ => "manual",
        };
        let github = (get("GITHUB_ACTIONS") == Some("true")).then(|| GitHubStep {
            step_summary: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            // Who started this run of the workflow: on a re-run, the one who re-ran it
            // (`GITHUB_TRIGGERING_ACTOR`), not who first triggered it (`GITHUB_ACTOR`).
            actor: ["GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR"]
                .iter()
                .filter_map(|k| get(k))
                .find(|a| !a.trim().is_empty())
                .map(str::to_owned),
        });
        let api_token = get("ORCH_API_TOKEN").map(|t| ApiTokenText(t.to_owned()));
        let user = ["USER", "USERNAME", "LOGNAME"]
            .iter()
            .filter_map(|k| get(k))
            .find(|v| !v.trim().is_empty())
            .map(str::to_owned)
            .unwrap_or_else(account_name);
        let public_url = match get("ORCH_PUBLIC_URL").map(str::trim) {
            Some(raw) if !raw.is_empty() => {
                Some(parse_public_url(raw).map_err(|why| Error::BadPublicUrl { why })?)
            }
            _ => None,
        };
        Ok(Config {
            public_url,
            database_url,
            env,
            timing,
            notify,
            sqlite_max_pages,
            trigger,
            github,
            api_token,
            user,
        })
    }

    /// Who starts a run from this process, recorded with it (`agents_runs.initiator`): the
    /// GitHub user who triggered the workflow in GitHub Actions, else the operating-system user.
    pub fn initiator(&self) -> String {
        self.github
            .as_ref()
            .and_then(|g| g.actor.clone())
            .unwrap_or_else(|| self.user.clone())
    }

    /// The database to open, checked: a bad URL is a usage error (exit 2).
    pub fn database(&self) -> Result<DatabaseTarget> {
        DatabaseTarget::resolve(self.database_url.as_deref())
    }
}

/// A whole number of milliseconds from `name`, if set; anything else is a usage error, so a
/// typo never silently means the default.
fn millis(env: &Env, name: &'static str) -> Result<Option<Duration>> {
    Ok(whole(env, name)?.map(Duration::from_millis))
}

/// A whole number from `name`, if set; anything else is a usage error.
fn whole(env: &Env, name: &'static str) -> Result<Option<u64>> {
    let Some(raw) = env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    raw.parse::<u64>().map(Some).map_err(|_| Error::BadMillis {
        name,
        raw: raw.to_owned(),
    })
}

/// The account name of this process's user, when the environment names nobody.
fn account_name() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Where orch keeps its embedded database when nothing else is asked.
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
                return Err(Error::SqliteWithoutFile {
                    url: url.to_owned(),
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
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_empty_environment_means_the_documented_defaults() {
        let c = Config::from_env(None, env(&[("USER", "ana")])).unwrap();
        assert_eq!(c.timing, Timing::default());
        assert_eq!(c.notify, NotifySettings::default());
        assert_eq!((c.trigger, c.user.as_str()), ("manual", "ana"));
        assert!(c.github.is_none() && c.api_token.is_none());
    }

    #[test]
    fn ci_and_github_actions_are_recognised() {
        let c = Config::from_env(
            None,
            env(&[
                ("CI", "true"),
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_STEP_SUMMARY", "/tmp/s.md"),
            ]),
        )
        .unwrap();
        assert_eq!(c.trigger, "ci");
        assert_eq!(
            c.github.unwrap().step_summary,
            Some(PathBuf::from("/tmp/s.md"))
        );
        for off in ["", "false", "0"] {
            let c = Config::from_env(None, env(&[("CI", off)])).unwrap();
            assert_eq!(c.trigger, "manual", "CI={off:?}");
        }
    }

    #[test]
    fn a_malformed_or_zero_knob_is_a_usage_error() {
        let err = Config::from_env(None, env(&[("ORCH_HEARTBEAT_MS", "5s")])).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(
            err.to_string().contains("`ORCH_HEARTBEAT_MS` is `5s`"),
            "{err}"
        );
        let err = Config::from_env(None, env(&[("ORCH_HEARTBEAT_MS", "0")])).unwrap_err();
        assert!(
            err.to_string().contains("`ORCH_HEARTBEAT_MS` is 0"),
            "{err}"
        );
    }

    #[test]
    fn the_api_token_never_shows_in_debug() {
        let c = Config::from_env(
            Some("postgres://u:pw-in-url@h/db".to_owned()),
            env(&[
                ("ORCH_API_TOKEN", "s3cret-token"),
                ("SLACK_WEBHOOK", "https://x/T0/B0/k"),
            ]),
        )
        .unwrap();
        let shown = format!("{c:?}");
        for secret in ["s3cret-token", "pw-in-url", "T0/B0/k"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn every_variable_read_here_is_in_the_configuration_doc() {
        let doc = include_str!("../docs/CONFIGURATION.md");
        let source = include_str!("config.rs");
        let read = regex::Regex::new(r#"(?:get|millis\(&env,)\s*\(?\s*"([A-Z_]+)""#).unwrap();
        let mut names: Vec<&str> = read
            .captures_iter(source)
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        names.extend([
            "USER",
            "USERNAME",
            "LOGNAME",
            "DATABASE_URL",
            "GITHUB_TRIGGERING_ACTOR",
        ]);
        assert!(names.len() > 10, "the pattern found only {names:?}");
        for name in names {
            assert!(
                doc.contains(&format!("`{name}`")),
                "`{name}` is missing from docs/CONFIGURATION.md"
            );
        }
    }

    #[test]
    fn unknown_scheme_is_a_usage_error() {
        let err = DatabaseTarget::resolve(Some("mysql://u:pw@h/db")).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(!err.to_string().contains("pw@"));
    }
}
