//! `orch prune --older-than 30d [--dry-run] [--include-pending]`: deletes runs older than a
//! bound with everything about them (task rows, delivery records, the run's log folder), and
//! compacts SQLite. Runs still waiting for a decision are kept unless asked; runs still being
//! driven are always kept. Which runs go is [`crate::store::prune`]'s policy; this file turns
//! the arguments into it and says what happened.

use crate::cli::PruneArgs;
use crate::error::{Error, Result};
use crate::store::prune::{Retention, Selection, age_mark, remove, select};
use crate::store::{Store, json, now};
use crate::ui::Output;

pub async fn run(store: &Store, args: PruneArgs, out: Output) -> Result<i32> {
    let age = chrono::Duration::from_std(args.older_than).map_err(|_| Error::DurationTooLong {
        flag: "--older-than",
    })?;
    let policy = Retention {
        cutoff: now() - age,
        include_pending: args.include_pending,
    };
    let selection = select(store, policy).await?;
    let mut lines = Vec::new();
    let removed = if args.dry_run {
        lines.extend(would_prune(&selection));
        selection.would_remove()
    } else {
        remove(store, &selection).await?
    };
    let verb = if args.dry_run {
        "would prune"
    } else {
        "pruned"
    };
    let mut summary = format!(
        "{verb} {} run(s) that ended before {} ({} task row(s){}, {} log folder(s))",
        removed.runs,
        json::timestamp(&policy.cutoff),
        removed.tasks,
        // Only a real deletion counts them.
        if args.dry_run {
            String::new()
        } else {
            format!(", {} delivery record(s)", removed.deliveries)
        },
        selection.folders.len()
    );
    if selection.kept_waiting > 0 {
        summary.push_str(&format!(
            "; kept {} run(s) with a gate still waiting (`--include-pending` prunes \
             them too)",
            selection.kept_waiting
        ));
    }
    lines.push(summary);
    out.print(&lines.join("\n"))?;
    Ok(0)
}

/// `--dry-run`: one line per run that would go, before the summary.
fn would_prune(selection: &Selection) -> Vec<String> {
    selection
        .runs
        .iter()
        .map(|r| {
            format!(
                "would prune run {} ({} task(s), {})",
                r.run_id,
                r.total(),
                age_mark(r)
                    .map(|t| format!("ended {}", json::timestamp(&t)))
                    .unwrap_or_default()
            )
        })
        .collect()
}
