//! Every error a user can see, the one place their messages are written, and the exit code
//! each one maps to.
//!
//! Messages are lowercase, name the thing that was wrong in backticks, and end with what to do
//! when there is something to do. Nothing else in orch formats a user-facing error.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::format::time::timestamp;
use crate::format::url::redact_urls;
use crate::status::{ApprovalState, TaskStatus};

/// Exit codes, documented in one table (docs/COMMANDS.md#exit-codes, generated from
/// `cli::EXIT_CODES`) and in `orch --help`.
pub mod code {
    pub const SUCCESS: i32 = 0;
    pub const TASK_FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const DATABASE: i32 = 3;
    pub const NOT_FOUND: i32 = 4;
    pub const CONFLICT: i32 = 5;
    pub const UNDELIVERED: i32 = 6;
    pub const CANCELLED: i32 = 7;
    pub const ENDED: i32 = 8;
    pub const WAIT_TIMED_OUT: i32 = 9;
    pub const NOT_ALLOWED: i32 = 10;
    pub const INTERRUPTED: i32 = 130;
    pub const TERMINATED: i32 = 143;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached or opened. `url` is already redacted.
    DatabaseUnreachable {
        url: String,
        detail: String,
    },
    /// A query failed on a database we are connected to.
    Database {
        detail: String,
        /// The connection was lost or refused (the server restarting, the network): worth
        /// retrying, unlike a constraint or a syntax error.
        transient: bool,
    },
    /// The database's disk (or its size limit) is full: SQLite's `SQLITE_FULL`, PostgreSQL's
    /// `53100` (disk full) or `53200` (out of memory). `target` is filled in by `dispatch`.
    DatabaseFull {
        target: String,
        detail: String,
    },
    /// The database stayed unreachable longer than orch waits in the middle of a run.
    DatabaseGone {
        waited: std::time::Duration,
        detail: String,
    },
    /// The SQLite file was deleted or replaced while a drive used it.
    DatabaseFileReplaced {
        path: String,
    },
    /// The database was migrated by a newer orch.
    SchemaTooNew {
        database_at: String,
        binary_knows: String,
    },
    /// Applying or rolling back a migration failed.
    Migration {
        detail: String,
    },
    /// `DATABASE_URL` names a scheme orch does not speak.
    UnsupportedDatabaseUrl {
        url: String,
    },
    UnknownTask {
        id: i64,
    },
    UnknownRun {
        run_id: String,
    },
    /// The task exists but is not waiting for a decision.
    NotAwaitingDecision {
        id: i64,
        status: TaskStatus,
    },
    /// Someone else decided first (or the task was decided earlier).
    AlreadyDecided {
        id: i64,
        state: ApprovalState,
        approver: Option<String>,
        decided_at: Option<DateTime<Utc>>,
    },
    /// The gate's policy does not list this voter.
    NotAnApprover {
        id: i64,
        voter: String,
        approvers: Vec<String>,
    },
    /// `forbid_self`: the run's initiator voted on its gate.
    OwnRun {
        id: i64,
        voter: String,
    },
    /// This voter already voted on the gate as it is.
    AlreadyVoted {
        id: i64,
        voter: String,
        verdict: &'static str,
        cast_at: DateTime<Utc>,
    },
    /// The gate the voter was shown is not the gate now (the task ran again).
    SubjectChanged {
        id: i64,
    },
    /// A plan's `approvers` names users or groups the database does not have.
    UnknownApprovers {
        task: String,
        entries: Vec<String>,
    },
    /// A name the caller typed (`--by`, an open loopback API's `by`) on a gate with an
    /// approval policy, whose votes must come from a credential or the caller's own account.
    UnprovenVoter {
        id: i64,
        /// The channel's name (`cli`, `api`): what the message tells the voter to do instead.
        channel: &'static str,
    },
    /// A voter listed by the gate's policy whose user has been disabled since it opened.
    DisabledVoter {
        id: i64,
        voter: String,
    },
    /// `forbid_self` on a gate whose run's initiator is not recorded: nobody can be sure they
    /// did not start it.
    UnknownInitiator {
        id: i64,
    },
    /// The approval policy recorded with a gate cannot be read (damaged, or written by a
    /// newer orch).
    UnreadablePolicy {
        id: i64,
        reason: String,
    },
    /// A plan's gate whose policy no one could ever satisfy: fewer approvers who may vote
    /// than `required`.
    TooFewApprovers {
        task: String,
        eligible: Vec<String>,
        required: u32,
        initiator: Option<String>,
    },
    /// `forbid_self` on a run whose initiator is not an orch user: a user of another name
    /// could be them.
    InitiatorNotAUser {
        task: String,
        initiator: String,
    },
    /// Another live orch holds the lease on this run or plan.
    Leased {
        /// `run `x`` or `plan `y``.
        what: String,
        holder: Holder,
        hint: LeaseHint,
    },
    /// `--resume` after a decision, while another orch drives the run.
    DecidedWhileDriven {
        run_id: String,
        owner: String,
    },
    /// The decision came after the task's `approval_timeout`: orch rejected it.
    ApprovalTimedOut {
        id: i64,
        decided_at: Option<DateTime<Utc>>,
    },
    /// A status change that the transition table forbids; a bug in the caller.
    IllegalTransition {
        from: TaskStatus,
        to: TaskStatus,
    },
    /// The API may not change a gate awaiting a decision, or decided.
    GateEvidence {
        id: i64,
        state: ApprovalState,
        approver: Option<String>,
    },
    /// The API may not write a row that a live orch is running: that orch writes it.
    DrivenByOrch {
        id: i64,
        owner: String,
    },
    /// The row changed under us between reading it and the guarded update.
    TransitionLost {
        id: i64,
        expected: TaskStatus,
    },
    /// A worker's write of a task it no longer holds: it was judged lost, and the task was
    /// failed or claimed again since.
    ClaimLost {
        id: i64,
        owner: Option<String>,
    },
    /// `orch worker --label` or `--queue` that is not `KEY=VALUE` / a name.
    BadWorkerOption {
        text: String,
        why: &'static str,
    },
    /// A worker was given a run recorded by a newer orch than itself.
    RunTooNew {
        run_id: String,
        recorded_by: String,
    },
    /// `--run-id` that is not a valid name.
    BadRunId {
        id: String,
    },
    /// An environment variable that must hold milliseconds holds something else.
    BadMillis {
        name: &'static str,
        raw: String,
    },
    /// `ORCH_PUBLIC_URL` is not an address orch's pages could live at.
    BadPublicUrl {
        why: String,
    },
    /// `ORCH_HEARTBEAT_MS=0`.
    HeartbeatZero,
    /// A one-click link orch never sent (mistyped, altered, or its run pruned).
    LinkUnknown,
    /// A one-click link past its expiry.
    LinkExpired {
        expired_at: DateTime<Utc>,
    },
    /// A one-click link spent already.
    LinkUsed {
        used_at: DateTime<Utc>,
    },
    /// A one-click link used by someone not signed in: the link says which gate and verdict,
    /// the voter's own login says who they are.
    LinkNeedsLogin {
        voter: String,
    },
    /// A one-click link opened by someone signed in as another user.
    LinkForeign {
        voter: String,
        viewer: String,
    },
    /// `sqlite::memory:` or a `sqlite:` URL without a path.
    SqliteWithoutFile {
        url: String,
    },
    /// `--by` that is empty once trimmed.
    EmptyDecider,
    /// A decider's name with a comma: orch joins a gate's several approvers with `, `, so
    /// `alice, bob` would read as two people.
    CommaInDecider {
        name: String,
    },
    /// A duration flag too long to count back from now.
    DurationTooLong {
        flag: &'static str,
    },
    /// `orch serve` beyond loopback without a token.
    UnsafeBind {
        bind: String,
    },
    /// `--bind` that is not `HOST:PORT`, or a host that does not resolve.
    BadBind {
        bind: String,
        detail: String,
    },
    /// `orch migrate fresh` without `--yes`.
    ConfirmationRequired {
        what: &'static str,
    },
    Io {
        context: String,
        source: std::io::Error,
    },
    /// The plan file cannot be read.
    PlanRead {
        path: String,
        source: std::io::Error,
    },
    /// The plan file is larger than orch reads.
    PlanTooLarge {
        path: String,
        size: u64,
        max: u64,
    },
    /// The plan is malformed or invalid; every issue has a location.
    Plan {
        file: String,
        issues: Vec<PlanIssue>,
    },
    /// `${NAME}` without a default, and `NAME` is not set.
    MissingVariable {
        file: String,
        loc: Loc,
        name: String,
    },
    /// `--run-id` names a run that already has rows.
    RunIdTaken {
        run_id: String,
    },
    /// The task never started, so it has no log.
    NoLogYet {
        id: i64,
        status: TaskStatus,
    },
    /// A task has no log file where its run wrote logs.
    LogMissing {
        id: i64,
        path: String,
    },
    /// A row's run id or task name cannot name a log file (`..`, `/`: written by another
    /// tool), so no file is read for it: it would lie outside the log folder.
    UnsafeLogName {
        run_id: String,
        task: String,
    },
    /// A run has no `agents_runs` row (its tasks were written by another tool), so no plan
    /// says what depends on what.
    NoSavedPlan {
        run_id: String,
    },
    /// A page's address holds a NUL or a byte that is not UTF-8 once decoded.
    UnreadableAddress,
    /// A page's query parameter does not parse (`?from=x`).
    BadPageParameter {
        detail: String,
    },
    /// `--only` names a task the plan does not have.
    UnknownPlanTask {
        name: String,
        known: Vec<String>,
    },
    UnknownDelivery {
        id: i64,
    },
    /// `orch cancel` of a run where nothing runs, is queued or waits any more.
    RunEnded {
        run_id: String,
    },
    /// `orch retry` of a run without a failed or cancelled task.
    NothingToRetry {
        run_id: String,
    },
    /// `orch retry --task` of a task that neither failed nor was skipped.
    NotRetryable {
        run_id: String,
        task: String,
        status: TaskStatus,
    },
    /// `orch retry --task` names no task of the run.
    UnknownRunTask {
        run_id: String,
        task: String,
    },
    /// `orch wait --until decided` of a run: only a task has a gate.
    DecidedNeedsTask {
        run_id: String,
    },
    /// `orch wait` gave up after `--timeout`; `what` says what it still waited for.
    WaitTimedOut {
        waited: std::time::Duration,
        what: String,
    },
    /// `orch users add` with a name already taken.
    UserExists {
        name: String,
    },
    UnknownUser {
        name: String,
    },
    /// `orch tokens create` for a user who is disabled: the token could never be used.
    UserDisabled {
        name: String,
    },
    UnknownApiToken {
        id: i64,
    },
    /// The run's rows were written by another tool: there is no saved plan to resume from.
    NotResumable {
        run_id: String,
    },
    /// Another orch process is sending this delivery right now.
    DeliveryBusy {
        id: i64,
        until: Option<DateTime<Utc>>,
    },
    /// `orch notify test` with nothing to send to.
    NotifyNotConfigured {
        asked: Vec<&'static str>,
    },
    /// Some notifications could not be delivered (yet); they are recorded.
    Undelivered {
        count: usize,
    },
    /// `orch notify test` got no 2xx answer from some target.
    NotifyTestFailed {
        count: usize,
    },
}

