//! `orch prune --older-than 30d [--dry-run] [--include-pending]`: deletes runs older than a
//! bound with everything about them (task rows, delivery records, the run's log folder), and
//! compacts SQLite. Runs still waiting for a decision are kept unless asked; runs still being
//! driven are always kept.

use std::path::{Path, PathBuf};

use crate::cli::PruneArgs;
use crate::error::{Error, Result};
use crate::store::prune::{Removed, compact, delete_runs};
use crate::store::query::{RunSummary, list_runs};
use crate::store::{Store, TaskStatus, json, lease, now};
use crate::ui::Output;
use crate::warning::{Warning, say};

pub async fn run(store: &Store, args: PruneArgs, out: Output) -> Result<i32> {
    let age = chrono::Duration::from_std(args.older_than).map_err(|_| Error::Usage {
        message: "`--older-than` is too long".to_owned(),
    })?;
    let cutoff = now() - age;
    let held: Vec<String> = lease::all(&store.db)
        .await?
        .into_iter()
        .filter_map(|l| l.run_id)
        .collect();
    let mut prune: Vec<RunSummary> = Vec::new();
    let mut kept_waiting = 0;
    for run in list_runs(&store.db, u64::MAX).await? {
        // A run's age: when it ended, else when it started. A run with neither (rows that
        // another tool queued) cannot be judged, and is kept.
        let Some(at) = run.finished_at.or(run.started_at) else {
            continue;
        };
        if at >= cutoff || run.count(TaskStatus::Running) > 0 || held.contains(&run.run_id) {
            continue;
        }
        if run.count(TaskStatus::AwaitingApproval) > 0 && !args.include_pending {
            kept_waiting += 1;
            continue;
        }
        prune.push(run);
    }
    let folders: Vec<PathBuf> = prune
        .iter()
        .filter_map(|r| {
            r.record
                .as_ref()?
                .log_dir
                .as_ref()
                .map(|d| Path::new(d).join(&r.run_id))
        })
        .filter(|p| p.is_dir())
        .collect();
    let mut lines = Vec::new();
    let verb = if args.dry_run {
        "would prune"
    } else {
        "pruned"
    };
    if args.dry_run {
        for r in &prune {
            lines.push(format!(
                "would prune run {} ({} task(s), {})",
                r.run_id,
                r.total(),
                r.finished_at
                    .or(r.started_at)
                    .map(|t| format!("ended {}", json::timestamp(&t)))
                    .unwrap_or_default()
            ));
        }
    }
    let removed = if args.dry_run {
        Removed {
            runs: prune.len() as u64,
            tasks: prune.iter().map(|r| r.total() as u64).sum(),
            deliveries: 0,
        }
    } else {
        let ids: Vec<String> = prune.iter().map(|r| r.run_id.clone()).collect();
        let removed = delete_runs(&store.db, &ids).await?;
        for dir in &folders {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                say(Warning::CannotRemove {
                    path: dir.clone(),
                    error: e,
                });
            }
        }
        compact(&store.db).await?;
        removed
    };
    let mut summary = format!(
        "{verb} {} run(s) that ended before {} ({} task row(s){}, {} log folder(s))",
        removed.runs,
        json::timestamp(&cutoff),
        removed.tasks,
        if args.dry_run {
            String::new()
        } else {
            format!(", {} delivery record(s)", removed.deliveries)
        },
        folders.len()
    );
    if kept_waiting > 0 {
        summary.push_str(&format!(
            "; kept {kept_waiting} run(s) with a gate still waiting (`--include-pending` prunes \
             them too)"
        ));
    }
    lines.push(summary);
    out.print(&lines.join("\n"))?;
    Ok(0)
}
