//! Tables for listings: comfy-table with borders on a terminal; on a pipe, the same columns
//! aligned with spaces and no escape codes, one row per line.

use comfy_table::{ContentArrangement, Table, presets};

use crate::format::or_dash;
use crate::format::time::{duration_ms, when};
use crate::status::TaskStatus;
use crate::status::status_counts;
use crate::store::json::timestamp;
use crate::store::migrate::MigrationState;
use crate::store::query::RunSummary;
use crate::store::{agents_task, agents_task_attempt};

pub fn new_table(tty: bool, header: &[&str]) -> Table {
    let mut table = Table::new();
    if tty {
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        table
            .load_preset(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled);
    }
    table.set_header(header.to_vec());
    if !tty {
        for column in table.column_iter_mut() {
            column.set_padding((0, 2));
        }
    }
    table
}

pub fn render(table: &Table) -> String {
    table
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn tasks(rows: &[agents_task::Model], tty: bool) -> String {
    let mut table = new_table(
        tty,
        &[
            "ID", "TASK", "RUN", "STATUS", "STARTED", "DURATION", "APPROVAL", "OUTPUTS",
        ],
    );
    for r in rows {
        table.add_row(vec![
            r.id.to_string(),
            r.task.clone(),
            r.run_id.clone(),
            r.status.to_string(),
            when(r.started_at.as_ref()),
            duration_ms(r.duration_ms),
            or_dash(r.approval_state.map(|a| a.as_str())),
            or_dash(r.outputs_uri.as_deref()),
        ]);
    }
    render(&table)
}

/// Every column of one row, one per line.
pub fn task_detail(r: &agents_task::Model, tty: bool) -> String {
    let ts =
        |t: &Option<chrono::DateTime<chrono::Utc>>| or_dash(t.as_ref().map(timestamp).as_deref());
    let fields: Vec<(&str, String)> = vec![
        ("id", r.id.to_string()),
        ("task", r.task.clone()),
        ("run_id", r.run_id.clone()),
        ("status", r.status.to_string()),
        ("started_at", ts(&r.started_at)),
        ("finished_at", ts(&r.finished_at)),
        ("duration", duration_ms(r.duration_ms)),
        (
            "inputs",
            or_dash(r.inputs.as_ref().map(|v| v.to_string()).as_deref()),
        ),
        ("outputs_uri", or_dash(r.outputs_uri.as_deref())),
        (
            "approval_state",
            or_dash(r.approval_state.map(|a| a.as_str())),
        ),
        ("approver", or_dash(r.approver.as_deref())),
        ("approval_note", or_dash(r.approval_note.as_deref())),
        ("decided_at", ts(&r.decided_at)),
        ("attempt", r.attempt.to_string()),
        (
            "exit_code",
            or_dash(r.exit_code.map(|c| c.to_string()).as_deref()),
        ),
    ];
    let mut out = if tty {
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
        for (k, v) in &fields {
            table.add_row(vec![k.to_string(), v.clone()]);
        }
        render(&table)
    } else {
        fields
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    out.push_str("\n\nlog_excerpt:\n");
    out.push_str(r.log_excerpt.as_deref().unwrap_or("(none)"));
    out
}

/// A retried task's earlier attempts, oldest first, under its detail: how each ended, who
/// ran it again, and the last line of its excerpt.
pub fn previous_attempts(attempts: &[agents_task_attempt::Model], tty: bool) -> String {
    let mut table = new_table(
        tty,
        &[
            "ATTEMPT",
            "STATUS",
            "EXIT",
            "FINISHED",
            "RETRIED BY",
            "REASON",
        ],
    );
    for a in attempts {
        let reason = a
            .log_excerpt
            .as_deref()
            .and_then(|e| e.lines().last())
            .unwrap_or("");
        table.add_row(vec![
            a.attempt.to_string(),
            a.status.to_string(),
            or_dash(a.exit_code.map(|c| c.to_string()).as_deref()),
            when(a.finished_at.as_ref()),
            a.retried_by.clone(),
            or_dash(Some(reason)),
        ]);
    }
    format!("\n\nprevious attempts:\n{}", render(&table))
}

/// A gate's votes under its detail: where it stands, then each vote, oldest first (those on
/// an earlier run of the task marked: they no longer count).
pub fn votes(
    r: &agents_task::Model,
    votes: &[crate::store::approval_vote::Model],
    initiator: Option<&str>,
    tty: bool,
) -> String {
    let tally = crate::store::votes::current_tally(r, votes);
    let mut out = format!(
        "\n\nvotes: {}",
        crate::store::standing::of_row(r, &tally, initiator)
    );
    if votes.is_empty() {
        return out;
    }
    let subject = crate::store::votes::subject(r);
    let mut table = new_table(tty, &["VOTER", "VERDICT", "VIA", "AT", "NOTE"]);
    for v in votes {
        let verdict = if v.subject == subject {
            v.verdict.past().to_owned()
        } else {
            format!("{} (earlier run)", v.verdict.past())
        };
        table.add_row(vec![
            v.voter.clone(),
            verdict,
            v.channel.as_str().to_owned(),
            when(Some(&v.cast_at)),
            or_dash(v.note.as_deref()),
        ]);
    }
    out.push('\n');
    out.push_str(&render(&table));
    out
}

pub fn runs(runs: &[RunSummary], tty: bool) -> String {
    let mut header = vec!["RUN", "PLAN", "STARTED", "FINISHED", "TASKS"];
    header.extend(TaskStatus::ALL.iter().map(|s| short(*s)));
    let mut table = new_table(tty, &header);
    for r in runs {
        let mut row = vec![
            r.run_id.clone(),
            or_dash(r.record.as_ref().map(|x| x.plan_name.as_str())),
            when(r.started_at.as_ref()),
            when(r.finished_at.as_ref()),
            r.total().to_string(),
        ];
        row.extend(TaskStatus::ALL.iter().map(|s| r.count(*s).to_string()));
        table.add_row(row);
    }
    render(&table)
}

/// Column titles short enough for a terminal line.
fn short(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Queued => "QUEUED",
        TaskStatus::Running => "RUNNING",
        TaskStatus::Succeeded => "OK",
        TaskStatus::Failed => "FAILED",
        TaskStatus::AwaitingApproval => "WAITING",
        TaskStatus::Skipped => "SKIPPED",
    }
}

pub fn run_detail(run: &RunSummary, rows: &[agents_task::Model], tty: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!("run: {}\n", run.run_id));
    if let Some(rec) = &run.record {
        out.push_str(&format!(
            "plan: {} (sha256 {})\n",
            rec.plan_name, rec.plan_sha256
        ));
        out.push_str(&format!(
            "trigger: {} on {} by orch {}\n",
            rec.trigger, rec.host, rec.orch_version
        ));
        if let Some(c) = &rec.git_commit {
            out.push_str(&format!("git commit: {c}\n"));
        }
        if let (Some(at), Some(by)) = (&rec.cancel_requested_at, &rec.cancel_requested_by) {
            out.push_str(&format!("cancelled: by {by} at {}\n", when(Some(at))));
        }
    }
    out.push_str(&format!(
        "started: {}  finished: {}\n",
        when(run.started_at.as_ref()),
        when(run.finished_at.as_ref())
    ));
    out.push_str(&format!(
        "tasks: {} ({})\n\n",
        run.total(),
        status_counts(|s| run.count(s))
    ));
    out.push_str(&tasks(rows, tty));
    out
}

pub fn migrations(states: &[MigrationState], tty: bool) -> String {
    let mut table = new_table(tty, &["MIGRATION", "STATUS"]);
    for m in states {
        table.add_row(vec![
            m.name.clone(),
            if m.applied { "applied" } else { "pending" }.to_owned(),
        ]);
    }
    render(&table)
}

pub fn deliveries(rows: &[crate::store::webhook_delivery::Model], tty: bool) -> String {
    let mut table = new_table(
        tty,
        &[
            "ID", "EVENT", "TARGET", "URL", "TASK", "STATUS", "ATTEMPTS", "LAST", "CREATED",
        ],
    );
    for d in rows {
        let last = match (d.last_status, &d.last_error) {
            (_, Some(e)) => e.clone(),
            (Some(s), None) => format!("HTTP {s}"),
            (None, None) => "-".to_owned(),
        };
        table.add_row(vec![
            d.id.to_string(),
            d.event.clone(),
            d.target.clone(),
            d.url_redacted.clone(),
            or_dash(d.task_id.map(|t| t.to_string()).as_deref()),
            d.status.to_string(),
            d.attempts.to_string(),
            last,
            when(Some(&d.created_at)),
        ]);
    }
    render(&table)
}