/// Who holds a lease someone else wanted.
#[derive(Clone, Debug)]
pub struct Holder {
    pub owner: String,
    pub run_id: Option<String>,
    pub heartbeat_at: DateTime<Utc>,
}

/// What to suggest when a lease is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseHint {
    /// Wait for the holder (a run or resume in progress).
    Wait,
    /// Wait, or run anyway with `--allow-overlap` (a plan still running).
    Overlap,
}

/// A line and column in the plan file, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Loc {
    pub line: u64,
    pub column: u64,
}

/// One problem in a plan file, at a line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanIssue {
    pub loc: Loc,
    pub message: String,
}

/// What kind of failure an error is. One exhaustive mapping ([`Error::class`]) gives both
/// the process exit code and the API's HTTP status, so the two can never disagree and a new
/// error cannot fall into a wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Writing output or a file failed: exit 1, HTTP 500.
    Io,
    /// The request itself is wrong (a bad argument, plan or id choice): exit 2, HTTP 422.
    Usage,
    /// The database cannot be reached right now: exit 3, HTTP 503.
    Unavailable,
    /// The database answered with an error, or its schema does not fit: exit 3, HTTP 500.
    Database,
    /// No such task, run, delivery or log: exit 4, HTTP 404.
    NotFound,
    /// Someone else got there first, or the row is not in a state that allows it: exit 5,
    /// HTTP 409.
    Conflict,
    /// A status change the transition table forbids: exit 5, HTTP 422 on the `status` field.
    BadTransition,
    /// A webhook receiver did not take a notification: exit 6, HTTP 502.
    Undelivered,
    /// The run has ended, or has nothing of the kind asked for (cancel, retry): exit 8,
    /// HTTP 409.
    Ended,
    /// `orch wait` stopped waiting at its `--timeout`: exit 9, HTTP 504.
    TimedOut,
    /// The gate's approval policy does not let this identity vote: exit 10, HTTP 403.
    NotAllowed,
}

