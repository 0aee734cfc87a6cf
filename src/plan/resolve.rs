//! Resolving a validated plan against the environment it runs in: `${VAR}` expanded in
//! `env` values and `cwd`, and the set of secret values to mask from every record.

use std::collections::HashMap;
use std::path::PathBuf;

use super::expand::{ExpandError, expand, required_vars};
use super::{EnvVar, Loc, Plan, TaskSpec};
use crate::error::{Error, Result};
use crate::secrets::{Redactor, is_secret_name};

/// A task ready to launch.
#[derive(Clone, Debug)]
pub struct ResolvedTask {
    pub spec: TaskSpec,
    pub argv: Vec<String>,
    /// The plan's and the task's variables, expanded (the process environment is inherited
    /// on top of which these are set).
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Resolved {
    pub tasks: Vec<ResolvedTask>,
    pub redactor: Redactor,
    /// Names whose values are secret (for `--dry-run`, which shows names and masks values).
    pub secret_names: Vec<String>,
}

/// Expands `vars` in order; each may use the process environment and the ones before it.
fn expand_vars(
    file: &str,
    vars: &[EnvVar],
    scope: &mut HashMap<String, String>,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for v in vars {
        let value = expand_at(file, &v.value, v.loc, scope)?;
        scope.insert(v.name.clone(), value.clone());
        out.push((v.name.clone(), value));
    }
    Ok(out)
}

fn expand_at(file: &str, value: &str, loc: Loc, scope: &HashMap<String, String>) -> Result<String> {
    expand(value, &|name| scope.get(name).cloned()).map_err(|e| match e {
        ExpandError::Missing(name) => Error::MissingVariable {
            file: file.to_owned(),
            loc,
            name,
        },
        // Validation already proved the syntax; keep a message rather than panic.
        ExpandError::Syntax(problem) => Error::Plan {
            file: file.to_owned(),
            issues: vec![problem.at(loc)],
        },
    })
}

/// Resolves the tasks named in `only` (all when empty), in plan order.
pub fn resolve(
    plan: &Plan,
    process_env: &HashMap<String, String>,
    only: &[String],
    extra_secrets: &[String],
) -> Result<Resolved> {
    let file = plan.source.path.display().to_string();
    for name in only {
        if !plan.tasks.iter().any(|t| &t.name == name) {
            return Err(Error::UnknownPlanTask {
                name: name.clone(),
                known: plan.tasks.iter().map(|t| t.name.clone()).collect(),
            });
        }
    }
    let mut plan_scope = process_env.clone();
    let plan_env = expand_vars(&file, &plan.env, &mut plan_scope)?;

    let mut tasks = Vec::new();
    let mut secret_values: Vec<String> = extra_secrets.to_vec();
    let mut secret_names: Vec<String> = Vec::new();
    let mut note_secret = |name: &str, value: &str| {
        if is_secret_name(name, &plan.secrets) {
            secret_values.push(value.to_owned());
            if !secret_names.iter().any(|n| n == name) {
                secret_names.push(name.to_owned());
            }
        }
    };
    for (k, v) in process_env {
        note_secret(k, v);
    }
    for (k, v) in &plan_env {
        note_secret(k, v);
    }
    for spec in plan
        .tasks
        .iter()
        .filter(|t| only.is_empty() || only.contains(&t.name))
    {
        // A task with variables of its own expands them in a copy of the plan's scope; one
        // without (most) reads the plan's scope as it is. Copying the whole process
        // environment for every task was 36,000 instructions per task.
        let mut task_scope = None;
        let task_env = if spec.env.is_empty() {
            Vec::new()
        } else {
            let scope = task_scope.insert(plan_scope.clone());
            expand_vars(&file, &spec.env, scope)?
        };
        for (k, v) in &task_env {
            note_secret(k, v);
        }
        let scope = task_scope.as_ref().unwrap_or(&plan_scope);
        let cwd = match &spec.cwd {
            Some((c, loc)) => Some(PathBuf::from(expand_at(&file, c, *loc, scope)?)),
            None => None,
        };
        let mut env = plan_env.clone();
        env.extend(task_env);
        tasks.push(ResolvedTask {
            spec: spec.clone(),
            argv: spec.command.argv(),
            env,
            cwd,
        });
    }
    Ok(Resolved {
        tasks,
        redactor: Redactor::new(secret_values),
        secret_names,
    })
}

/// Variables the plan needs (without a default) that the environment and the plan itself do
/// not provide: warnings for `orch plan validate`, errors with `--strict-env`.
pub fn unset_variables(plan: &Plan, process_env: &HashMap<String, String>) -> Vec<(Loc, String)> {
    let mut defined: Vec<&str> = process_env.keys().map(String::as_str).collect();
    let mut missing = Vec::new();
    let mut check = |value: &str, loc: Loc, defined: &[&str]| {
        for name in required_vars(value) {
            if !defined.contains(&name.as_str()) {
                missing.push((loc, name));
            }
        }
    };
    for v in &plan.env {
        check(&v.value, v.loc, &defined);
        defined.push(&v.name);
    }
    for t in &plan.tasks {
        let mut scope = defined.clone();
        for v in &t.env {
            check(&v.value, v.loc, &scope);
            scope.push(&v.name);
        }
        if let Some((c, loc)) = &t.cwd {
            check(c, *loc, &scope);
        }
    }
    missing
}
