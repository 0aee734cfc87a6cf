//! The summary printed when a run ends: one row per task, the counts, and the exact command
//! for each task waiting on a person.

use crate::format::or_dash;
use crate::format::time::duration_ms;
use crate::runner::RunReport;
use crate::runner::stop::Stop;
use crate::status::status_counts;
use crate::store::TaskStatus;
use crate::ui::table::new_table;

pub fn render(report: &RunReport, tty: bool) -> String {
    let mut table = new_table(tty, &["ID", "TASK", "STATUS", "DURATION", "OUTPUTS"]);
    for r in &report.rows {
        table.add_row(vec![
            r.id.to_string(),
            r.task.clone(),
            r.status.to_string(),
            duration_ms(r.duration_ms),
            or_dash(r.outputs_uri.as_deref()),
        ]);
    }
    let mut out = crate::ui::table::render(&table);
    out.push('\n');
    out.push_str(&format!(
        "\nrun {}: {} task(s): {}\n",
        report.run.run_id,
        report.rows.len(),
        status_counts(|s| report.count(s) as i64)
    ));
    let waiting: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.status == TaskStatus::AwaitingApproval)
        .collect();
    if !waiting.is_empty() {
        out.push_str(&format!(
            "{} task(s) await approval (not a failure):\n",
            waiting.len()
        ));
        for r in waiting {
            out.push_str(&format!("  orch approve {}    # {}\n", r.id, r.task));
        }
    }
    match &report.cancelled {
        Some(Stop::Signal(sig)) => out.push_str(&format!(
            "the run was cancelled by signal {sig}: running tasks were stopped, queued ones skipped\n"
        )),
        Some(Stop::Cancelled { by }) => out.push_str(&format!(
            "the run was cancelled by {by}: running tasks were stopped, queued ones skipped, \
             waiting gates rejected\n"
        )),
        None => {}
    }
    out
}

/// The same summary for scripts (`orch run --json`): the run, every task row, the counts,
/// and the command for each gate.
pub fn json(report: &RunReport) -> serde_json::Value {
    use crate::store::json;
    let gates: Vec<serde_json::Value> = report
        .rows
        .iter()
        .filter(|r| r.status == TaskStatus::AwaitingApproval)
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "task": r.task,
                "approve": format!("orch approve {} --resume", r.id),
                "reject": format!("orch reject {} --resume", r.id),
            })
        })
        .collect();
    serde_json::json!({
        "run_id": report.run.run_id,
        "plan_name": report.run.plan_name,
        "started_at": json::timestamp(&report.run.started_at),
        "counts": TaskStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), serde_json::json!(report.count(*s))))
            .collect::<serde_json::Map<_, _>>(),
        "cancelled_by_signal": match &report.cancelled {
            Some(Stop::Signal(sig)) => Some(*sig),
            _ => None,
        },
        "cancelled_by": match &report.cancelled {
            Some(Stop::Cancelled { by }) => Some(by.as_str()),
            _ => None,
        },
        "tasks": json::tasks(&report.rows),
        "awaiting_approval": gates,
    })
}