impl Class {
    pub fn exit_code(self) -> i32 {
        match self {
            Class::Io => code::TASK_FAILED,
            Class::Usage => code::USAGE,
            Class::Unavailable | Class::Database => code::DATABASE,
            Class::NotFound => code::NOT_FOUND,
            Class::Conflict | Class::BadTransition => code::CONFLICT,
            Class::Undelivered => code::UNDELIVERED,
            Class::Ended => code::ENDED,
            Class::TimedOut => code::WAIT_TIMED_OUT,
            Class::NotAllowed => code::NOT_ALLOWED,
        }
    }
}

impl Error {
    /// The kind of failure: one exhaustive mapping for exit codes and HTTP statuses.
    pub fn class(&self) -> Class {
        match self {
            Error::DatabaseUnreachable { .. } | Error::DatabaseGone { .. } => Class::Unavailable,
            Error::Database { transient, .. } => {
                if *transient {
                    Class::Unavailable
                } else {
                    Class::Database
                }
            }
            Error::SchemaTooNew { .. }
            | Error::DatabaseFull { .. }
            | Error::Migration { .. }
            | Error::DatabaseFileReplaced { .. } => Class::Database,
            Error::UnknownTask { .. }
            | Error::UnknownRun { .. }
            | Error::LogMissing { .. }
            | Error::UnsafeLogName { .. }
            | Error::NoSavedPlan { .. }
            | Error::NoLogYet { .. }
            | Error::UnknownDelivery { .. }
            | Error::UnknownUser { .. }
            | Error::UnknownApiToken { .. }
            | Error::UnknownRunTask { .. } => Class::NotFound,
            Error::RunEnded { .. } | Error::NothingToRetry { .. } | Error::NotRetryable { .. } => {
                Class::Ended
            }
            Error::WaitTimedOut { .. } => Class::TimedOut,
            Error::NotAnApprover { .. }
            | Error::OwnRun { .. }
            | Error::UnprovenVoter { .. }
            | Error::DisabledVoter { .. }
            | Error::UnknownInitiator { .. } => Class::NotAllowed,
            Error::UnreadablePolicy { .. } => Class::Database,
            Error::LinkUnknown => Class::NotFound,
            Error::LinkExpired { .. } | Error::LinkUsed { .. } => Class::Ended,
            Error::LinkForeign { .. } | Error::LinkNeedsLogin { .. } => Class::NotAllowed,
            Error::NotAwaitingDecision { .. }
            | Error::AlreadyDecided { .. }
            | Error::AlreadyVoted { .. }
            | Error::SubjectChanged { .. }
            | Error::ApprovalTimedOut { .. }
            | Error::Leased { .. }
            | Error::DecidedWhileDriven { .. }
            | Error::TransitionLost { .. }
            | Error::ClaimLost { .. }
            | Error::RunTooNew { .. }
            | Error::DrivenByOrch { .. }
            | Error::GateEvidence { .. }
            | Error::DeliveryBusy { .. }
            | Error::UserExists { .. }
            | Error::UserDisabled { .. } => Class::Conflict,
            Error::IllegalTransition { .. } => Class::BadTransition,
            Error::UnsupportedDatabaseUrl { .. }
            | Error::BadWorkerOption { .. }
            | Error::PlanRead { .. }
            | Error::PlanTooLarge { .. }
            | Error::Plan { .. }
            | Error::MissingVariable { .. }
            | Error::RunIdTaken { .. }
            | Error::UnknownPlanTask { .. }
            | Error::BadRunId { .. }
            | Error::BadMillis { .. }
            | Error::BadPublicUrl { .. }
            | Error::HeartbeatZero
            | Error::SqliteWithoutFile { .. }
            | Error::EmptyDecider
            | Error::CommaInDecider { .. }
            | Error::DurationTooLong { .. }
            | Error::UnsafeBind { .. }
            | Error::BadBind { .. }
            | Error::ConfirmationRequired { .. }
            | Error::NotifyNotConfigured { .. }
            | Error::NotResumable { .. }
            | Error::DecidedNeedsTask { .. }
            | Error::UnknownApprovers { .. }
            | Error::TooFewApprovers { .. }
            | Error::InitiatorNotAUser { .. }
            | Error::UnreadableAddress
            | Error::BadPageParameter { .. } => Class::Usage,
            Error::Undelivered { .. } | Error::NotifyTestFailed { .. } => Class::Undelivered,
            Error::Io { .. } => Class::Io,
        }
    }

