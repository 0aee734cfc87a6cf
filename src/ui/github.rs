//! GitHub Actions: a markdown summary of the run for the job's page (`$GITHUB_STEP_SUMMARY`)
//! and an `::error::` annotation per failed task, so a failed nightly says what failed
//! without anyone opening the log.

use crate::format::time::duration_ms;
use crate::runner::RunReport;
use crate::runner::stop::Stop;
use crate::status::status_counts;
use crate::store::TaskStatus;

/// The job summary: counts, one table row per task, and the command for each gate.
pub fn markdown(report: &RunReport) -> String {
    let mut md = format!(
        "## orch run `{}`\n\n{} task(s): {}\n\n| ID | Task | Status | Duration | Outputs |\n|---:|---|---|---:|---|\n",
        report.run.run_id,
        report.rows.len(),
        status_counts(|s| report.count(s) as i64)
    );
    for r in &report.rows {
        let status = match r.status {
            TaskStatus::Succeeded => "✅ succeeded",
            TaskStatus::Failed => "❌ failed",
            TaskStatus::AwaitingApproval => "⏸️ awaiting approval",
            TaskStatus::Skipped => "↷ skipped",
            TaskStatus::Queued => "⏳ queued",
            TaskStatus::Running => "▶️ running",
        };
        let outputs = match &r.outputs_uri {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                format!("[{}]({u})", cell(u))
            }
            Some(u) => format!("`{}`", cell(u)),
            None => String::new(),
        };
        md.push_str(&format!(
            "| {} | `{}` | {status} | {} | {outputs} |\n",
            r.id,
            cell(&r.task),
            duration_ms(r.duration_ms)
        ));
    }
    let gates: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.status == TaskStatus::AwaitingApproval)
        .collect();
    if !gates.is_empty() {
        md.push_str("\n### Waiting for a decision\n\n```sh\n");
        for g in gates {
            md.push_str(&format!(
                "orch approve {} --resume   # {} (or: orch reject {} --resume)\n",
                g.id, g.task, g.id
            ));
        }
        md.push_str("```\n");
    }
    match &report.cancelled {
        Some(Stop::Signal(sig)) => {
            md.push_str(&format!("\nThe run was cancelled by signal {sig}.\n"));
        }
        Some(Stop::Cancelled { by }) => {
            md.push_str(&format!("\nThe run was cancelled by {by}.\n"));
        }
        None => {}
    }
    md
}

/// One `::error::` line per failed task, its excerpt's last line as the message.
pub fn annotations(report: &RunReport) -> String {
    let mut out = String::new();
    for r in report
        .rows
        .iter()
        .filter(|r| r.status == TaskStatus::Failed)
    {
        let reason = r
            .log_excerpt
            .as_deref()
            .and_then(|e| e.lines().last())
            .unwrap_or("failed");
        out.push_str(&format!(
            "::error title={}::task {} (id {}) failed: {}\n",
            escape_property(&format!("orch: {}", r.task)),
            escape_data(&r.task),
            r.id,
            escape_data(reason)
        ));
    }
    out
}

/// A table cell: no pipes or newlines.
/// A table cell: `|` escaped, line breaks and other control characters (an escape would
/// reach the job page raw) as spaces.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Workflow command data, escaped as the runner expects.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_are_escaped() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(cell("red\u{1b}[31m"), "red [31m");
    }
}
