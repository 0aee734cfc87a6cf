//! Reading a plan file: parse (with a location for every error), then validate everything
//! that can be known without running it. Later code trusts the result.

use std::collections::HashMap;
use std::path::Path;

use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

use super::expand;
use super::issues::{at, issue, loc};
use super::problem::Problem;
use super::raw::{RawPlan, RawTask};
use super::task::{Defaults, env_vars, task};
use super::{Loc, Plan, PlanSource, TaskSpec, is_valid_name};
use crate::error::{Error, PlanIssue, Result};
use crate::format::hex::hex;

pub const DEFAULT_RUN_ID: &str = "{name}-{date}";
const RUN_ID_PLACEHOLDERS: [&str; 3] = ["{name}", "{date}", "{time}"];

/// Reads and validates the plan at `path`.
pub fn load(path: &Path) -> Result<Plan> {
    let read_error = |source| Error::PlanRead {
        path: path.display().to_string(),
        source,
    };
    // Checked before reading: every run stores its plan's text, and parsing holds it several
    // times over (a 50 MB plan ran at 637 MB of memory and stored 150 MB per run).
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_PLAN_BYTES {
        return Err(Error::PlanTooLarge {
            path: path.display().to_string(),
            size,
            max: MAX_PLAN_BYTES,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    parse(path, text)
}

/// The largest plan file orch reads: ten times a plan of 10,000 tasks.
pub const MAX_PLAN_BYTES: u64 = 8 * 1024 * 1024;

/// Validates plan `text` as if read from `path`.
pub fn parse(path: &Path, text: String) -> Result<Plan> {
    let file = path.display().to_string();
    let fail = |issues: Vec<PlanIssue>| Error::Plan {
        file: file.clone(),
        issues,
    };
    let raw: RawPlan = serde_saphyr::from_str(&text).map_err(|e| {
        let l = e.location().map(|l| loc(&l)).unwrap_or_default();
        fail(vec![yaml_problem(&e).at(l)])
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
fn yaml_problem(e: &serde_saphyr::Error) -> Problem {
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
        return Problem::DuplicateKey {
            key: key.to_owned(),
        };
    }
    if stripped.starts_with("multiple YAML documents detected") {
        return Problem::SeveralDocuments;
    }
    Problem::Yaml {
        text: stripped.to_owned(),
    }
}

/// Checks everything about the plan that can be known without running it, adding each
/// problem to `issues`; the plan returned is only trusted when `issues` stayed empty. Its
/// `source` is filled in by [`parse`].
fn validate(raw: RawPlan, issues: &mut Vec<PlanIssue>) -> Plan {
    let name = plan_name(&raw.name, issues);
    let run_id_template = match &raw.run_id {
        Some(t) => {
            check_run_id_template(&t.value, at(t), issues);
            t.value.clone()
        }
        None => DEFAULT_RUN_ID.to_owned(),
    };
    let env = env_vars(&raw.env, issues);
    let secrets = secret_names(&raw.secrets, issues);
    if raw.tasks.value.is_empty() {
        issue(issues, at(&raw.tasks), Problem::NoTasks);
    }
    let concurrency = concurrency(raw.concurrency.as_ref(), issues);
    let defaults = Defaults::from_plan(&raw, issues);
    let tasks = tasks(raw.tasks.value, &defaults, issues);
    let notify = super::notify::targets(&raw.notify, issues);
    let names: Vec<&str> = raw.notify.keys().map(String::as_str).collect();
    super::approval::check_targets(&tasks, &names, issues);
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

/// The plan's name becomes part of run ids and file names, so it must be a valid name.
fn plan_name(raw: &Spanned<String>, issues: &mut Vec<PlanIssue>) -> String {
    let name = raw.value.clone();
    if !is_valid_name(&name) {
        issue(issues, at(raw), Problem::BadPlanName { name: name.clone() });
    }
    name
}

/// Filled in, the template must give a valid name: run ids name log folders. Filling each
/// placeholder with a sample letter checks that without knowing the date.
fn check_run_id_template(template: &str, at: Loc, issues: &mut Vec<PlanIssue>) {
    let mut sample = template.to_owned();
    for p in RUN_ID_PLACEHOLDERS {
        sample = sample.replace(p, "x");
    }
    if sample.contains('{') || sample.contains('}') {
        let template = template.to_owned();
        issue(issues, at, Problem::RunIdPlaceholder { template });
    } else if !is_valid_name(&sample) {
        let template = template.to_owned();
        issue(issues, at, Problem::BadRunId { template });
    }
}

/// The `secrets` list names variables to mask; a name that no variable can have would mask
/// nothing, which is a mistake worth saying.
fn secret_names(raw: &[Spanned<String>], issues: &mut Vec<PlanIssue>) -> Vec<String> {
    let mut secrets = Vec::new();
    for s in raw {
        if !expand::is_env_name(&s.value) {
            let name = s.value.clone();
            issue(issues, at(s), Problem::BadSecretName { name });
        }
        secrets.push(s.value.clone());
    }
    secrets
}

/// `concurrency` (default 1); 0 would never start a task, so it is an issue.
fn concurrency(raw: Option<&Spanned<u32>>, issues: &mut Vec<PlanIssue>) -> u32 {
    match raw {
        Some(c) if c.value == 0 => {
            issue(issues, at(c), Problem::ZeroConcurrency);
            1
        }
        Some(c) => c.value,
        None => 1,
    }
}

/// Each task in turn, then the dependency graph, which needs them all. A task without a
/// usable command is left out of the graph (its own issue already fails the plan).
fn tasks(
    raw: Vec<Spanned<RawTask>>,
    defaults: &Defaults,
    issues: &mut Vec<PlanIssue>,
) -> Vec<TaskSpec> {
    let mut seen: HashMap<String, Loc> = HashMap::new();
    let mut tasks = Vec::new();
    let mut edges: Vec<Vec<(String, Loc)>> = Vec::new();
    for t in raw {
        let task_loc = at(&t);
        // Where each dependency was written, for the graph's issues.
        let deps: Vec<(String, Loc)> = t
            .value
            .depends_on
            .iter()
            .map(|d| (d.value.clone(), at(d)))
            .collect();
        if let Some(spec) = task(t.value, task_loc, defaults, &mut seen, issues) {
            tasks.push(spec);
            edges.push(deps);
        }
    }
    super::graph::check(&tasks, &edges, issues);
    tasks
}
