//! Every problem a plan file can have, and its text. The checks in `plan/` name a variant;
//! the one `Display` below writes what `orch plan validate` and `orch run` print after
//! `file:line:column:`, as `error.rs` does for errors and `warning.rs` for warnings.

use std::fmt;

use super::Loc;
use crate::error::PlanIssue;
use crate::notify::TargetKind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// serde-saphyr's own message, without its location and snippet.
    Yaml {
        text: String,
    },
    /// A mapping with the same key twice (serde-saphyr's advice is for programmers).
    DuplicateKey {
        key: String,
    },
    /// A `---` starts a second document.
    SeveralDocuments,

    // The plan's own keys.
    BadPlanName {
        name: String,
    },
    RunIdPlaceholder {
        template: String,
    },
    BadRunId {
        template: String,
    },
    BadSecretName {
        name: String,
    },
    NoTasks,
    ZeroConcurrency,

    // `env` blocks and durations, the plan's and a task's.
    BadEnvName {
        name: String,
    },
    ZeroDuration {
        key: &'static str,
    },
    BadDuration {
        key: &'static str,
        value: String,
    },

    // `${VAR}` references (values may be secrets: never quote them).
    UnclosedReference,
    NestedReference,
    BadVariableName {
        name: String,
    },
    /// `orch plan validate --strict-env`: a variable the plan needs is not set.
    UnsetVariable {
        name: String,
    },

    // One task.
    BadTaskName {
        name: String,
    },
    /// A `runs_on` key or value that is not a label.
    BadLabel {
        text: String,
    },
    DuplicateTask {
        name: String,
        first_line: u64,
    },
    EmptyRun {
        task: String,
    },
    EmptyShell {
        task: String,
    },
    RunAndShell {
        task: String,
    },
    NoCommand {
        task: String,
    },
    EmptyCwd {
        task: String,
    },
    /// `error` is the last line of the regex crate's message.
    BadOutputsUri {
        task: String,
        error: String,
    },
    NeedlessApprovalTimeout {
        task: String,
    },
    UnknownApproval {
        value: String,
    },
    /// `approval: {when: never, …}`.
    GateNeverWaits {
        task: String,
    },
    NoReminders {
        task: String,
    },
    RemindNotIncreasing {
        task: String,
        age: String,
        before: String,
    },
    RemindAfterTimeout {
        task: String,
        age: String,
        timeout: String,
    },
    EscalateAfterTimeout {
        task: String,
        after: String,
        timeout: String,
    },
    NoEscalateTargets {
        task: String,
    },
    UnknownEscalateTarget {
        task: String,
        target: String,
    },
    NoApprovers {
        task: String,
    },
    BadApprover {
        task: String,
        entry: String,
    },
    DuplicateApprover {
        task: String,
        entry: String,
    },
    RequiredZero {
        task: String,
    },
    LinksWithoutApprovers {
        task: String,
    },
    LinksOutOfRange {
        task: String,
        value: String,
    },
    RequiredExceedsApprovers {
        task: String,
        required: u32,
        listed: usize,
    },

    // The dependency graph.
    SelfDependency {
        task: String,
    },
    UnknownDependency {
        task: String,
        dependency: String,
    },
    /// A closed path: `[a, b, a]`.
    Cycle {
        path: Vec<String>,
    },

    // `notify` targets.
    BadTargetName {
        target: String,
    },
    UnknownTargetType {
        target: String,
        kind: String,
    },
    NoTargetUrl {
        target: String,
    },
    UnsignedSecret {
        target: String,
        kind: TargetKind,
    },
    NoEvents {
        target: String,
    },
    /// `message` comes from parsing the event (`notify::Event`).
    BadEvent {
        target: String,
        message: String,
    },
    /// A literal `url` or `secret` where a `${VAR}` reference belongs.
    NotAReference {
        target: String,
        key: &'static str,
    },
}

