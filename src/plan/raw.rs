//! The plan file exactly as written: serde types with a location on every value we may need
//! to complain about later. Nothing outside `load` sees these.
//!
//! The same types give the plan's JSON Schema (`orch plan schema`): each `Spanned` field says
//! which plain type it stands for (`#[schemars(with = …)]`), and the doc comments become the
//! descriptions an editor shows.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::approval::{ApprovalShape, RawApproval};
use super::schema::{Duration, EnvName, EnvValue, Name, Reference};
use super::{OnLost, When};
use crate::notify::{Event, TargetKind};

/// An orch plan: tasks to run and record, see docs/PLANS.md.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "orch plan")]
pub struct RawPlan {
    /// The plan's name, part of run ids and file names.
    #[schemars(with = "Name")]
    pub name: Spanned<String>,
    /// Run id template: `{name}`, `{date}` (UTC), `{time}`. Default `{name}-{date}`.
    #[schemars(with = "Option<String>")]
    pub run_id: Option<Spanned<String>>,
    /// Variables for every task, in order; values may use `${VAR}` and `${VAR:-default}`.
    #[serde(default)]
    #[schemars(with = "IndexMap<EnvName, EnvValue>")]
    pub env: IndexMap<String, Spanned<String>>,
    /// Variables whose values are masked as `***` everywhere, beyond the naming rule.
    #[serde(default)]
    #[schemars(with = "Vec<EnvName>")]
    pub secrets: Vec<Spanned<String>>,
    /// At most this many tasks at once (default 1).
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub concurrency: Option<Spanned<u32>>,
    /// Default `timeout` of every task.
    #[schemars(with = "Option<Duration>")]
    pub timeout: Option<Spanned<String>>,
    /// Default `kill_grace` of every task (default 10s).
    #[schemars(with = "Option<Duration>")]
    pub kill_grace: Option<Spanned<String>>,
    /// Default `approval_timeout` of every gated task.
    #[schemars(with = "Option<Duration>")]
    pub approval_timeout: Option<Spanned<String>>,
    /// Notification targets by name: `slack`, `email`, or any name (a generic webhook).
    #[serde(default)]
    #[schemars(with = "IndexMap<Name, Option<RawTarget>>")]
    pub notify: IndexMap<String, Spanned<Option<RawTarget>>>,
    /// The tasks, at least one.
    #[schemars(with = "Vec<RawTask>", length(min = 1))]
    pub tasks: Spanned<Vec<Spanned<RawTask>>>,
}

/// A notification target.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Target")]
pub struct RawTarget {
    /// `slack`, `email` or `webhook`; by default from the target's name (`webhook` for any
    /// name but `slack` and `email`).
    #[serde(rename = "type")]
    #[schemars(with = "Option<TargetKind>")]
    pub kind: Option<Spanned<String>>,
    /// The environment variable holding the URL, as `${VAR}`; `slack` and `email` default to
    /// `${SLACK_WEBHOOK}` and `${EMAIL_WEBHOOK}`.
    #[schemars(with = "Option<Reference>")]
    pub url: Option<Spanned<String>>,
    /// Generic webhooks: the variable holding the HMAC-SHA256 signing secret, as `${VAR}`.
    #[schemars(with = "Option<Reference>")]
    pub secret: Option<Spanned<String>>,
    /// The events this target hears of (default `[awaiting_approval]`).
    #[schemars(with = "Option<Vec<Event>>", length(min = 1))]
    pub on: Option<Spanned<Vec<Spanned<String>>>>,
}

/// A task: exactly one of `run` and `shell`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Task", extend("oneOf" = [{"required": ["run"]}, {"required": ["shell"]}]))]
pub struct RawTask {
    /// The task's unique name (its log file's name).
    #[schemars(with = "Name")]
    pub task: Spanned<String>,
    /// An argv list, run without a shell.
    #[schemars(with = "Option<Vec<String>>", length(min = 1))]
    pub run: Option<Spanned<Vec<String>>>,
    /// A command line run by `sh -c`.
    #[schemars(with = "Option<String>")]
    pub shell: Option<Spanned<String>>,
    /// Variables for this task, after the plan's; values may use `${VAR}`.
    #[serde(default)]
    #[schemars(with = "IndexMap<EnvName, EnvValue>")]
    pub env: IndexMap<String, Spanned<String>>,
    /// Working directory; `${VAR}` expanded.
    #[schemars(with = "Option<String>")]
    pub cwd: Option<Spanned<String>>,
    /// Anything: stored as JSON in `agents_tasks.inputs`.
    pub inputs: Option<serde_json::Value>,
    /// When a task that exited 0 waits for a person (default `never`): `always`,
    /// `on_output_uri`, or an object that also reminds and escalates while it waits.
    #[schemars(with = "Option<ApprovalShape>")]
    pub approval: Option<Spanned<RawApproval>>,
    /// A regex for the outputs URI (its first group if it has one).
    #[schemars(with = "Option<String>")]
    pub outputs_uri: Option<Spanned<String>>,
    /// Tasks that must end first.
    #[serde(default)]
    #[schemars(with = "Vec<Name>")]
    pub depends_on: Vec<Spanned<String>>,
    /// Which outcomes of the dependencies let it run (default `success`).
    #[schemars(with = "Option<When>")]
    pub when: Option<Spanned<When>>,
    /// Further attempts after a failure (default 0).
    #[schemars(with = "Option<u32>")]
    pub retries: Option<Spanned<u32>>,
    /// First wait between attempts (default 30s), doubled each time.
    #[schemars(with = "Option<Duration>")]
    pub retry_backoff: Option<Spanned<String>>,
    /// How long one attempt may run.
    #[schemars(with = "Option<Duration>")]
    pub timeout: Option<Spanned<String>>,
    /// Between SIGTERM and SIGKILL when the task is stopped (default 10s).
    #[schemars(with = "Option<Duration>")]
    pub kill_grace: Option<Spanned<String>>,
    /// For a gated task: how long a decision may take before orch rejects it.
    #[schemars(with = "Option<Duration>")]
    pub approval_timeout: Option<Spanned<String>>,
    /// In a run recorded with `orch run --enqueue`: the labels a worker must have to take
    /// this task (`orch worker --label KEY=VALUE`). A local `orch run` ignores it.
    #[serde(default)]
    #[schemars(with = "IndexMap<Name, Name>")]
    pub runs_on: IndexMap<String, Spanned<String>>,
    /// In a run workers drive, when the worker running it is lost: `fail` (the default:
    /// a task runs at most once) or `retry` (it runs again, as a new attempt, elsewhere).
    #[schemars(with = "Option<OnLost>")]
    pub on_lost: Option<Spanned<OnLost>>,
}
