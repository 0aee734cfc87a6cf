//! What a worker needs to run a run's tasks, built once per run it meets: the run as
//! recorded, its plan parsed again from the saved text (never a file), resolved in this
//! worker's environment for exactly the tasks that have rows, and the notifier for the
//! targets saved with it. `orch resume` resolves a saved run the same way.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::notify::Notifier;
use crate::notify::notifier::{extra_secrets, saved_targets};
use crate::notify::target::effective;
use crate::plan::Plan;
use crate::plan::resolve::{Resolved, ResolvedTask, resolve};
use crate::secrets::Redactor;
use crate::store::query::run_tasks;
use crate::store::{Store, agents_run, agents_task};
use crate::warning::say;

/// The saved plan resolved again for exactly the tasks that have rows, with the targets
/// saved with the run (a target whose variable is unset here is off, with a warning).
pub async fn resolve_saved(
    store: &Store,
    config: &Config,
    plan: &Plan,
    rows: &[agents_task::Model],
) -> Result<(Resolved, Notifier)> {
    let env = &config.env;
    let run_id = rows.first().map(|r| r.run_id.as_str()).unwrap_or_default();
    let saved = saved_targets(store, run_id).await?;
    let (targets, warnings) = effective(&saved, env);
    warnings.into_iter().for_each(say);
    let only: Vec<String> = rows.iter().map(|r| r.task.clone()).collect();
    let extra = extra_secrets(&store.target, &targets, env);
    let resolved = resolve(plan, env, &only, &extra)?;
    let notifier = Notifier::for_drive(store, config, targets, &resolved.redactor);
    Ok((resolved, notifier))
}

/// The saved plan of `run`, parsed again; its errors point at the run, not at a file.
pub fn saved_plan(run: &agents_run::Model) -> Result<Plan> {
    crate::plan::saved::parse_saved(&run.run_id, &run.plan_text)
}

/// One run as a worker runs it.
pub struct RunContext {
    pub run: agents_run::Model,
    pub plan: Plan,
    pub tasks: HashMap<String, ResolvedTask>,
    pub redactor: Arc<Redactor>,
    pub notifier: Notifier,
    pub log_dir: PathBuf,
}

/// The runs this worker met, each built once.
#[derive(Default)]
pub struct Contexts {
    runs: HashMap<String, Arc<RunContext>>,
}

impl Contexts {
    /// Run `run_id`'s context, built on first use; an error says why this worker cannot run
    /// its tasks (a plan a newer orch wrote, a variable unset here).
    pub async fn get(
        &mut self,
        store: &Store,
        config: &Config,
        run_id: &str,
    ) -> Result<Arc<RunContext>> {
        if let Some(c) = self.runs.get(run_id) {
            return Ok(c.clone());
        }
        let context = Arc::new(build(store, config, run_id).await?);
        self.runs.insert(run_id.to_owned(), context.clone());
        Ok(context)
    }

    /// Forgets runs that have ended (a retry builds them afresh).
    pub fn forget(&mut self, run_id: &str) {
        self.runs.remove(run_id);
    }
}

/// Run `run_id`'s record.
async fn recorded(store: &Store, run_id: &str) -> Result<agents_run::Model> {
    use sea_orm::EntityTrait;
    agents_run::Entity::find_by_id(run_id.to_owned())
        .one(&store.db)
        .await
        .map_err(Error::db)?
        .ok_or_else(|| Error::UnknownRun {
            run_id: run_id.to_owned(),
        })
}

async fn build(store: &Store, config: &Config, run_id: &str) -> Result<RunContext> {
    let run = recorded(store, run_id).await?;
    if newer_than_us(&run.orch_version) {
        return Err(Error::RunTooNew {
            run_id: run.run_id.clone(),
            recorded_by: run.orch_version.clone(),
        });
    }
    let plan = saved_plan(&run)?;
    let rows = run_tasks(&store.db, run_id).await?;
    let (resolved, notifier) = resolve_saved(store, config, &plan, &rows).await?;
    let tasks = resolved
        .tasks
        .into_iter()
        .map(|t| (t.spec.name.clone(), t))
        .collect();
    Ok(RunContext {
        log_dir: crate::runner::process::recorded_log_dir(run.log_dir.as_deref()),
        run,
        plan,
        tasks,
        redactor: Arc::new(resolved.redactor),
        notifier,
    })
}

/// Whether `version` (`MAJOR.MINOR.PATCH`) is a later release than this orch: a plan it
/// recorded may use what this one does not know.
fn newer_than_us(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let mut parts = v.split(['.', '-', '+']).map(|p| p.parse::<u64>().ok());
        Some((parts.next()??, parts.next()??, parts.next()??))
    };
    match (parse(version), parse(env!("CARGO_PKG_VERSION"))) {
        (Some(theirs), Some(ours)) => theirs > ours,
        _ => false,
    }
}

/// The plan saved with run `run_id`, read and parsed again.
pub async fn saved_plan_of(store: &Store, run_id: &str) -> Result<Plan> {
    saved_plan(&recorded(store, run_id).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_later_release_is_newer_and_an_unreadable_one_is_not() {
        assert!(super::newer_than_us("999.0.0"));
        assert!(!super::newer_than_us("0.0.1"));
        assert!(!super::newer_than_us("0"));
    }
}
