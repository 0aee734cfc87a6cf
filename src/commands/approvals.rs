//! `orch approvals sweep`: one pass of the approvals sweeper, and what it did as plain lines or
//! JSON.

use serde_json::json;

use crate::cli::ApprovalsCommand;
use crate::config::Config;
use crate::error::{Result, code};
use crate::store::Store;
use crate::store::approval_reminder::ReminderKind;
use crate::store::lease::owner_id;
use crate::sweep::{Swept, pass};
use crate::ui::Output;

pub async fn run(
    store: &Store,
    config: &Config,
    cmd: ApprovalsCommand,
    out: Output,
) -> Result<i32> {
    match cmd {
        ApprovalsCommand::Sweep { json } => sweep(store, config, json, out).await,
    }
}

async fn sweep(store: &Store, config: &Config, as_json: bool, out: Output) -> Result<i32> {
    let swept = pass(store, config, &owner_id()).await?;
    // The deliveries are recorded already: waiting only lets them go out before we exit.
    swept.drain(config.notify.wait).await;
    if as_json {
        out.json(&to_json(&swept))?;
    } else {
        out.print(&lines(&swept))?;
    }
    Ok(code::SUCCESS)
}

fn to_json(s: &Swept) -> serde_json::Value {
    json!({
        "busy": s.busy.as_ref().map(|h| json!({"owner": h.owner})),
        "rejected": s.rejected.iter().map(|r| json!({
            "id": r.id, "task": r.task, "run_id": r.run_id,
        })).collect::<Vec<_>>(),
        "sent": s.sent,
    })
}

fn lines(s: &Swept) -> String {
    if let Some(h) = &s.busy {
        return format!("another sweeper is in a pass ({}): nothing done", h.owner);
    }
    let mut out: Vec<String> = Vec::new();
    for r in &s.rejected {
        out.push(format!(
            "rejected {} `{}` (run {}): no decision within its approval_timeout",
            r.id, r.task, r.run_id
        ));
    }
    for m in &s.sent {
        let targets = if m.targets.is_empty() {
            "no target".to_owned()
        } else {
            m.targets.join(", ")
        };
        let what = match m.kind {
            ReminderKind::Remind => "reminded",
            ReminderKind::Escalate => "escalated",
        };
        out.push(format!(
            "{what} {} `{}` (run {}) at {}: {targets}",
            m.task_id, m.task, m.run_id, m.after
        ));
    }
    if out.is_empty() {
        out.push("nothing due".to_owned());
    }
    out.join("\n")
}