impl Problem {
    /// This problem at `loc`, as [`crate::error::Error::Plan`] reports it.
    pub fn at(self, loc: Loc) -> PlanIssue {
        PlanIssue {
            loc,
            message: self.to_string(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Yaml { text } => f.write_str(text),
            Problem::DuplicateKey { key } => {
                write!(f, "`{key}` appears twice in the same mapping: keep one")
            }
            Problem::SeveralDocuments => write!(
                f,
                "a plan is one YAML document, and this file holds several: remove the `---` \
                 that starts the next one, or put each plan in a file of its own"
            ),

            Problem::BadPlanName { name } => write!(
                f,
                "plan name `{name}` must be letters, digits, `.`, `_` and `-`, and not `.` or `..` (it becomes part of \
                 run ids and file names)"
            ),
            Problem::RunIdPlaceholder { template } => write!(
                f,
                "`run_id: {template}` has an unknown placeholder: use `{{name}}`, `{{date}}` \
                 or `{{time}}`"
            ),
            Problem::BadRunId { template } => write!(
                f,
                "`run_id: {template}` must give a name of letters, digits, `.`, `_` and `-`, \
                 not `.` or `..`"
            ),
            Problem::BadSecretName { name } => {
                write!(
                    f,
                    "`{name}` in `secrets` is not an environment variable name"
                )
            }
            Problem::NoTasks => f.write_str("`tasks` is empty: a plan needs at least one task"),
            Problem::ZeroConcurrency => f.write_str("`concurrency` must be at least 1"),

            Problem::BadEnvName { name } => write!(
                f,
                "`{name}` is not an environment variable name (letters, digits and `_`, not \
                 starting with a digit)"
            ),
            Problem::ZeroDuration { key } => write!(f, "`{key}` must be longer than zero"),
            Problem::BadDuration { key, value } => write!(
                f,
                "`{key}: {value}` is not a duration: write e.g. `30s`, `10m` or `1h30m`"
            ),

            Problem::UnclosedReference => f.write_str("`${` without a closing `}`"),
            Problem::NestedReference => f.write_str(
                "`${…}` inside `${…}` is not supported: set the inner variable in `env` first",
            ),
            Problem::BadVariableName { name } => write!(
                f,
                "`{name}` is not a variable name: use `${{NAME}}` or `${{NAME:-default}}`"
            ),
            Problem::UnsetVariable { name } => write!(
                f,
                "environment variable `{name}` is not set: export it, or write \
                 `${{{name}:-default}}`"
            ),

            Problem::BadTaskName { name } => write!(
                f,
                "task name `{name}` must be letters, digits, `.`, `_` and `-`, and not `.` or `..` (it becomes a log \
                 file name)"
            ),
            Problem::BadLabel { text } => write!(
                f,
                "`runs_on`: `{text}` must be letters, digits, `.`, `_` and `-`, as worker \
                 labels are (`orch worker --label KEY=VALUE`)"
            ),
            Problem::DuplicateTask { name, first_line } => write!(
                f,
                "task `{name}` is defined twice (first at line {first_line}): task names must \
                 be unique"
            ),
            Problem::EmptyRun { task } => write!(
                f,
                "task `{task}`: `run` needs a program, e.g. `run: [\"./scripts/check.sh\", \
                 \"--strict\"]`"
            ),
            Problem::EmptyShell { task } => write!(f, "task `{task}`: `shell` is empty"),
            Problem::RunAndShell { task } => write!(
                f,
                "task `{task}` has both `run` and `shell`: keep one (`run` is an argv list, \
                 `shell` a string for `sh -c`)"
            ),
            Problem::NoCommand { task } => write!(
                f,
                "task `{task}` has neither `run` nor `shell`: add `run: [program, args…]` or \
                 `shell: \"…\"`"
            ),
            Problem::EmptyCwd { task } => write!(
                f,
                "task `{task}`: `cwd` is empty: remove it to run in the current directory"
            ),
            Problem::BadOutputsUri { task, error } => {
                write!(
                    f,
                    "task `{task}`: `outputs_uri` is not a valid regex: {error}"
                )
            }
            Problem::NeedlessApprovalTimeout { task } => write!(
                f,
                "task `{task}`: `approval_timeout` needs `approval: always` or \
                 `approval: on_output_uri` (this task never waits for a decision)"
            ),
            Problem::UnknownApproval { value } => write!(
                f,
                "`approval: {value}` is unknown: use `never`, `always`, `on_output_uri`, or a \
                 mapping of `when`, `remind` and `escalate`"
            ),
            Problem::GateNeverWaits { task } => write!(
                f,
                "task `{task}`: `when: never` means the task never waits for a decision: use \
                 `always` or `on_output_uri`, or remove `approval`"
            ),
            Problem::NoReminders { task } => write!(
                f,
                "task `{task}`: `remind` is empty: list the ages to remind at, e.g. \
                 `remind: [1h, 4h]`, or remove it"
            ),
            Problem::RemindNotIncreasing { task, age, before } => write!(
                f,
                "task `{task}`: reminder `{age}` comes after `{before}` in `remind` but is not \
                 later: list the ages in increasing order, each once"
            ),
            Problem::RemindAfterTimeout { task, age, timeout } => write!(
                f,
                "task `{task}`: reminder `{age}` is not before `approval_timeout: {timeout}`, \
                 when orch rejects the gate: it could never be sent"
            ),
            Problem::EscalateAfterTimeout {
                task,
                after,
                timeout,
            } => write!(
                f,
                "task `{task}`: `escalate.after: {after}` is not before `approval_timeout: \
                 {timeout}`, when orch rejects the gate: it could never be sent"
            ),
            Problem::NoEscalateTargets { task } => write!(
                f,
                "task `{task}`: `escalate.notify` is empty: name the targets to escalate to"
            ),
            Problem::UnknownEscalateTarget { task, target } => write!(
                f,
                "task `{task}`: `escalate.notify` names `{target}`, which the plan's `notify` \
                 block does not have: add it there (with its `url`)"
            ),
            Problem::NoApprovers { task } => write!(
                f,
                "task `{task}`: `approvers` is empty: list who may vote (`[alice, \
                 \"group:release\"]`), or remove it to let anyone allowed to decide vote"
            ),
            Problem::BadApprover { task, entry } => write!(
                f,
                "task `{task}`: approver `{entry}` is neither a user name nor `group:NAME` \
                 (names have no spaces or `:`)"
            ),
            Problem::DuplicateApprover { task, entry } => write!(
                f,
                "task `{task}`: approver `{entry}` is listed twice: list each once"
            ),
            Problem::LinksOutOfRange { task, value } => write!(
                f,
                "task `{task}`: `links: {value}` is out of range: links stay valid from 1m to \
                 90d"
            ),
            Problem::LinksWithoutApprovers { task } => write!(
                f,
                "task `{task}`: `links` sends each approver links of their own, so it needs \
                 `approvers` to say who they are: list them, or remove `links`"
            ),
            Problem::RequiredZero { task } => write!(
                f,
                "task `{task}`: `required: 0` would approve without anyone: say how many \
                 distinct approvals settle the gate (1 or more)"
            ),
            Problem::RequiredExceedsApprovers {
                task,
                required,
                listed,
            } => write!(
                f,
                "task `{task}`: `required: {required}` but `approvers` lists {listed}: the gate \
                 could never be approved; lower `required` or list more approvers"
            ),

            Problem::SelfDependency { task } => write!(f, "task `{task}` depends on itself"),
            Problem::UnknownDependency { task, dependency } => write!(
                f,
                "task `{task}` depends on `{dependency}`, which the plan does not have"
            ),
            Problem::Cycle { path } => write!(f, "dependency cycle: {}", path.join(" -> ")),

            Problem::BadTargetName { target } => {
                write!(
                    f,
                    "notify target name `{target}` must be letters, digits, `.`, `_` and `-`, and not `.` or `..`"
                )
            }
            Problem::UnknownTargetType { target, kind } => write!(
                f,
                "notify target `{target}`: `type: {kind}` is unknown: use `slack`, `email` or \
                 `webhook`"
            ),
            Problem::NoTargetUrl { target } => write!(
                f,
                "notify target `{target}` needs a `url`, e.g. `url: ${{{}_URL}}` (set the \
                 variable in the environment)",
                target.to_ascii_uppercase().replace(['-', '.'], "_")
            ),
            Problem::UnsignedSecret { target, kind } => write!(
                f,
                "notify target `{target}`: `secret` signs generic webhooks only; {kind} \
                 requests are not signed"
            ),
            Problem::NoEvents { target } => write!(
                f,
                "notify target `{target}`: `on` is empty: list events, or remove the target"
            ),
            Problem::BadEvent { target, message } => {
                write!(f, "notify target `{target}`: {message}")
            }
            Problem::NotAReference { target, key } => write!(
                f,
                "notify target `{target}`: `{key}` must be a `${{VAR}}` reference: webhook \
                 {}s are secrets, so the plan names the environment variable that holds it",
                if *key == "url" { "URL" } else { key }
            ),
        }
    }
}
