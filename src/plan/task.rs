//! Validating one task of a plan, and the value checks the plan's own keys share with it
//! (`env` entries; durations are in `duration.rs`). Each step adds its problems to the issue list and goes on,
//! so one run of `orch plan check` reports every mistake at its place.

use std::collections::HashMap;
use std::time::Duration;

use regex::{Regex, RegexBuilder};
use serde_saphyr::Spanned;

use super::duration::{duration, timeout};
use super::expand::{self, ExpandError};
use super::issues::{at, issue};
use super::problem::Problem;
use super::raw::{RawPlan, RawTask};
use super::{Approval, Command, EnvVar, Loc, OnLost, TaskSpec, Timeout, When, is_valid_name};
use crate::error::PlanIssue;

/// Plan-level defaults for task keys.
pub(super) struct Defaults {
    timeout: Option<Timeout>,
    kill_grace: Duration,
    /// Applies to gated tasks only.
    approval_timeout: Option<Timeout>,
}

impl Defaults {
    /// The plan's `timeout`, `kill_grace` and `approval_timeout`, checked once here rather
    /// than again for every task that inherits them.
    pub(super) fn from_plan(raw: &RawPlan, issues: &mut Vec<PlanIssue>) -> Self {
        Defaults {
            timeout: raw
                .timeout
                .as_ref()
                .and_then(|t| timeout(t, "timeout", issues)),
            kill_grace: raw
                .kill_grace
                .as_ref()
                .and_then(|k| duration(k, "kill_grace", issues))
                .unwrap_or(super::DEFAULT_KILL_GRACE),
            approval_timeout: raw
                .approval_timeout
                .as_ref()
                .and_then(|t| timeout(t, "approval_timeout", issues)),
        }
    }
}

/// Checks one task; `None` when it has no usable command (its other problems are still
/// reported). `seen` holds the names of the tasks before it, to catch duplicates.
pub(super) fn task(
    raw: RawTask,
    task_loc: Loc,
    defaults: &Defaults,
    seen: &mut HashMap<String, Loc>,
    issues: &mut Vec<PlanIssue>,
) -> Option<TaskSpec> {
    let name = task_name(&raw.task, seen, issues);
    let command = command(raw.run, raw.shell, &name, task_loc, issues);
    let env = env_vars(&raw.env, issues);
    let cwd = raw.cwd.map(|c| cwd(c, &name, issues));
    let outputs_uri = raw.outputs_uri.and_then(|p| outputs_uri(&p, &name, issues));
    let retry_backoff = raw
        .retry_backoff
        .as_ref()
        .and_then(|b| duration(b, "retry_backoff", issues))
        .unwrap_or(super::DEFAULT_RETRY_BACKOFF);
    let task_timeout = match &raw.timeout {
        Some(t) => timeout(t, "timeout", issues),
        None => defaults.timeout.clone(),
    };
    let kill_grace = raw
        .kill_grace
        .as_ref()
        .and_then(|k| duration(k, "kill_grace", issues))
        .unwrap_or(defaults.kill_grace);
    let (approval, gate) = super::approval::approval(raw.approval.as_ref(), &name, issues);
    let approval_timeout = approval_timeout(
        raw.approval_timeout.as_ref(),
        approval,
        defaults,
        &name,
        issues,
    );
    super::approval::check_against_timeout(
        &gate,
        raw.approval.as_ref(),
        approval_timeout.as_ref(),
        &name,
        issues,
    );
    let runs_on = labels(&raw.runs_on, issues);
    Some(TaskSpec {
        name,
        command: command?,
        env,
        cwd,
        inputs: raw.inputs,
        approval,
        gate,
        outputs_uri,
        depends_on: raw.depends_on.into_iter().map(|d| d.value).collect(),
        when: raw.when.map_or(When::Success, |w| w.value),
        retries: raw.retries.map_or(0, |r| r.value),
        retry_backoff,
        timeout: task_timeout,
        kill_grace,
        approval_timeout,
        runs_on,
        on_lost: raw.on_lost.map_or(OnLost::Fail, |o| o.value),
        loc: task_loc,
    })
}

/// `runs_on`: keys and values as worker labels are written (`--label KEY=VALUE`).
fn labels(
    raw: &indexmap::IndexMap<String, Spanned<String>>,
    issues: &mut Vec<PlanIssue>,
) -> Vec<(String, String)> {
    let mut labels = Vec::with_capacity(raw.len());
    for (key, value) in raw {
        // A key has no place of its own: its value's line points at it.
        for text in [key, &value.value] {
            if !is_valid_name(text) {
                let problem = Problem::BadLabel { text: text.clone() };
                issue(issues, at(value), problem);
            }
        }
        labels.push((key.clone(), value.value.clone()));
    }
    labels
}