    /// The process exit code for this error: one mapping, used by every command.
    pub fn code(&self) -> i32 {
        self.class().exit_code()
    }

    pub fn db(err: sea_orm::DbErr) -> Self {
        if is_full(&err) {
            return Error::DatabaseFull {
                target: String::new(),
                detail: redact_urls(&err.to_string()),
            };
        }
        Error::Database {
            transient: is_transient(&err),
            detail: redact_urls(&err.to_string()),
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Database {
                transient: true,
                ..
            }
        )
    }
}

impl Error {
    /// Names the database in the errors whose message needs it.
    pub fn at_database(self, target: &str) -> Self {
        match self {
            Error::DatabaseFull { detail, .. } => Error::DatabaseFull {
                target: target.to_owned(),
                detail,
            },
            other => other,
        }
    }
}

/// The database's own error code, when it answered with one.
fn db_code(err: &sea_orm::DbErr) -> Option<String> {
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.into_owned()),
        _ => None,
    }
}

/// Whether the database refused a write for want of space: SQLite's `SQLITE_FULL` (13, any
/// extended code) or PostgreSQL's `53100` disk full and `53200` out of memory.
fn is_full(err: &sea_orm::DbErr) -> bool {
    db_code(err).is_some_and(|c| code_means_full(&c))
}

fn code_means_full(code: &str) -> bool {
    // PostgreSQL's SQLSTATEs are five characters; SQLite's (extended) result codes are numbers
    // below 10,000, whose low byte is the primary code.
    if code.len() == 5 {
        return matches!(code, "53100" | "53200");
    }
    code.parse::<i32>().is_ok_and(|n| n & 0xff == 13)
}

