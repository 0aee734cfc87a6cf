//! `orch plan validate PLAN [--strict-env]`: everything `orch run` would reject, without
//! running anything or touching the database; and `orch plan schema`, the plan format as a
//! JSON Schema for editors.

use crate::cli::PlanCommand;
use crate::config::Config;
use crate::error::{Error, Result, code};
use crate::plan::Problem;
use crate::plan::resolve::unset_variables;
use crate::ui::Output;
use crate::warning::{Warning, say};

pub fn run(config: &Config, cmd: PlanCommand, out: Output) -> Result<i32> {
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
    let names: Vec<&str> = loaded.tasks.iter().map(|t| t.name.as_str()).collect();
    out.print(&format!(
        "plan `{}` in {file} is valid: {} task(s): {}",
        loaded.name,
        names.len(),
        names.join(", ")
    ))?;
    Ok(code::SUCCESS)
}
