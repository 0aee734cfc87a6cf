//! `orch plan validate PLAN [--strict-env]`: everything `orch run` would reject, without
//! running anything or writing to the database (it reads one only when a database URL is
//! given, to warn of `approvers` it has no user for); and `orch plan schema`, the plan format
//! as a JSON Schema for editors.

use crate::cli::PlanCommand;
use crate::config::Config;
use crate::error::{Error, Result, code};
use crate::plan::Problem;
use crate::plan::resolve::unset_variables;
use crate::store::connect::{Pool, Schema};
use crate::ui::Output;
use crate::warning::{Warning, say};

pub async fn run(config: &Config, cmd: PlanCommand, out: Output) -> Result<i32> {
    let (plan, strict_env) = match cmd {
        PlanCommand::Schema => {
            out.print(&crate::plan::json_schema())?;
            return Ok(code::SUCCESS);
        }
        PlanCommand::Validate { plan, strict_env } => (plan, strict_env),
    };
    let loaded = crate::plan::load(&plan)?;
    let unset = unset_variables(&loaded, &config.env);
    let file = plan.display().to_string();
    if strict_env && !unset.is_empty() {
        return Err(Error::Plan {
            file,
            issues: unset
                .into_iter()
                .map(|(loc, name)| Problem::UnsetVariable { name }.at(loc))
                .collect(),
        });
    }
    for (loc, name) in unset {
        say(Warning::UnsetVariable {
            file: file.clone(),
            loc,
            name,
        });
    }
    check_approvers(config, &loaded).await;
    let names: Vec<&str> = loaded.tasks.iter().map(|t| t.name.as_str()).collect();
    out.print(&format!(
        "plan `{}` in {file} is valid: {} task(s): {}",
        loaded.name,
        names.len(),
        names.join(", ")
    ))?;
    Ok(code::SUCCESS)
}

/// With a database named (`DATABASE_URL`, `--database-url`), `approvers` entries it has no
/// user for are warned of: `orch run` refuses them. Lint jobs without a database skip this,
/// and a database that cannot be read is a warning, never a failed validation. The schema is
/// left as it is (nothing is migrated by a validation).
async fn check_approvers(config: &Config, plan: &crate::plan::Plan) {
    let gated: Vec<&crate::plan::TaskSpec> = plan
        .tasks
        .iter()
        .filter(|t| {
            t.gate
                .policy
                .as_ref()
                .is_some_and(|p| !p.approvers.is_empty())
        })
        .collect();
    if gated.is_empty() || config.database_url.is_none() {
        return;
    }
    // A SQLite file that is not there has no users, and a validation must not create it.
    match config.database() {
        Ok(crate::config::DatabaseTarget::Sqlite { path }) if !path.exists() => {
            return say(Warning::ApproversNoDatabase { path });
        }
        Err(e) => return say(Warning::ApproversUnchecked(e)),
        _ => {}
    }
    let store = match super::open_store(config, Schema::AsIs, Pool::Single).await {
        Ok(s) => s,
        Err(e) => return say(Warning::ApproversUnchecked(e)),
    };
    for task in gated {
        let Some(policy) = &task.gate.policy else {
            continue;
        };
        let entries: Vec<String> = policy.approvers.iter().map(|a| a.written()).collect();
        match crate::store::users::resolve_approvers(&store.db, &entries).await {
            Ok(found) if !found.unknown.is_empty() => say(Warning::UnknownApprovers {
                task: task.name.clone(),
                entries: found.unknown,
            }),
            Ok(_) => {}
            Err(e) => return say(Warning::ApproversUnchecked(e)),
        }
    }
}