/// Whether an error means the connection was lost or refused, rather than a wrong query.
fn is_transient(err: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => match r {
            RuntimeErr::SqlxError(e) => match e.as_ref() {
                Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::Protocol(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed => true,
                // PostgreSQL: class 08 (connection exception), and the server shutting down
                // or starting up (57P01–57P03).
                Sqlx::Database(d) => d.code().is_some_and(|c| {
                    c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")
                }),
                _ => false,
            },
            _ => false,
        },
        _ => false,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DatabaseUnreachable { url, detail } => write!(
                f,
                "cannot open the database at `{url}`: {detail}; check `DATABASE_URL` (or \
                 `--database-url`) and that the server is running"
            ),
            Error::Database { detail, .. } => write!(f, "database error: {detail}"),
            Error::DatabaseFull { target, detail } => write!(
                f,
                "the database at `{target}` is full ({detail}): free disk space where it lives \
                 (or raise its size limit); what orch recorded before this write is kept, and a run \
                 that stopped here goes on with `orch resume RUN_ID` once there is room"
            ),
            Error::DatabaseGone { waited, detail } => write!(
                f,
                "the database stayed unreachable for {} ({detail}): the run stopped there; task \
                 logs are on disk, and once the database is back `orch runs list` marks the \
                 tasks left running as lost and `orch resume` goes on",
                humantime::format_duration(*waited)
            ),
            Error::SchemaTooNew {
                database_at,
                binary_knows,
            } => write!(
                f,
                "database is at migration `{database_at}`, this orch knows up to \
                 `{binary_knows}`: upgrade orch (the database was not changed)"
            ),
            Error::Migration { detail } => write!(f, "migration failed: {detail}"),
            Error::DatabaseFileReplaced { path } => write!(
                f,
                "the database file `{path}` was deleted or replaced while this run went on: what \
                 the run recorded after that is not in it (the summary above is what orch saw); \
                 restore the file from a backup, or run the plan again"
            ),
            Error::UnsupportedDatabaseUrl { url } => write!(
                f,
                "unsupported database url `{url}`: use `postgres://…`, `sqlite://…` or leave \
                 `DATABASE_URL` unset for `.orch/orch.db`"
            ),
            Error::UnknownTask { id } => write!(
                f,
                "no task with id {id}: see `orch tasks list` for the ids that exist"
            ),
            Error::UnknownRun { run_id } => write!(
                f,
                "no run `{run_id}`: see `orch runs list` for the runs that exist"
            ),
            Error::NotAwaitingDecision { id, status } => write!(
                f,
                "task {id} is `{status}`, not awaiting approval: only tasks in \
                 `awaiting_approval` can be approved or rejected"
            ),
            Error::AlreadyDecided {
                id,
                state,
                approver,
                decided_at,
            } => {
                write!(f, "task {id} was already {state}")?;
                if let Some(who) = approver {
                    write!(f, " by `{who}`")?;
                }
                if let Some(at) = decided_at {
                    write!(f, " at {}", timestamp(at))?;
                }
                write!(f, ": a decision cannot be changed")
            }
            Error::NotAnApprover {
                id,
                voter,
                approvers,
            } => write!(
                f,
                "`{voter}` may not vote on task {id}: its approvers are {} (groups as they \
                 were when the gate opened); ask one of them",
                approvers
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Error::OwnRun { id, voter } => write!(
                f,
                "`{voter}` started the run of task {id}, and its gate has `forbid_self`: \
                 someone else must approve or reject it"
            ),
            Error::AlreadyVoted {
                id,
                voter,
                verdict,
                cast_at,
            } => write!(
                f,
                "`{voter}` already {verdict} task {id} at {}: a vote counts once and cannot \
                 be changed",
                timestamp(cast_at)
            ),
            Error::SubjectChanged { id } => write!(
                f,
                "task {id} ran again since it was shown to you: nothing was recorded; look at \
                 its new output and vote again"
            ),
            Error::UnknownApprovers { task, entries } => write!(
                f,
                "task `{task}`: `approvers` names {}, which the database has no user for (or no \
                 member of, for a group): add them with `orch users add NAME --group GROUP`, or \
                 fix the plan; nothing was run",
                entries
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Error::UnprovenVoter { id, channel } => match *channel {
                "cli" => write!(
                    f,
                    "task {id}'s gate has an approval policy: votes are cast as the user orch \
                     runs as (`USER`), not `--by`; run it as the approver, or use their API \
                     token or the task page"
                ),
                _ => write!(
                    f,
                    "task {id}'s gate has an approval policy, and this server has no \
                     credential to tell who you are (`by` proves nothing): vote with your API \
                     token (`orch tokens add`, then restart `orch serve` with tokens) or with \
                     `orch approve` as yourself"
                ),
            },
            Error::DisabledVoter { id, voter } => write!(
                f,
                "`{voter}` is disabled, so may not vote on task {id}; ask another approver, \
                 or enable the user with `orch users enable {voter}`"
            ),
            Error::UnknownInitiator { id } => write!(
                f,
                "task {id}'s gate has `forbid_self`, but who started its run was not recorded, \
                 so no vote can be shown not to be theirs; reject it (`orch cancel`), and run \
                 the plan again with this orch"
            ),
            Error::UnreadablePolicy { id, reason } => write!(
                f,
                "the approval policy recorded with task {id} cannot be read ({reason}): it was \
                 damaged or written by a newer orch; no vote is taken on it. Use the orch that \
                 ran it, or cancel the run (`orch cancel`)"
            ),
            Error::TooFewApprovers {
                task,
                eligible,
                required,
                initiator,
            } => {
                write!(
                    f,
                    "task `{task}` needs {required} approvals, but only {} may vote ({})",
                    eligible.len(),
                    if eligible.is_empty() {
                        "nobody".to_owned()
                    } else {
                        eligible
                            .iter()
                            .map(|e| format!("`{e}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )?;
                if let Some(i) = initiator {
                    write!(f, ", `{i}` started the run and `forbid_self` bars them")?;
                }
                write!(
                    f,
                    ": its gate could never be approved. Add approvers (`orch users add NAME \
                     --group GROUP`, `orch users enable NAME`) or lower `required`; nothing was run"
                )
            }
            Error::InitiatorNotAUser { task, initiator } => write!(
                f,
                "task `{task}` has `forbid_self`, but the run would be started by `{initiator}`, \
                 who is no orch user, so a vote under another name could be theirs: add the \
                 user (`orch users add {initiator}`), or run as one; nothing was run"
            ),
            Error::Leased { what, holder, hint } => {
                write!(f, "{what} is being driven by `{}`", holder.owner)?;
                if let Some(run) = &holder.run_id
                    && !what.contains(run.as_str())
                {
                    write!(f, " as run `{run}`")?;
                }
                write!(
                    f,
                    " (last heartbeat {}): wait for it to finish",
                    timestamp(&holder.heartbeat_at)
                )?;
                if *hint == LeaseHint::Overlap {
                    write!(f, ", or pass `--allow-overlap` to run both")?;
                }
                write!(
                    f,
                    "; if that orch is gone, its lease lapses a minute after its last heartbeat"
                )
            }
            Error::DecidedWhileDriven { run_id, owner } => write!(
                f,
                "the decision is recorded, but run `{run_id}` is being driven by `{owner}`, \
                 which picks decisions up before it ends; if the gate's dependents are still \
                 `queued` once it has ended, run `orch resume {run_id}`"
            ),
            Error::ApprovalTimedOut { id, decided_at } => {
                write!(f, "task {id} waited longer than its `approval_timeout`")?;
                if let Some(at) = decided_at {
                    write!(f, " and was rejected by orch at {}", timestamp(at))?;
                } else {
                    write!(f, " and was rejected by orch")?;
                }
                write!(
                    f,
                    ": a decision cannot be changed (run the plan again for a new gate)"
                )
            }
            Error::IllegalTransition { from, to } => write!(
                f,
                "a task cannot go from `{from}` to `{to}` (see the transition table in \
                 docs/ORCHESTRATION.md)"
            ),
            Error::GateEvidence {
                id,
                state: ApprovalState::Pending,
                ..
            } => write!(
                f,
                "task {id} awaits a decision: what people judge (its outputs, excerpt and \
                 timings) cannot change until it is approved or rejected"
            ),
            Error::GateEvidence {
                id,
                state,
                approver,
            } => write!(
                f,
                "task {id} was {state} by `{}`: what was decided on cannot change",
                approver.as_deref().unwrap_or("someone")
            ),
            Error::DrivenByOrch { id, owner } => write!(
                f,
                "task {id} is running under `{owner}`, which records it: change it once it has \
                 ended, or stop that orch"
            ),
            Error::TransitionLost { id, expected } => write!(
                f,
                "task {id} is no longer `{expected}`: another orch changed it first"
            ),
            Error::ClaimLost { id, owner } => write!(
                f,
                "task {id} is no longer this worker's: it was judged lost (no heartbeat in \
                 time) and the task {}; what this worker saw of it is not recorded",
                match owner {
                    Some(o) => format!("now belongs to {o}"),
                    None => "was ended without it".to_owned(),
                }
            ),
            Error::BadWorkerOption { text, why } => write!(f, "`{text}`: {why}"),
            Error::RunTooNew {
                run_id,
                recorded_by,
            } => write!(
                f,
                "run {run_id} was recorded by orch {recorded_by}, newer than this worker's {}: \
                 upgrade the worker (`orch --version`) so it runs the plan as it was meant",
                env!("CARGO_PKG_VERSION")
            ),
            Error::BadRunId { id } => {
                write!(
                    f,
                    "run id `{id}` must be letters, digits, `.`, `_` and `-`, and not `.` or `..` \
                 (it becomes a folder name)"
                )
            }
            Error::BadPublicUrl { why } => write!(
                f,
                "`ORCH_PUBLIC_URL`: {why}; it is the address people open orch's pages at, \
                 e.g. `https://orch.example.com`"
            ),
            Error::LinkUnknown => write!(
                f,
                "this link is not one orch sent: it may be cut short or altered (copy it whole \
                 from the message), or its run was pruned. Nothing was recorded; open the task \
                 from the message's other links, or ask for the task page"
            ),
            Error::LinkExpired { expired_at } => write!(
                f,
                "this link expired at {}: nothing was recorded. Vote on the task page, or with \
                 `orch approve`",
                timestamp(expired_at)
            ),
            Error::LinkUsed { used_at } => write!(
                f,
                "this link was used at {}: a link casts one vote, once. Nothing more was \
                 recorded; the task page shows the votes",
                timestamp(used_at)
            ),
            Error::LinkNeedsLogin { voter } => write!(
                f,
                "this link is `{voter}`'s: sign in as `{voter}` to review the gate and vote \
                 (a link alone votes for no one, since whoever reads the message holds it). \
                 Nothing was recorded"
            ),
            Error::LinkForeign { voter, viewer } => write!(
                f,
                "this link was sent to `{voter}`, and you are signed in as `{viewer}`: nothing \
                 was recorded. Use your own link, or vote on the task page"
            ),
            Error::BadMillis { name, raw } => {
                write!(
                    f,
                    "`{name}` is `{raw}`: give a whole number{}",
                    if name.ends_with("_MS") {
                        " of milliseconds"
                    } else {
                        ""
                    }
                )
            }
            Error::HeartbeatZero => write!(
                f,
                "`ORCH_HEARTBEAT_MS` is 0: a holder must renew its leases, give a number of \
                 milliseconds above 0"
            ),
            Error::SqliteWithoutFile { url } => write!(
                f,
                "`{url}` names no file: orch needs a SQLite file that outlives the process, \
                 e.g. `sqlite://.orch/orch.db`"
            ),
            Error::EmptyDecider => write!(f, "`--by` is empty: say who decides, e.g. `--by alice`"),
            Error::CommaInDecider { name } => write!(
                f,
                "`{name}` has a comma: a gate decided by several people records them as \
                 `alice, bob`, so a name with one would read as two; name one person"
            ),
            Error::DurationTooLong { flag } => write!(f, "`{flag}` is too long"),
            Error::BadBind { bind, detail } => write!(
                f,
                "cannot listen on `{bind}` ({detail}): give `HOST:PORT`, e.g. `127.0.0.1:8001` \
                 or `localhost:8001`"
            ),
            Error::UnsafeBind { bind } => write!(
                f,
                "refusing to listen on {bind} without a credential: create a user's token with \
                 `orch tokens create --user NAME`, set `ORCH_API_TOKEN` or pass `--token-file`, \
                 trust an SSO proxy with `--trusted-proxy CIDR`, or bind to 127.0.0.1"
            ),
            Error::ConfirmationRequired { what } => {
                write!(f, "{what} deletes every row: run it again with `--yes`")
            }
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::PlanTooLarge { path, size, max } => write!(
                f,
                "plan `{path}` is {size} bytes, more than the {max} orch reads: split it into \
                 several plans"
            ),
            Error::PlanRead { path, source } => {
                write!(f, "cannot read plan `{path}`: {source}")
            }
            Error::Plan { file, issues } => {
                // One line per issue, each in the `file:line:column: message` form editors
                // and CI annotations understand.
                for (i, issue) in issues.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\nerror: ")?;
                    }
                    write!(
                        f,
                        "{file}:{}:{}: {}",
                        issue.loc.line, issue.loc.column, issue.message
                    )?;
                }
                Ok(())
            }
            Error::MissingVariable { file, loc, name } => write!(
                f,
                "{file}:{}:{}: environment variable `{name}` is not set: export it, or write \
                 `${{{name}:-default}}`",
                loc.line, loc.column
            ),
            Error::RunIdTaken { run_id } => write!(
                f,
                "run `{run_id}` already exists: choose another `--run-id`, or omit it to get a \
                 fresh one"
            ),
            Error::NoLogYet { id, status } => {
                write!(f, "no log: task {id} never ran (it is `{status}`)")
            }
            Error::LogMissing { id, path } => write!(
                f,
                "the log of task {id} is gone: `{path}` does not exist, though the task started (every task that starts gets its file); it was deleted, moved or pruned, or the run was on another machine. Look there, or rerun the task"
            ),
            Error::UnsafeLogName { run_id, task } => write!(
                f,
                "no log is read for run `{run_id}`, task `{task}`: a run id and a task name must be letters, digits, `.`, `_` and `-`, and not `.` or `..`, to name a file in the log folder (this row was not written by orch)"
            ),
            Error::NoSavedPlan { run_id } => write!(
                f,
                "no plan is saved with run `{run_id}` (its rows were not written by `orch run`), so what depends on what is unknown"
            ),
            Error::UnreadableAddress => write!(
                f,
                "the address holds a NUL or a byte that is not UTF-8: remove it and ask again"
            ),
            Error::BadPageParameter { detail } => {
                write!(f, "a parameter of the address cannot be read: {detail}")
            }
            Error::UnknownPlanTask { name, known } => write!(
                f,
                "the plan has no task `{name}`: it has {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Error::UnknownDelivery { id } => write!(
                f,
                "no delivery with id {id}: see `orch notify list` for the ids that exist"
            ),
            Error::UserExists { name } => write!(
                f,
                "a user `{name}` exists already: see `orch users list`, or pick another name"
            ),
            Error::UnknownUser { name } => write!(
                f,
                "no user `{name}`: see `orch users list`, or add it with `orch users add {name}`"
            ),
            Error::UserDisabled { name } => write!(
                f,
                "user `{name}` is disabled, so a token for them would be refused: enable them \
                 first with `orch users enable {name}`"
            ),
            Error::UnknownApiToken { id } => write!(
                f,
                "no token with id {id}: see `orch tokens list` for the ids that exist"
            ),
            Error::RunEnded { run_id } => write!(
                f,
                "run `{run_id}` has ended: no task of it runs, is queued or waits for a \
                 decision, so there is nothing to cancel (`orch retry {run_id}` runs its \
                 failed tasks again)"
            ),
            Error::NothingToRetry { run_id } => write!(
                f,
                "run `{run_id}` has no failed or cancelled task to retry (what succeeded is \
                 kept; a queued or waiting task goes on with `orch resume {run_id}`)"
            ),
            Error::NotRetryable {
                run_id,
                task,
                status,
            } => write!(
                f,
                "task `{task}` of run `{run_id}` is `{status}`: only a failed task, or one \
                 skipped without running, is retried"
            ),
            Error::UnknownRunTask { run_id, task } => write!(
                f,
                "run `{run_id}` has no task `{task}`: see `orch tasks list --run-id {run_id}`"
            ),
            Error::DecidedNeedsTask { run_id } => write!(
                f,
                "`--until decided` waits for one gate's decision: give the task's id, not the \
                 run `{run_id}` (`orch tasks list --run-id {run_id}`)"
            ),
            Error::WaitTimedOut { waited, what } => write!(
                f,
                "gave up waiting after {}: {what}",
                humantime::format_duration(*waited)
            ),
            Error::NotResumable { run_id } => write!(
                f,
                "run `{run_id}` has no saved plan (its rows were written through the API or \
                 another tool), so it cannot be resumed, retried or cancelled: only runs \
                 started by `orch run` can"
            ),
            Error::DeliveryBusy { id, until } => {
                write!(f, "delivery {id} is held by another orch")?;
                if let Some(until) = until {
                    write!(f, " until {}", timestamp(until))?;
                }
                write!(
                    f,
                    ": it is being sent, or its sender died and the hold lapses then; try again \
                     after that"
                )
            }
            Error::NotifyNotConfigured { asked } => write!(
                f,
                "nothing to send to: {} not set (export the webhook URL, e.g. `export SLACK_WEBHOOK=https://hooks.slack.com/services/…`)",
                asked
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
                    + if asked.len() > 1 { " are" } else { " is" }
            ),
            Error::Undelivered { count } => write!(
                f,
                "{count} notification{} not delivered: they are kept; see `orch notify list --failed`, then `orch notify retry`",
                if *count == 1 { " was" } else { "s were" }
            ),
            Error::NotifyTestFailed { count } => write!(
                f,
                "{count} test message{} not delivered (the answer is above): check the \
                 webhook URL and that the receiver is up",
                if *count == 1 { " was" } else { "s were" }
            ),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Writing to a closed pipe (`orch tasks list | head -1`): the reader left on purpose.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Error::Io {
            context: "cannot write output".to_owned(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_database_is_told_by_its_code_on_both_backends() {
        // SQLite: SQLITE_FULL (13); no extended code of it exists today, but one would count.
        for full in ["13", "269", "53100", "53200"] {
            assert!(code_means_full(full), "{full}");
        }
        // SQLITE_IOERR_WRITE (778), SQLITE_BUSY (5), constraint (2067), PostgreSQL's unique
        // violation, too many connections and a numeric-looking other class.
        for other in ["778", "5", "2067", "23505", "53300", "08006", "22013", "1"] {
            assert!(!code_means_full(other), "{other}");
        }
    }

    #[test]
    fn a_full_database_names_where_it_lives() {
        let e = Error::DatabaseFull {
            target: String::new(),
            detail: "database or disk is full".to_owned(),
        }
        .at_database("sqlite://.orch/orch.db");
        assert_eq!(e.code(), code::DATABASE);
        let text = e.to_string();
        assert!(text.contains("`sqlite://.orch/orch.db` is full"), "{text}");
        assert!(text.contains("free disk space"), "{text}");
        assert!(text.contains("orch resume"), "{text}");
    }
}
