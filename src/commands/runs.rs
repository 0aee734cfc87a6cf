//! `orch runs list` and `orch runs show`.

use crate::cli::RunsCommand;
use crate::config::Config;
use crate::error::Result;
use crate::store::query::{get_run, list_runs, run_tasks};
use crate::store::stranded::stranded;
use crate::store::{Store, json};
use crate::ui::{Output, table};

pub async fn run(store: &Store, config: &Config, cmd: RunsCommand, out: Output) -> Result<i32> {
    match cmd {
        RunsCommand::List(args) => {
            // Runs whose orch died show as they really are: their running tasks `failed`.
            let recovery = crate::runner::recovery::recover(store, config).await?;
            let runs = list_runs(&store.db, args.limit).await?;
            if args.json {
                out.json(&serde_json::Value::Array(
                    runs.iter().map(json::run).collect(),
                ))?;
            } else if runs.is_empty() && out.tty {
                out.print("no runs recorded yet: start one with `orch run PLAN`")?;
            } else {
                out.print(&table::runs(&runs, out.tty))?;
            }
            recovery.drain(config.notify.wait).await;
        }
        RunsCommand::Show(args) => {
            let run = get_run(&store.db, &args.run_id).await?;
            let rows = run_tasks(&store.db, &args.run_id).await?;
            let stranded = stranded(
                &store.db,
                run.record.as_ref(),
                &rows,
                config.timing.stale_after,
            )
            .await?;
            if args.json {
                let mut value = json::run(&run);
                value["task_rows"] = json::tasks(&rows);
                value["stranded"] = stranded
                    .iter()
                    .map(|s| serde_json::json!({"id": s.id, "task": s.task, "why": s.why.to_string()}))
                    .collect();
                out.json(&value)?;
            } else {
                out.print(&table::run_detail(&run, &rows, out.tty))?;
                for s in &stranded {
                    out.print(&format!("waiting: task {} ({}) {}", s.task, s.id, s.why))?;
                }
            }
        }
    }
    Ok(0)
}
