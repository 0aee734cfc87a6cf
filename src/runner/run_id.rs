//! Choosing a run's id and claiming it by inserting its `agents_runs` row: the primary key
//! decides between two orch processes starting the same plan at once.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::error::{Error, Result};
use crate::plan::{Plan, is_valid_name};
use crate::store::agents_run;
use crate::store::mutation::{NewRun, insert_run, run_id_taken};

/// `{name}`, `{date}` and `{time}` filled in.
pub fn render(template: &str, plan_name: &str, now: DateTime<Utc>) -> String {
    template
        .replace("{name}", plan_name)
        .replace("{date}", &now.format("%Y-%m-%d").to_string())
        .replace("{time}", &now.format("%H%M%S").to_string())
}

/// Claims a run id: the explicit `--run-id` (refused when taken), or the plan's `run_id`
/// template (its default or the plan's own) with `.2`, `.3`… appended until one is free.
pub async fn claim(
    db: &impl ConnectionTrait,
    plan: &Plan,
    explicit: Option<&str>,
    mut record: NewRun,
) -> Result<agents_run::Model> {
    if let Some(id) = explicit {
        if !is_valid_name(id) {
            return Err(Error::BadRunId { id: id.to_owned() });
        }
        if run_id_taken(db, id).await? {
            return Err(Error::RunIdTaken {
                run_id: id.to_owned(),
            });
        }
        record.run_id = id.to_owned();
        return match insert_run(db, record).await {
            Ok(run) => Ok(run),
            // Taken between our check and our insert by another orch.
            Err(_) if run_id_taken(db, id).await? => Err(Error::RunIdTaken {
                run_id: id.to_owned(),
            }),
            Err(e) => Err(e),
        };
    }
    let base = render(&plan.run_id_template, &plan.name, record.started_at);
    for n in 1..=10_000u32 {
        let candidate = if n == 1 {
            base.clone()
        } else {
            format!("{base}.{n}")
        };
        if run_id_taken(db, &candidate).await? {
            continue;
        }
        record.run_id = candidate;
        match insert_run(db, record.clone()).await {
            Ok(run) => return Ok(run),
            // Another orch took it between our check and our insert: try the next one.
            Err(_) if run_id_taken(db, &record.run_id).await? => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::RunIdTaken { run_id: base })
}
