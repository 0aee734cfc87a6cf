//! Plans: the YAML a team writes, parsed with a location for every value, validated once, and
//! turned into types the runner can trust without checking again.

mod approval;
mod duration;
pub mod expand;
pub mod graph;
mod issues;
mod load;
mod notify;
pub mod policy;
pub mod problem;
mod raw;
pub mod resolve;
pub mod saved;
pub mod schema;
mod task;

use std::path::PathBuf;

use regex::Regex;

pub use approval::{Escalate, Gate};
pub use load::{load, parse};
pub use problem::Problem;

/// A name that becomes part of a file path: run ids and task names.
pub const NAME_PATTERN: &str = "[A-Za-z0-9._-]+";

pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub use crate::error::Loc;

/// A validated plan.
#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    /// `{name}`, `{date}` (UTC, `YYYY-MM-DD`) and `{time}` (UTC, `HHMMSS`) are replaced.
    pub run_id_template: String,
    pub env: Vec<EnvVar>,
    /// Names of environment variables whose values are secret, beyond the naming rule.
    pub secrets: Vec<String>,
    /// At most this many tasks at once; `--concurrency` wins.
    pub concurrency: u32,
    pub tasks: Vec<TaskSpec>,
    /// Notification targets (URLs as `${VAR}` references).
    pub notify: Vec<crate::notify::Target>,
    pub source: PlanSource,
}

/// The file a plan came from, kept verbatim for `agents_runs`.
#[derive(Clone, Debug)]
pub struct PlanSource {
    pub path: PathBuf,
    pub text: String,
    pub sha256: String,
}

/// An `env` entry; `value` may hold `${VAR}` and `${VAR:-default}`.
#[derive(Clone, Debug)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub enum Command {
    /// An argv list, run without a shell.
    Argv(Vec<String>),
    /// A string run by `sh -c`.
    Shell(String),
}

/// When a task that exited 0 waits for a human.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    Never,
    Always,
    /// When the task produced an outputs URI (it opened a PR, say).
    OnOutputUri,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Never => "never",
            Approval::Always => "always",
            Approval::OnOutputUri => "on_output_uri",
        }
    }
}

/// What becomes of a task whose worker was lost while it ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnLost {
    /// It is recorded `failed` ("worker lost"): at most once (the default).
    #[default]
    Fail,
    /// It runs again, as a new attempt, on a worker that can take it.
    Retry,
}

/// Which outcomes of its dependencies let a task run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// Every dependency succeeded (the default).
    #[default]
    Success,
    /// Whatever happened to the dependencies, once they are done.
    Always,
    /// Only if a dependency failed: cleanup and alert tasks.
    Failure,
}

impl When {
    pub fn as_str(self) -> &'static str {
        match self {
            When::Success => "success",
            When::Always => "always",
            When::Failure => "failure",
        }
    }
}

/// How long a task may take, and what happens then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeout {
    pub after: std::time::Duration,
    /// As written in the plan (`10m`), for the excerpt's `timed out after 10m`.
    pub text: String,
}

pub const DEFAULT_KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(10);
pub const DEFAULT_RETRY_BACKOFF: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct TaskSpec {
    pub name: String,
    pub command: Command,
    pub env: Vec<EnvVar>,
    pub cwd: Option<(String, Loc)>,
    pub inputs: Option<serde_json::Value>,
    pub approval: Approval,
    /// What the gate does while it waits: reminders, escalation (the object form's keys).
    pub gate: Gate,
    /// A custom pattern for the outputs URI: the last match (its first group if it has one).
    pub outputs_uri: Option<Regex>,
    pub depends_on: Vec<String>,
    pub when: When,
    /// Extra attempts after a failed one.
    pub retries: u32,
    pub retry_backoff: std::time::Duration,
    pub timeout: Option<Timeout>,
    pub kill_grace: std::time::Duration,
    /// How long a decision may take once the task waits for one; then orch rejects it.
    pub approval_timeout: Option<Timeout>,
    /// The labels a worker must have to take it (runs workers drive), in plan order.
    pub runs_on: Vec<(String, String)>,
    pub on_lost: OnLost,
    pub loc: Loc,
}

impl Command {
    /// The argv orch executes.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Argv(v) => v.clone(),
            Command::Shell(s) => vec!["sh".to_owned(), "-c".to_owned(), s.clone()],
        }
    }
}

/// The plan's JSON Schema (`orch plan schema`), derived from the types that parse plans, as pretty JSON with a trailing newline, exactly as `docs/plan.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<raw::RawPlan>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