/// The task's name, which must be usable as a file name and unique in the plan; a duplicate
/// points at the first definition, which is kept.
fn task_name(
    raw: &Spanned<String>,
    seen: &mut HashMap<String, Loc>,
    issues: &mut Vec<PlanIssue>,
) -> String {
    let name = raw.value.clone();
    let name_loc = at(raw);
    if !is_valid_name(&name) {
        issue(
            issues,
            name_loc,
            Problem::BadTaskName { name: name.clone() },
        );
    }
    if let Some(first) = seen.get(&name) {
        let problem = Problem::DuplicateTask {
            name: name.clone(),
            first_line: first.line,
        };
        issue(issues, name_loc, problem);
    } else {
        seen.insert(name.clone(), name_loc);
    }
    name
}

/// Exactly one of `run` (an argv list) and `shell` (a string for `sh -c`). An empty one is
/// reported but still returned: the task is complete enough for the other checks.
fn command(
    run: Option<Spanned<Vec<String>>>,
    shell: Option<Spanned<String>>,
    name: &str,
    task_loc: Loc,
    issues: &mut Vec<PlanIssue>,
) -> Option<Command> {
    let task = name.to_owned();
    match (run, shell) {
        (Some(run), None) => {
            if run.value.first().is_none_or(|p| p.trim().is_empty()) {
                issue(issues, at(&run), Problem::EmptyRun { task });
            }
            Some(Command::Argv(run.value))
        }
        (None, Some(shell)) => {
            if shell.value.trim().is_empty() {
                issue(issues, at(&shell), Problem::EmptyShell { task });
            }
            Some(Command::Shell(shell.value))
        }
        (Some(run), Some(_)) => {
            issue(issues, at(&run), Problem::RunAndShell { task });
            None
        }
        (None, None) => {
            issue(issues, task_loc, Problem::NoCommand { task });
            None
        }
    }
}

/// The working directory as written: it may hold `${VAR}`, expanded only when the task runs,
/// so only its syntax can be checked now.
fn cwd(c: Spanned<String>, name: &str, issues: &mut Vec<PlanIssue>) -> (String, Loc) {
    if c.value.trim().is_empty() {
        let task = name.to_owned();
        issue(issues, at(&c), Problem::EmptyCwd { task });
    }
    if let Err(ExpandError::Syntax(problem)) = expand::check(&c.value) {
        issue(issues, at(&c), problem);
    }
    (c.value.clone(), at(&c))
}

/// The custom outputs URI pattern, compiled once here so a bad one fails the plan, not a run.
fn outputs_uri(p: &Spanned<String>, name: &str, issues: &mut Vec<PlanIssue>) -> Option<Regex> {
    // Multi-line mode: `^` and `$` match at each line of the output, as people expect.
    match RegexBuilder::new(&p.value)
        .multi_line(true)
        .crlf(true)
        .build()
    {
        Ok(re) => Some(re),
        Err(e) => {
            let problem = Problem::BadOutputsUri {
                task: name.to_owned(),
                error: regex_message(&e),
            };
            issue(issues, at(p), problem);
            None
        }
    }
}

/// How long a decision may take: the task's own, else the plan's. Only a gated task waits
/// for a decision, so a task that never does must not set one, and inherits none.
fn approval_timeout(
    raw: Option<&Spanned<String>>,
    approval: Approval,
    defaults: &Defaults,
    name: &str,
    issues: &mut Vec<PlanIssue>,
) -> Option<Timeout> {
    match raw {
        Some(t) if approval == Approval::Never => {
            let task = name.to_owned();
            issue(issues, at(t), Problem::NeedlessApprovalTimeout { task });
            None
        }
        Some(t) => timeout(t, "approval_timeout", issues),
        None if approval == Approval::Never => None,
        None => defaults.approval_timeout.clone(),
    }
}

/// The regex crate's errors span several lines with a caret diagram; keep the last line,
/// which says what is wrong.
fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid pattern")
        .trim()
        .trim_start_matches("error: ")
        .to_owned()
}

/// An `env` block (the plan's or a task's): names that a process environment accepts, and
/// values whose `${VAR}` syntax is sound (they are expanded only when the task runs).
pub(super) fn env_vars(
    raw: &indexmap::IndexMap<String, Spanned<String>>,
    issues: &mut Vec<PlanIssue>,
) -> Vec<EnvVar> {
    raw.iter()
        .map(|(name, value)| {
            if !expand::is_env_name(name) {
                issue(
                    issues,
                    at(value),
                    Problem::BadEnvName { name: name.clone() },
                );
            }
            if let Err(ExpandError::Syntax(problem)) = expand::check(&value.value) {
                issue(issues, at(value), problem);
            }
            EnvVar {
                name: name.clone(),
                value: value.value.clone(),
                loc: at(value),
            }
        })
        .collect()
}
