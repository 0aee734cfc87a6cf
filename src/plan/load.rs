//! Reading a plan file: parse (with a location for every error), then validate everything
//! that can be known without running it. Later code trusts the result.

use std::collections::HashMap;
use std::path::Path;

use regex::RegexBuilder;
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

use super::expand::{self, ExpandError};
use super::issues::{at, issue, loc};
use super::raw::{RawPlan, RawTask};
use std::time::Duration;

use super::{
    Approval, Command, EnvVar, Loc, Plan, PlanSource, TaskSpec, Timeout, When, is_valid_name,
};
use crate::error::{Error, PlanIssue, Result};
use crate::format::hex::hex;

pub const DEFAULT_RUN_ID: &str = "{name}-{date}";
const RUN_ID_PLACEHOLDERS: [&str; 3] = ["{name}", "{date}", "{time}"];

/// Reads and validates the plan at `path`.
pub fn load(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::PlanRead {
        path: path.display().to_string(),
        source,
    })?;
    parse(path, text)
}

/// Validates plan `text` as if read from `path`.
pub fn parse(path: &Path, text: String) -> Result<Plan> {
    let file = path.display().to_string();
    let fail = |issues: Vec<PlanIssue>| Error::Plan {
        file: file.clone(),
        issues,
    };
    let raw: RawPlan = serde_saphyr::from_str(&text).map_err(|e| {
        let l = e.location().map(|l| loc(&l)).unwrap_or_default();
        fail(vec![PlanIssue {
            loc: l,
            message: yaml_message(&e),
        }])
    })?;
    let mut issues = Vec::new();
    let plan = validate(raw, &mut issues);
    if !issues.is_empty() {
        issues.sort_by_key(|i| (i.loc.line, i.loc.column));
        return Err(fail(issues));
    }
    let sha256 = hex(&Sha256::digest(text.as_bytes()));
    Ok(Plan {
        source: PlanSource {
            path: path.to_path_buf(),
            text,
            sha256,
        },
        ..plan
    })
}

/// serde-saphyr's message without its own `line N column M:` prefix and snippet: we print
/// the location as `file:line:column` ourselves.
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let stripped = match first.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map(|(_, msg)| msg).unwrap_or(first),
        None => first,
    };
    // serde-saphyr appends the location (`… at line 4, column 5`); ours leads the line.
    let stripped = match stripped.rfind(" at line ") {
        Some(i) if stripped[i..].contains(", column ") => &stripped[..i],
        _ => stripped,
    };
    // Its advice is for programmers using the library, not for people writing plans.
    if let Some(key) = stripped.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key);
        return format!("`{key}` appears twice in the same mapping: keep one");
    }
    stripped.to_owned()
}

/// Lowercase hex of `bytes` (digests).
fn validate(raw: RawPlan, issues: &mut Vec<PlanIssue>) -> Plan {
    let name = raw.name.value.clone();
    if !is_valid_name(&name) {
        issue(
            issues,
            at(&raw.name),
            format!(
                "plan name `{name}` must match `[A-Za-z0-9._-]+` (it becomes part of run ids and file names)"
            ),
        );
    }

    let run_id_template = match &raw.run_id {
        Some(t) => {
            check_run_id_template(&t.value, at(t), issues);
            t.value.clone()
        }
        None => DEFAULT_RUN_ID.to_owned(),
    };

    let env = env_vars(&raw.env, issues);
    let mut secrets = Vec::new();
    for s in &raw.secrets {
        if !expand::is_env_name(&s.value) {
            issue(
                issues,
                at(s),
                format!(
                    "`{}` in `secrets` is not an environment variable name",
                    s.value
                ),
            );
        }
        secrets.push(s.value.clone());
    }

    if raw.tasks.value.is_empty() {
        issue(
            issues,
            at(&raw.tasks),
            "`tasks` is empty: a plan needs at least one task".to_owned(),
        );
    }
    let concurrency = match &raw.concurrency {
        Some(c) if c.value == 0 => {
            issue(issues, at(c), "`concurrency` must be at least 1".to_owned());
            1
        }
        Some(c) => c.value,
        None => 1,
    };
    let defaults = Defaults {
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
    };
    let mut seen: HashMap<String, Loc> = HashMap::new();
    let mut tasks = Vec::new();
    let mut edges: Vec<Vec<(String, Loc)>> = Vec::new();
    for t in raw.tasks.value {
        let task_loc = at(&t);
        let deps: Vec<(String, Loc)> = t
            .value
            .depends_on
            .iter()
            .map(|d| (d.value.clone(), at(d)))
            .collect();
        if let Some(spec) = task(t.value, task_loc, &defaults, &mut seen, issues) {
            tasks.push(spec);
            edges.push(deps);
        }
    }
    super::graph::check(&tasks, &edges, issues);
    let notify = super::notify::targets(&raw.notify, issues);

    Plan {
        name,
        run_id_template,
        env,
        secrets,
        concurrency,
        tasks,
        notify,
        source: PlanSource {
            path: Default::default(),
            text: String::new(),
            sha256: String::new(),
        },
    }
}

fn check_run_id_template(template: &str, at: Loc, issues: &mut Vec<PlanIssue>) {
    let mut sample = template.to_owned();
    for p in RUN_ID_PLACEHOLDERS {
        sample = sample.replace(p, "x");
    }
    if sample.contains('{') || sample.contains('}') {
        issue(
            issues,
            at,
            format!(
                "`run_id: {template}` has an unknown placeholder: use `{{name}}`, `{{date}}` or `{{time}}`"
            ),
        );
    } else if !is_valid_name(&sample) {
        issue(
            issues,
            at,
            format!("`run_id: {template}` must give a name matching `[A-Za-z0-9._-]+`"),
        );
    }
}

