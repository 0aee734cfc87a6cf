//! The table of `orch workers list`.

use crate::store::entity::orch_worker;
use crate::ui::table::{new_table, render};

/// One worker as listed: its row, the tasks it runs now, its heartbeat's age in seconds.
pub struct WorkerLine<'a> {
    pub worker: &'a orch_worker::Model,
    pub busy: u64,
    pub heartbeat_age_s: i64,
    /// Its heartbeat is older than the staleness bound: killed, or cut off.
    pub silent: bool,
}

pub fn table(lines: &[WorkerLine<'_>], tty: bool) -> String {
    let mut table = new_table(
        tty,
        &[
            "WORKER",
            "HOST",
            "PID",
            "VERSION",
            "LABELS",
            "QUEUES",
            "SLOTS",
            "HEARTBEAT",
            "STATE",
        ],
    );
    for l in lines {
        let w = l.worker;
        table.add_row(vec![
            w.id.clone(),
            w.host.clone(),
            w.pid.to_string(),
            w.version.clone(),
            labels(&w.labels),
            queues(&w.queues),
            format!("{}/{}", l.busy, w.slots),
            format!("{}s ago", l.heartbeat_age_s.max(0)),
            state(l).to_owned(),
        ]);
    }
    render(&table)
}

/// `up`, `draining`, `stopped`, or `silent` when a worker that did not stop has sent no
/// heartbeat within the staleness bound (its tasks are judged lost).
pub fn state(l: &WorkerLine<'_>) -> &'static str {
    let w = l.worker;
    match (&w.stopped_at, &w.draining_at) {
        (Some(_), _) => "stopped",
        _ if l.silent => "silent",
        (None, Some(_)) => "draining",
        (None, None) => "up",
    }
}

/// `KEY=VALUE,…` from the stored JSON object (`-` for none).
fn labels(json: &str) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).unwrap_or_default();
    let parts: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(",")
    }
}

fn queues(json: &str) -> String {
    let list: Vec<String> = serde_json::from_str(json).unwrap_or_default();
    list.join(",")
}
