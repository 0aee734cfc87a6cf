//! What orch says beside its result: warnings (something went wrong but the command goes
//! on) and notes (something happened that the user should know). Their text is written here,
//! in one match, as `error.rs` does for errors.
//!
//! Library code never prints. It hands a [`Warning`] to [`say`], which passes it to the
//! sink the binary installed: stderr for the CLI, the log for `orch serve` (so the server's
//! output stays one log). Until a sink is installed (a test calling the library), warnings
//! go to stderr.

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::{Error, Loc};

#[derive(Debug)]
pub enum Warning {
    /// A notification could not be recorded or sent; the command goes on.
    Notify(Error),
    /// A gate sends one-click links, but `ORCH_PUBLIC_URL` is not set: its notifications go
    /// without them.
    LinksWithoutPublicUrl { task: String },
    /// One-click links would travel over plain http beyond this machine.
    LinksOverHttp { origin: String },
    /// A plan's notification target names a variable that is not set: off for this run.
    TargetOff { target: String, var: String },
    /// The targets saved with a run cannot be read back.
    SavedTargetsUnreadable { run_id: String, detail: String },
    /// Another orch took over a delivery this one was sending.
    DeliveryTakenOver { id: i64 },
    /// The outcome of a delivery could not be written.
    DeliveryUnrecorded { id: i64, error: Error },
    /// Deliveries still not delivered when a command stops waiting.
    Undelivered {
        count: usize,
        what: String,
        /// Why the first of them failed, when one said.
        reason: Option<String>,
    },
    /// A heartbeat could not be written (said once per outage).
    Heartbeat(Error),
    /// A heartbeat got no answer in time (said once per outage).
    HeartbeatTimedOut,
    /// A drive's write met an unreachable database; it retries for `bound`.
    DatabaseUnreachable {
        what: String,
        error: Error,
        bound: Duration,
    },
    /// The database answers again after [`Warning::DatabaseUnreachable`].
    DatabaseBack,
    /// Leases could not be given up at the end of a drive (they lapse with the heartbeat).
    LeaseRelease(Error),
    /// A worker started: who it is and what it takes.
    WorkerUp {
        id: String,
        slots: u32,
        queues: Vec<String>,
    },
    /// A worker claimed a task and starts it.
    WorkerStarted {
        id: i64,
        task: String,
        run_id: String,
    },
    /// A task a worker ran ended, as recorded.
    WorkerEnded {
        id: i64,
        task: String,
        run_id: String,
        status: crate::status::TaskStatus,
    },
    /// SIGTERM: the worker claims nothing more and waits for what runs.
    WorkerDraining { running: usize },
    /// A worker's step failed (a claim, a sweep); it goes on.
    WorkerTrouble { what: &'static str, error: Error },
    /// A claim answered too late to be trusted was no longer this worker's: not started.
    ClaimGone { id: i64, task: String },
    /// The worker could not reach the database for the outage bound: it stopped its tasks.
    WorkerCutOff { waited: Duration, stopped: usize },
    /// Recovery: a lost task with `on_lost: retry` was queued again.
    TaskRetriedAfterLoss {
        id: i64,
        task: String,
        run_id: String,
    },
    /// Recovery: a task left running by an orch that stopped was marked failed.
    TaskLost {
        id: i64,
        task: String,
        run_id: String,
    },
    /// Recovery: a gate got no decision within its `approval_timeout` and was rejected.
    ApprovalExpired {
        id: i64,
        task: String,
        run_id: String,
    },
    /// The sweeper sent a reminder or escalation about a gate.
    Reminded {
        id: i64,
        task: String,
        run_id: String,
        /// `reminder` or `escalation`.
        what: &'static str,
        age: String,
        targets: Vec<String>,
    },
    /// The sweeper cannot read the plan saved with a run: its gates get no reminders.
    SweepPlanUnreadable { run_id: String, detail: String },
    /// A sweeper pass failed; the next one tries again.
    SweepFailed(Error),
    /// `orch resume` of a run with nothing queued.
    NothingToResume { run_id: String },
    /// `orch cancel` of a run whose cancel was asked for already.
    CancelAlreadyRequested {
        run_id: String,
        by: String,
        at: chrono::DateTime<chrono::Utc>,
    },
    /// Migrations were applied at start.
    MigrationsApplied {
        count: usize,
        database: String,
        latest: String,
    },
    /// `orch plan validate`: a variable the plan needs is not set here.
    UnsetVariable {
        file: String,
        loc: Loc,
        name: String,
    },
    /// `orch plan validate` with a database: `approvers` entries it has no user for (an
    /// error at `orch run`).
    UnknownApprovers { task: String, entries: Vec<String> },
    /// `orch plan validate` could not read the users to check `approvers` against.
    ApproversUnchecked(Error),
    /// `orch plan validate` was given a SQLite file that does not exist (and leaves it so).
    ApproversNoDatabase { path: PathBuf },
    /// A task's log file could not be written (a full disk): its excerpt says so too.
    LogNotWritten { task: String, error: String },
    /// `orch prune` could not remove a run's log folder.
    CannotRemove {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The GitHub Actions job summary could not be written.
    JobSummary {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Workflow commands could not be printed.
    Output(Error),
}

impl Warning {
    /// The line a terminal shows: warnings start with `warning: `, notes say who speaks
    /// themselves (`orch: `, `resume: `, `notify: `). A log has its own level instead.
    pub fn line(&self) -> String {
        if self.is_note() {
            self.to_string()
        } else {
            format!("warning: {self}")
        }
    }

    /// Notes say what happened; warnings, what went wrong.
    pub fn is_note(&self) -> bool {
        matches!(
            self,
            Warning::DatabaseBack
                | Warning::WorkerUp { .. }
                | Warning::WorkerStarted { .. }
                | Warning::WorkerEnded { .. }
                | Warning::WorkerDraining { .. }
                | Warning::TaskLost { .. }
                | Warning::TaskRetriedAfterLoss { .. }
                | Warning::ApprovalExpired { .. }
                | Warning::Reminded { .. }
                | Warning::NothingToResume { .. }
                | Warning::CancelAlreadyRequested { .. }
                | Warning::MigrationsApplied { .. }
                | Warning::Undelivered { .. }
        )
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Notify(e) => write!(f, "notify: {e}"),
            Warning::LinksOverHttp { origin } => write!(
                f,
                "`ORCH_PUBLIC_URL` is `{origin}`: one-click links (and the logins they lead to) \
                 would cross the network unencrypted; serve the pages over https"
            ),
            Warning::LinksWithoutPublicUrl { task } => write!(
                f,
                "task `{task}` has `links`, but `ORCH_PUBLIC_URL` is not set: its notifications \
                 carry no one-click links; set it to the address of `orch serve` \
                 (`https://orch.example.com`)"
            ),
            Warning::TargetOff { target, var } => write!(
                f,
                "notify target `{target}` is off for this run: `{var}` is not set"
            ),
            Warning::SavedTargetsUnreadable { run_id, detail } => write!(
                f,
                "notify: the targets saved with run `{run_id}` are unreadable ({detail})"
            ),
            Warning::DeliveryTakenOver { id } => write!(
                f,
                "notify: delivery {id} was taken over by another orch; leaving it"
            ),
            Warning::DeliveryUnrecorded { id, error } => {
                write!(f, "notify: cannot record delivery {id}: {error}")
            }
            Warning::Undelivered {
                count,
                what,
                reason,
            } => write!(
                f,
                "notify: {count} notification{} of {what} not delivered{}: kept; `orch notify \
                 list --failed` shows why, `orch notify retry` sends again",
                if *count == 1 { "" } else { "s" },
                reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            Warning::Heartbeat(e) => write!(f, "heartbeat: {e}"),
            Warning::HeartbeatTimedOut => {
                write!(f, "heartbeat: the database did not answer in time")
            }
            Warning::DatabaseUnreachable { what, error, bound } => write!(
                f,
                "the database is unreachable while orch {what} ({error}): retrying for up to {}",
                humantime::format_duration(*bound)
            ),
            Warning::DatabaseBack => write!(f, "orch: the database is back; the run goes on"),
            Warning::LeaseRelease(e) => write!(f, "{e}"),
            Warning::WorkerUp { id, slots, queues } => write!(
                f,
                "worker: {id} up, {slots} slot(s), taking runs from queue(s) {}",
                queues.join(", ")
            ),
            Warning::WorkerStarted { id, task, run_id } => {
                write!(f, "worker: task {id} `{task}` (run {run_id}) started")
            }
            Warning::WorkerEnded {
                id,
                task,
                run_id,
                status,
            } => write!(f, "worker: task {id} `{task}` (run {run_id}) {status}"),
            Warning::WorkerDraining { running } => write!(
                f,
                "worker: draining: nothing new is claimed; waiting for {running} running \
                 task(s) (SIGTERM again or SIGINT stops them)"
            ),
            Warning::WorkerTrouble { what, error } => {
                write!(f, "worker: {what}: {error}; trying again")
            }
            Warning::ClaimGone { id, task } => write!(
                f,
                "worker: the claim of task {task} ({id}) came back too late and is no longer \
                 this worker's (judged lost meanwhile): not started"
            ),
            Warning::WorkerCutOff { waited, stopped } => write!(
                f,
                "worker: no heartbeat reached the database for {}: stopped its {stopped} \
                 running task(s) before another orch may judge them lost; claims resume \
                 once the database answers",
                humantime::format_duration(*waited)
            ),
            Warning::TaskRetriedAfterLoss { id, task, run_id } => write!(
                f,
                "orch: task {id} `{task}` (run {run_id}) says `on_lost: retry`: queued again \
                 as a new attempt for the workers"
            ),
            Warning::TaskLost { id, task, run_id } => write!(
                f,
                "orch: task {id} `{task}` (run {run_id}) was left running by an orch that \
                 stopped: marked failed (orchestrator lost)"
            ),
            Warning::ApprovalExpired { id, task, run_id } => write!(
                f,
                "orch: task {id} `{task}` (run {run_id}) got no decision within its \
                 `approval_timeout`: rejected"
            ),
            Warning::Reminded {
                id,
                task,
                run_id,
                what,
                age,
                targets,
            } => {
                write!(
                    f,
                    "orch: task {id} `{task}` (run {run_id}) has awaited approval for {age}: \
                     {what} sent to "
                )?;
                if targets.is_empty() {
                    f.write_str("no target (none hears `awaiting_approval`)")
                } else {
                    f.write_str(&targets.join(", "))
                }
            }
            Warning::SweepPlanUnreadable { run_id, detail } => write!(
                f,
                "sweeper: the plan saved with run `{run_id}` cannot be read, so its gates get \
                 no reminders ({detail})"
            ),
            Warning::SweepFailed(e) => write!(f, "sweeper: {e}; trying again at the next pass"),
            Warning::NothingToResume { run_id } => {
                write!(f, "resume: run {run_id} has no queued task: nothing to do")
            }
            Warning::CancelAlreadyRequested { run_id, by, at } => write!(
                f,
                "cancel: run {run_id} was already asked to stop by {by} at {}",
                crate::format::time::timestamp(at)
            ),
            Warning::MigrationsApplied {
                count,
                database,
                latest,
            } => write!(
                f,
                "orch: applied {count} pending migration{} to {database} (now at `{latest}`)",
                if *count == 1 { "" } else { "s" }
            ),
            Warning::UnknownApprovers { task, entries } => write!(
                f,
                "task `{task}`: `approvers` names {}, which the database has no user for (or no \
                 member of, for a group): `orch run` will refuse the plan until they are added \
                 (`orch users add NAME --group GROUP`)",
                entries
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Warning::ApproversNoDatabase { path } => write!(
                f,
                "`approvers` not checked: there is no database at {} yet (`orch run` creates \
                 it; add the users with `orch users add` first)",
                path.display()
            ),
            Warning::ApproversUnchecked(e) => write!(
                f,
                "`approvers` not checked against the database's users: {e}"
            ),
            Warning::UnsetVariable { file, loc, name } => write!(
                f,
                "{file}:{}:{}: environment variable `{name}` is not set (it must be when the \
                 plan runs)",
                loc.line, loc.column
            ),
            Warning::LogNotWritten { task, error } => write!(
                f,
                "task `{task}`: {error}; its output from there on is only in its excerpt"
            ),
            Warning::CannotRemove { path, error } => {
                write!(f, "cannot remove `{}`: {error}", path.display())
            }
            Warning::JobSummary { path, error } => write!(
                f,
                "cannot write the job summary to `{}`: {error}",
                path.display()
            ),
            Warning::Output(e) => write!(f, "{e}"),
        }
    }
}

/// Where warnings go.
pub type Sink = fn(&Warning);

static SINK: OnceLock<Sink> = OnceLock::new();

/// Chooses where warnings go, once, at start (`orch serve` sends them to its log). A second
/// call changes nothing.
pub fn install(sink: Sink) {
    let _ = SINK.set(sink);
}

/// Says `warning` through the installed sink (stderr until one is installed).
pub fn say(warning: Warning) {
    match SINK.get() {
        Some(sink) => sink(&warning),
        None => to_stderr(&warning),
    }
}

/// The CLI's sink: one line on stderr.
pub fn to_stderr(warning: &Warning) {
    eprintln!("{}", warning.line());
}

/// `orch serve`'s sink: its log, at the warning's level.
pub fn to_log(warning: &Warning) {
    if warning.is_note() {
        tracing::info!("{warning}");
    } else {
        tracing::warn!("{warning}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_and_notes_read_as_before() {
        assert_eq!(
            Warning::TargetOff {
                target: "slack".to_owned(),
                var: "SLACK_WEBHOOK".to_owned()
            }
            .line(),
            "warning: notify target `slack` is off for this run: `SLACK_WEBHOOK` is not set"
        );
        assert_eq!(
            Warning::DatabaseBack.line(),
            "orch: the database is back; the run goes on"
        );
        assert_eq!(
            Warning::NothingToResume {
                run_id: "r".to_owned()
            }
            .line(),
            "resume: run r has no queued task: nothing to do"
        );
    }
}