fn env_vars(
    raw: &indexmap::IndexMap<String, Spanned<String>>,
    issues: &mut Vec<PlanIssue>,
) -> Vec<EnvVar> {
    raw.iter()
        .map(|(name, value)| {
            if !expand::is_env_name(name) {
                issue(
                    issues,
                    at(value),
                    format!("`{name}` is not an environment variable name (letters, digits and `_`, not starting with a digit)"),
                );
            }
            if let Err(ExpandError::Syntax(msg)) = expand::check(&value.value) {
                issue(issues, at(value), msg);
            }
            EnvVar {
                name: name.clone(),
                value: value.value.clone(),
                loc: at(value),
            }
        })
        .collect()
}

/// Plan-level defaults for task keys.
struct Defaults {
    timeout: Option<Timeout>,
    kill_grace: Duration,
    /// Applies to gated tasks only.
    approval_timeout: Option<Timeout>,
}

/// `30s`, `10m`, `1h30m`, `500ms`.
fn duration(s: &Spanned<String>, key: &str, issues: &mut Vec<PlanIssue>) -> Option<Duration> {
    match humantime::parse_duration(s.value.trim()) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            issue(issues, at(s), format!("`{key}` must be longer than zero"));
            None
        }
        Err(_) => {
            issue(
                issues,
                at(s),
                format!(
                    "`{key}: {}` is not a duration: write e.g. `30s`, `10m` or `1h30m`",
                    s.value
                ),
            );
            None
        }
    }
}

fn timeout(s: &Spanned<String>, key: &str, issues: &mut Vec<PlanIssue>) -> Option<Timeout> {
    duration(s, key, issues).map(|after| Timeout {
        after,
        text: s.value.trim().to_owned(),
    })
}

fn task(
    raw: RawTask,
    task_loc: Loc,
    defaults: &Defaults,
    seen: &mut HashMap<String, Loc>,
    issues: &mut Vec<PlanIssue>,
) -> Option<TaskSpec> {
    let name = raw.task.value.clone();
    let name_loc = at(&raw.task);
    if !is_valid_name(&name) {
        issue(
            issues,
            name_loc,
            format!("task name `{name}` must match `[A-Za-z0-9._-]+` (it becomes a log file name)"),
        );
    }
    if let Some(first) = seen.get(&name) {
        issue(
            issues,
            name_loc,
            format!(
                "task `{name}` is defined twice (first at line {}): task names must be unique",
                first.line
            ),
        );
    } else {
        seen.insert(name.clone(), name_loc);
    }

    let command = match (raw.run, raw.shell) {
        (Some(run), None) => {
            if run.value.first().is_none_or(|p| p.trim().is_empty()) {
                issue(
                    issues,
                    at(&run),
                    format!(
                        "task `{name}`: `run` needs a program, e.g. `run: [\"./scripts/check.sh\", \"--strict\"]`"
                    ),
                );
            }
            Some(Command::Argv(run.value))
        }
        (None, Some(shell)) => {
            if shell.value.trim().is_empty() {
                issue(
                    issues,
                    at(&shell),
                    format!("task `{name}`: `shell` is empty"),
                );
            }
            Some(Command::Shell(shell.value))
        }
        (Some(run), Some(_)) => {
            issue(
                issues,
                at(&run),
                format!(
                    "task `{name}` has both `run` and `shell`: keep one (`run` is an argv list, `shell` a string for `sh -c`)"
                ),
            );
            None
        }
        (None, None) => {
            issue(
                issues,
                task_loc,
                format!(
                    "task `{name}` has neither `run` nor `shell`: add `run: [program, args…]` or `shell: \"…\"`"
                ),
            );
            None
        }
    };

    let env = env_vars(&raw.env, issues);
    let cwd = raw.cwd.map(|c| {
        if c.value.trim().is_empty() {
            issue(
                issues,
                at(&c),
                format!("task `{name}`: `cwd` is empty: remove it to run in the current directory"),
            );
        }
        if let Err(ExpandError::Syntax(msg)) = expand::check(&c.value) {
            issue(issues, at(&c), msg);
        }
        (c.value.clone(), at(&c))
    });
    // Multi-line mode: `^` and `$` match at each line of the output, as people expect.
    let outputs_uri = raw.outputs_uri.and_then(|p| {
        match RegexBuilder::new(&p.value)
            .multi_line(true)
            .crlf(true)
            .build()
        {
            Ok(re) => Some(re),
            Err(e) => {
                issue(
                    issues,
                    at(&p),
                    format!(
                        "task `{name}`: `outputs_uri` is not a valid regex: {}",
                        regex_message(&e)
                    ),
                );
                None
            }
        }
    });

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
    let approval = raw.approval.as_ref().map_or(Approval::Never, |a| a.value);
    let approval_timeout = match &raw.approval_timeout {
        Some(t) if approval == Approval::Never => {
            issue(
                issues,
                at(t),
                format!(
                    "task `{name}`: `approval_timeout` needs `approval: always` or \
                     `approval: on_output_uri` (this task never waits for a decision)"
                ),
            );
            None
        }
        Some(t) => timeout(t, "approval_timeout", issues),
        None if approval == Approval::Never => None,
        None => defaults.approval_timeout.clone(),
    };
    Some(TaskSpec {
        name,
        command: command?,
        env,
        cwd,
        inputs: raw.inputs,
        approval,
        outputs_uri,
        depends_on: raw.depends_on.into_iter().map(|d| d.value).collect(),
        when: raw.when.map_or(When::Success, |w| w.value),
        retries: raw.retries.map_or(0, |r| r.value),
        retry_backoff,
        timeout: task_timeout,
        kill_grace,
        approval_timeout,
        loc: task_loc,
    })
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
