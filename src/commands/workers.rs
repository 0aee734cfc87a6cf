//! `orch workers list`: the workers sharing this database, as their rows and heartbeats
//! say.

use serde_json::json;

use crate::cli::WorkersCommand;
use crate::config::Config;
use crate::error::Result;
use crate::format::time::timestamp;
use crate::store::{Store, workers};
use crate::ui::Output;
use crate::ui::workers::{WorkerLine, state, table};

pub async fn run(store: &Store, config: &Config, cmd: WorkersCommand, out: Output) -> Result<i32> {
    let WorkersCommand::List(args) = cmd;
    let rows = workers::list(&store.db, args.all).await?;
    let busy = workers::busy(&store.db).await?;
    let now = crate::store::now();
    let lines: Vec<WorkerLine<'_>> = rows
        .iter()
        .map(|w| WorkerLine {
            worker: w,
            busy: busy.get(&w.id).copied().unwrap_or(0),
            heartbeat_age_s: (now - w.heartbeat_at).num_seconds(),
            silent: (now - w.heartbeat_at).to_std().unwrap_or_default() > config.timing.stale_after,
        })
        .collect();
    if args.json {
        let list = lines
            .iter()
            .map(|l| {
                let w = l.worker;
                json!({
                    "id": w.id,
                    "host": w.host,
                    "pid": w.pid,
                    "version": w.version,
                    "labels": serde_json::from_str::<serde_json::Value>(&w.labels).unwrap_or_default(),
                    "queues": serde_json::from_str::<serde_json::Value>(&w.queues).unwrap_or_default(),
                    "slots": w.slots,
                    "busy": l.busy,
                    "started_at": timestamp(&w.started_at),
                    "heartbeat_at": timestamp(&w.heartbeat_at),
                    "draining_at": w.draining_at.as_ref().map(timestamp),
                    "stopped_at": w.stopped_at.as_ref().map(timestamp),
                    "state": state(l),
                })
            })
            .collect();
        out.json(&serde_json::Value::Array(list))?;
    } else if lines.is_empty() && out.tty {
        out.print("no workers: start one with `orch worker` (see docs/WORKERS.md)")?;
    } else {
        out.print(&table(&lines, out.tty))?;
    }
    Ok(0)
}
