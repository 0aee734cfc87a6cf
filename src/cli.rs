//! The command line, as clap types only: no logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::format::url::{PublicUrl, parse_public_url};
use crate::store::TaskStatus;

pub const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    a task failed (rejections included), or an I/O error other than a closed pipe
  2    usage or plan error
  3    database unreachable, or its schema is newer than this orch
  4    unknown task, run or delivery id, or a task's log file is missing
  5    conflict: the task is not awaiting a decision, someone decided first (or its
       approval_timeout passed), or another orch is driving the run or plan
  6    a notification could not be delivered (`orch notify test`, `orch notify retry`)
  7    the run was cancelled (`orch cancel`): by its driver and by `orch wait`
  8    the run has ended, or has nothing to retry (`orch cancel`, `orch retry`)
  9    `orch wait` gave up at its `--timeout`
  10   not allowed: the gate's approval policy does not let you vote (not an approver, or
       you started the run and it has `forbid_self`)
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)";

/// Run nightly automation plans and record every task in a database.
///
/// A closed pipe on stdout (`orch tasks list | head -1`) is not an error: orch exits 0. The
/// commands that drive tasks (`run`, `resume`, a decision with `--resume`) and `serve` handle
/// SIGINT and SIGTERM themselves; the other commands are ended by them, and the shell reports
/// 128 + the signal number.
#[derive(Debug, Parser)]
#[command(name = "orch", version, after_long_help = EXIT_CODES, after_help = EXIT_CODES)]
pub struct Cli {
    /// Database to use: `postgres://…` or `sqlite://FILE`. Unset or empty: `.orch/orch.db`.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a plan: every task recorded as a row, its output in a log file.
    ///
    /// Every task gets a `queued` row when the run starts. Tasks then start in file order, each
    /// once the tasks it `depends_on` are done, up to `concurrency` at once (default 1), with
    /// the plan's `retries` and `timeout`. A failed task does not stop the run: the others still
    /// run, except those that need it to have succeeded (they are `skipped`). A task that
    /// depends on one awaiting approval stays `queued`; `orch resume` goes on once it is decided.
    ///
    /// SIGINT and SIGTERM are forwarded to the running tasks (SIGKILL after their `kill_grace`),
    /// which are recorded as `failed`; queued tasks become `skipped`. In GitHub Actions the
    /// summary is also appended to `$GITHUB_STEP_SUMMARY`, with an `::error::` annotation per
    /// failed task.
    ///
    /// Exit status: 0 when no task failed (awaiting approval, skipped or left queued is not a
    /// failure); 1 when a task of this run failed; 2 for a plan error, an unset variable, a
    /// taken or malformed `--run-id` or an unknown `--only` task, before anything runs; 3 when
    /// the database is unreachable or newer than this orch; 5 when another orch is still running
    /// this plan; 130 or 143 after SIGINT or SIGTERM.
    Run(RunArgs),
    /// Go on with a recorded run after decisions: run what an approval let through, skip
    /// what a rejection stopped. Uses the plan text saved with the run, not the file.
    ///
    /// Tasks a rejection stopped become `skipped`, `when: always` cleanups run, and nothing that
    /// ended runs again. Run it from the same checkout and environment as the run. With nothing
    /// queued it changes nothing. SIGINT and SIGTERM are handled as by `orch run`.
    ///
    /// Exit status: 0, or 1 when a task of the run failed (a rejected gate included); 2 for a
    /// run written through the API or another tool (no saved plan); 4 for an unknown run; 5
    /// while another orch drives the run; 130 or 143 after SIGINT or SIGTERM.
    Resume(ResumeArgs),
    /// Stop a run: what runs is stopped, what is queued is skipped, gates are rejected.
    ///
    /// Works for a run driven by an `orch run` or `orch resume` on any machine sharing the
    /// database: its driver reads the request at its next heartbeat (`ORCH_HEARTBEAT_MS`,
    /// 5 s by default) and stops its running tasks as a signal would (SIGTERM, then SIGKILL
    /// after their `kill_grace`); they are recorded as `failed`, with `cancelled by USER` as
    /// the excerpt's last line. When nobody drives the run (it waits on a gate, or its orch
    /// died), this command closes it itself. Queued tasks become `skipped`, gates awaiting a
    /// decision are rejected by the canceller with the note `cancelled by USER`. The
    /// canceller is the user orch runs as (`USER`), as for `orch approve`. A second cancel
    /// changes nothing and says who asked first. `orch wait RUN_ID` waits for the driver to
    /// stop; it then exits 7.
    ///
    /// Exit status: 0 when the cancel is recorded (or was already); 2 for a run without a
    /// saved plan; 4 for an unknown run; 8 when the run has ended (nothing runs, is queued
    /// or waits).
    Cancel(CancelArgs),
    /// Run a run's failed and cancelled tasks again, with their dependents.
    ///
    /// Each task retried keeps its row: its attempt as it ended is copied to the history
    /// (`orch tasks show` lists it), then the row is queued again with `attempt` one higher.
    /// Without `--task`, every task that failed (a rejected gate included) or that a cancel
    /// or signal kept from starting is retried; with it, the tasks named. Their dependents
    /// that did not succeed run again with them; what succeeded is kept. The run is then
    /// driven as `orch resume` drives it, from the plan text saved with it. The retrier is
    /// the user orch runs as (`USER`).
    ///
    /// Exit status: as `orch resume`; 4 for an unknown run or a task not in it; 5 while
    /// another orch drives the run; 8 when a task named did not fail, or nothing is left to
    /// retry.
    Retry(RetryArgs),
    /// Take tasks of enqueued runs (`orch run --enqueue`) and run them, until stopped.
    ///
    /// Claims ready tasks, up to `--slots` at once, from the queues it is given, whose
    /// `runs_on` its `--label`s satisfy; several workers, on one machine or many sharing a
    /// PostgreSQL database, share a run's tasks, each claimed once. It runs them from the
    /// plan text saved with the run, in this worker's environment, and judges what becomes
    /// ready when one ends. Its heartbeat (`ORCH_HEARTBEAT_MS`) keeps its tasks; one that
    /// cannot reach the database for `ORCH_DB_OUTAGE_MS` stops them itself, before another may
    /// judge it lost. A lost worker's running tasks are recorded `failed` and not run again,
    /// unless the task says `on_lost: retry`.
    ///
    /// SIGTERM drains: nothing new is claimed, what runs finishes, then exit 0. A second
    /// SIGTERM, or SIGINT, stops what runs (recorded as by `orch run`).
    ///
    /// Exit status: 0 after a drain; 2 for a bad `--label` or `--queue`; 3 when the database
    /// is unreachable or newer than this orch; 130 or 143 when stopped by a signal.
    Worker(WorkerArgs),
    /// The workers sharing this database.
    #[command(subcommand)]
    Workers(WorkersCommand),
    /// Wait until a run ends, or a task ends or its gate is decided; exit with its code.
    ///
    /// A run has ended when none of its tasks runs, is queued or waits for a decision; a
    /// task, when its status is final. `ID` is a run id, or a task id (a number, when a task
    /// with that id exists). The database is read every `--interval`, so the driver may be on
    /// another machine, and the decision taken anywhere (CLI, API, page): a CI job can wait
    /// for a gate decided elsewhere. Quiet unless it times out.
    ///
    /// Exit status: for a run, 0 when no task failed, 1 when one did, 7 when it was
    /// cancelled; for a task, 0 when it succeeded or was skipped (or its gate was approved),
    /// 1 when it failed (or was rejected); 2 for `--until decided` with a run id; 4 for an
    /// unknown id; 9 when `--timeout` passed first.
    Wait(WaitArgs),
    /// Check plan files without running them or touching the database.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Print a task's log.
    ///
    /// Its stdout and stderr merged line by line, with secrets masked.
    ///
    /// Exit status: 4 for an unknown id, a task that never started, or a log file that is not
    /// where its run wrote it.
    Logs(LogsArgs),
    /// List and show recorded tasks.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// List and show runs with their counts per status.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Approve a task awaiting approval: it becomes `succeeded`.
    ///
    /// The approver, the note and the time are recorded. A decision is taken once: the
    /// database guards it, so of two people deciding at once one wins. The targets saved with
    /// the run that asked for `approved` are notified; a notification never changes the exit
    /// status.
    ///
    /// On a gate with an approval policy (`approvers`, `required`, `forbid_self`), this is a
    /// vote, cast as the user orch runs as (`USER`; `--by` is refused): the gate is approved
    /// when `required` distinct allowed approvals are in, and until then the command says
    /// where it stands ("1 of 2 approvals: alice approved; needs 1 more of ...").
    ///
    /// Exit status: 4 for an unknown id; 5 when the task is not awaiting a decision, someone
    /// decided first, you voted already, or its `approval_timeout` passed (orch rejected it);
    /// 10 when the policy does not let you vote. With `--resume`, then as `orch resume`.
    Approve(DecideArgs),
    /// Reject a task awaiting approval: it becomes `failed`.
    ///
    /// The approver, the note and the time are recorded; when the run goes on, the dependents
    /// that need the gate to succeed are skipped. A decision is taken once, as for `orch approve`. The targets saved
    /// with the run that asked for `rejected` are notified.
    ///
    /// On a gate with an approval policy, this is a vote, as for `orch approve`: one rejection
    /// rejects it (`reject: veto`, the default), or `required` of them (`reject: quorum`).
    ///
    /// Exit status: 4 for an unknown id; 5 when the task is not awaiting a decision, someone
    /// decided first or you voted already; 10 when the policy does not let you vote. With
    /// `--resume`, then as `orch resume`.
    Reject(DecideArgs),
    /// Gates awaiting a decision: send the reminders due, reject those past their timeout.
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// Serve the REST API over the same database.
    ///
    /// List, read, create and update task rows, approve and reject, with the same rules as the
    /// commands; it never runs anything. Writes need `Authorization: Bearer <token>` (the
    /// admin `ORCH_API_TOKEN` or a user's token from `orch tokens create`) once either exists;
    /// beyond loopback reads need one too. One log line per request on stderr.
    ///
    /// It also runs the approvals sweeper every `--sweep-every` (see `orch approvals sweep`);
    /// its failures are logged and never stop the server.
    ///
    /// Exit status: 0 once stopped by SIGINT or SIGTERM; 1 when the address is in use or the
    /// token file cannot be read; 2 when asked to listen beyond loopback without any credential.
    Serve(ServeArgs),
    /// Webhook notifications: list deliveries, send undelivered ones again, send a test.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// The people (or robots) who may use the API with a token, and their groups.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Users' API tokens: create one (printed once), list them, revoke one.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Print the metrics `orch serve` serves at `/metrics`, once, in the Prometheus text format.
    ///
    /// Computed from the database as it is now: for node_exporter's textfile collector on a
    /// machine without `orch serve` (`orch metrics > DIR/orch.prom.tmp && mv …`).
    Metrics,
    /// Delete runs older than a bound: their rows, delivery records and log folders.
    ///
    /// A run at a time, each in a transaction; then SQLite is compacted (`VACUUM`). A run being
    /// driven is always kept.
    Prune(PruneArgs),
    /// Inspect and change the database schema.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Print a shell completion script: `orch completions bash > /etc/bash_completion.d/orch`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `orch man > /usr/local/share/man/man1/orch.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plan file, e.g. `plans/nightly.yaml`.
    pub plan: PathBuf,
    /// Use this run id (refused when it exists) instead of the plan's `run_id` template.
    ///
    /// Letters, digits, `.`, `_` and `-`, not `.` or `..`. Without it, the template's id gets
    /// `.2`, `.3`… when it is taken, so a second nightly run on the same day is
    /// `nightly-2026-11-25.2`.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Run only these tasks (repeat the flag or separate with commas).
    ///
    /// Still in plan order. A dependency outside the selection is not run, and counts as
    /// satisfied (see `--with-deps`).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub only: Vec<String>,
    /// With `--only`: also run what those tasks depend on, transitively.
    #[arg(long, requires = "only")]
    pub with_deps: bool,
    /// At most this many tasks at once (overrides the plan's `concurrency`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Where task logs go: `<DIR>/<run_id>/<task>.log`.
    ///
    /// orch records the absolute path with the run, so `orch logs` finds the files later from
    /// any directory.
    #[arg(long, default_value = ".orch/logs")]
    pub log_dir: PathBuf,
    /// Print what would run (argv, cwd, env with secrets masked) and write nothing.
    ///
    /// Also the approval, the notification targets that are on, and when set, dependencies
    /// with their `when`, retries and timeout. The database is not opened, so the run id shown
    /// is the template's, not checked against the runs that exist.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON (the run, every task row, the gates' commands) instead of
    /// the table. Progress still goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// Run even while another `orch run` of the same plan is still going (by default that
    /// is refused with exit 5, so an overrunning cron job does not start a second copy).
    #[arg(long)]
    pub allow_overlap: bool,
    /// Record the run and its `queued` tasks for `orch worker`s, print its id and return at
    /// once: nothing runs in this process.
    ///
    /// The workers run it from the plan text saved now; `concurrency` (the plan's, or
    /// `--concurrency`) holds across all of them. Use PostgreSQL for workers on more than one
    /// machine. `orch wait RUN_ID` waits for it to end.
    #[arg(long, conflicts_with_all = ["dry_run", "allow_overlap"])]
    pub enqueue: bool,
    /// With `--enqueue`: the queue the run waits on (workers take the queues they are given).
    #[arg(long, requires = "enqueue", default_value = "default")]
    pub queue: String,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// How many tasks it runs at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub slots: u32,
    /// A label tasks' `runs_on` may ask for, as `KEY=VALUE`; repeat for several.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// A queue to take runs from (`orch run --enqueue --queue NAME`); repeat for several.
    /// Default: `default`.
    #[arg(long = "queue", value_name = "NAME")]
    pub queues: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WorkersListArgs {
    /// Also the workers that stopped.
    #[arg(long)]
    pub all: bool,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum WorkersCommand {
    /// The workers that are up (or, with `--all`, were): host, pid, version, labels, queues,
    /// slots in use and the age of their last heartbeat.
    List(WorkersListArgs),
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run's id (`orch runs list`).
    pub run_id: String,
    /// At most this many tasks at once (default: the saved plan's `concurrency`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Print the summary as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run's id (`orch runs list`).
    pub run_id: String,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The run's id (`orch runs list`).
    pub run_id: String,
    /// Retry only this task (and its dependents); repeat for several.
    #[arg(long = "task", value_name = "TASK")]
    pub tasks: Vec<String>,
    /// At most this many tasks at once (default: the saved plan's `concurrency`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Print the summary as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// What `orch wait` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Until {
    /// The run has ended, or the task's status is final.
    Done,
    /// The task's gate is decided (or the task ended without one).
    Decided,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// A run id, or a task id.
    pub id: String,
    /// What to wait for.
    #[arg(long, value_enum, default_value_t = Until::Done)]
    pub until: Until,
    /// Give up after this long (`30m`, `2h`) with exit 9; without it, wait as long as it takes.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// How often to read the database.
    #[arg(long, default_value = "2s", value_parser = parse_interval)]
    pub interval: std::time::Duration,
}

/// `--interval` and `--sweep-every`: a duration of at least 10 ms, so a typo never spins on
/// the database.
fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("{e}: use a duration such as `2s` or `500ms`"))?;
    if d < std::time::Duration::from_millis(10) {
        return Err("at least `10ms`".to_owned());
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on: `HOST:PORT`, the host an address or a name (`localhost:8001`).
    /// Beyond loopback a credential is required: the admin token, an active user token, or
    /// a trusted proxy.
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub bind: String,
    /// A file holding the API token (instead of `ORCH_API_TOKEN`).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Behind an SSO proxy (oauth2-proxy, Pomerium): the header naming the user, taken only
    /// from a `--trusted-proxy` address. The user must exist in `orch users`; scope `decide`.
    #[arg(long, value_name = "NAME", requires = "trusted_proxy")]
    pub trusted_user_header: Option<axum::http::HeaderName>,
    /// The proxy's address range (`10.0.0.5/32`); repeat for several. From anywhere else the
    /// header is ignored and logged.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        requires = "trusted_user_header"
    )]
    pub trusted_proxy: Vec<ipnet::IpNet>,
    /// The address people open the pages at, when it is not the bind address: behind a TLS
    /// proxy, `https://orch.example.com`. With https the session cookie is `Secure`, and
    /// forms posted from this origin are accepted even when the proxy rewrites `Host`.
    ///
    /// Read from `ORCH_PUBLIC_URL` when not given: the same variable gives `orch run`,
    /// `orch approve` and the sweeper the address for one-click approval links.
    #[arg(long, value_name = "URL", env = "ORCH_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<PublicUrl>,
    /// How often the approvals sweeper runs a pass: reminders, escalations, `approval_timeout`.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_interval)]
    pub sweep_every: std::time::Duration,
    /// Do not run the approvals sweeper in this server (another process or cron runs it).
    #[arg(long)]
    pub no_sweep: bool,
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// One pass of the approvals sweeper, as `orch serve` runs every `--sweep-every`.
    ///
    /// Rejects the gates past their `approval_timeout` (as every command's recovery does), sends
    /// the reminders and escalations of the plans' `approval: {remind, escalate}` that are due
    /// (each once, whatever number of sweepers run), and resends deliveries left pending. For
    /// installs without `orch serve`: run it from cron every minute or so. One pass runs at a
    /// time across processes; a second one at the same moment does nothing and says so.
    ///
    /// Exit status: 0 (also when another pass was under way); 3 when the database is unreachable.
    Sweep {
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Validate a plan: syntax, keys, names, regexes, variables.
    ///
    /// Every problem is reported as `file:line:column`, all of them at once. Nothing runs and
    /// nothing is written. Only with a database named (`DATABASE_URL`, `--database-url`) does
    /// it read one: to warn of `approvers` it has no user for.
    ///
    /// Exit status: 0 when the plan is valid (an unset variable is a warning unless
    /// `--strict-env`), 2 when it is not.
    Validate {
        /// The plan file.
        plan: PathBuf,
        /// Treat unset environment variables as errors, not warnings.
        #[arg(long)]
        strict_env: bool,
    },
    /// Print the plan format as a JSON Schema (what docs/plan.schema.json holds), for editors.
    Schema,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The task's id.
    pub id: i64,
    /// Keep printing as the log grows, until the task finishes.
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List tasks, newest first.
    List(TasksListArgs),
    /// Show one task with every column.
    ///
    /// Exit status: 4 for an unknown id.
    Show(ShowTaskArgs),
}

#[derive(Debug, Args)]
pub struct TasksListArgs {
    /// Only tasks in this status: `queued`, `running`, `succeeded`, `failed`,
    /// `awaiting_approval` or `skipped`.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<TaskStatus>,
    /// Only tasks of this run.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Only tasks with this name.
    #[arg(long)]
    pub task: Option<String>,
    /// At most this many rows (1–1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: u64,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowTaskArgs {
    /// The task's id (the first column of `orch tasks list`).
    pub id: i64,
    /// Print the row as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first, with counts per status.
    List(RunsListArgs),
    /// Show one run and its tasks.
    ///
    /// Exit status: 4 for an unknown run.
    Show(ShowRunArgs),
}

#[derive(Debug, Args)]
pub struct RunsListArgs {
    /// At most this many runs (1–1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: u64,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowRunArgs {
    /// The run's id (the first column of `orch runs list`).
    pub run_id: String,
    /// Print the run (with its tasks) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The task's id.
    pub id: i64,
    /// Who decides; defaults to the user name from the environment (`USER`).
    ///
    /// Then `USERNAME`, `LOGNAME`, the name of the account orch runs as, or `unknown`. Not
    /// checked against `orch users`: whoever can reach the database is trusted, as that access
    /// is total already (the API records its token's user instead). Refused on a gate with an
    /// approval policy, whose votes are the caller's own.
    #[arg(long)]
    pub by: Option<String>,
    /// Why; recorded with the decision.
    #[arg(long)]
    pub note: Option<String>,
    /// The gate's subject as you judged it (`approval.subject` of `orch tasks show ID --json`):
    /// if the task ran again since, the vote is refused (exit 5) instead of counting on output
    /// you have not seen.
    #[arg(long, value_name = "DIGEST")]
    pub subject: Option<String>,
    /// Print the decided row as JSON.
    #[arg(long)]
    pub json: bool,
    /// Then resume the task's run, as `orch resume RUN_ID` would, and exit as it does.
    #[arg(long)]
    pub resume: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Runs that ended longer ago than this: `30d`, `12h`, `2weeks`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub older_than: std::time::Duration,
    /// Say what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also prune runs with a gate still waiting for a decision (kept by default).
    #[arg(long)]
    pub include_pending: bool,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// List deliveries, newest first.
    List(NotifyListArgs),
    /// Send undelivered notifications again: every one nobody is sending, or one by id.
    ///
    /// Exit status: 4 for an unknown `--id`; 5 while another orch is sending that delivery; 6
    /// when something stays undelivered (it stays recorded).
    Retry {
        /// Only this delivery (also one the receiver refused).
        #[arg(long)]
        id: Option<i64>,
    },
    /// Send a test message to `SLACK_WEBHOOK` and/or `EMAIL_WEBHOOK` and print the answer.
    ///
    /// Needs no database.
    ///
    /// Exit status: 2 when neither variable is set; 6 without a 2xx answer.
    Test {
        /// Only Slack.
        #[arg(long)]
        slack: bool,
        /// Only the email webhook.
        #[arg(long)]
        email: bool,
    },
}

#[derive(Debug, Args)]
pub struct NotifyListArgs {
    /// Only deliveries not delivered (`pending` or `failed`).
    #[arg(long)]
    pub failed: bool,
    /// Only deliveries of this run.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Only deliveries about this task.
    #[arg(long)]
    pub task_id: Option<i64>,
    /// At most this many rows (1–1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: u64,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply every pending migration.
    Up,
    /// Roll back the newest migrations.
    Down {
        /// How many to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// Show which migrations are applied.
    Status {
        /// Print the migrations as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Roll back every orch migration and apply them again (empties orch's tables).
    ///
    /// Other tables in the same database are left alone.
    ///
    /// Exit status: 2 without `--yes`.
    Fresh {
        /// Confirm that every row may be deleted.
        #[arg(long)]
        yes: bool,
    },
}

fn parse_status(s: &str) -> Result<TaskStatus, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user.
    ///
    /// Exit status: 5 when the name is taken.
    Add(UsersAddArgs),
    /// List users, their groups, and when each was disabled.
    List(JsonArgs),
    /// Disable a user: their tokens are refused (401) from the next request on.
    ///
    /// A trusted proxy naming them is refused too (403). The tokens are kept, not revoked:
    /// `orch users enable` brings them back.
    ///
    /// Exit status: 4 for an unknown user. A user disabled already is said so, with 0.
    Disable(UserNameArgs),
    /// Enable a disabled user: their tokens work again (unless revoked or expired).
    ///
    /// Exit status: 4 for an unknown user. A user who is not disabled is said so, with 0.
    Enable(UserNameArgs),
}

#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// The user's name, as `orch users list` shows it.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct UsersAddArgs {
    /// The user's name, as decisions record it (`approver`) and as a trusted proxy's header
    /// names it.
    #[arg(value_parser = parse_identity_name)]
    pub name: String,
    /// A group the user is in; repeat for several.
    #[arg(long = "group", value_name = "G", value_parser = parse_identity_name)]
    pub groups: Vec<String>,
    /// Print the added user as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token for a user and print it, once: only its SHA-256 is stored.
    ///
    /// Exit status: 4 for an unknown user.
    Create(TokensCreateArgs),
    /// List tokens: id, user, scope, created, expires, revoked, last used. Never the token.
    List(JsonArgs),
    /// Revoke a token: the next request with it gets 401.
    ///
    /// Exit status: 4 for an unknown id. A token revoked already is said so, with 0.
    Revoke(TokensRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokensCreateArgs {
    /// The user the token acts as.
    #[arg(long)]
    pub user: String,
    /// How long it is valid: `90d`, `12h`, or `never`.
    #[arg(long, default_value = "90d", value_parser = parse_expiry)]
    pub expires: Expiry,
    /// What it may do: `read` (GET), `decide` (also approve and reject), `admin` (also create
    /// and update task rows).
    #[arg(long, value_enum, default_value_t = crate::scope::Scope::Decide)]
    pub scope: crate::scope::Scope,
    /// Print the token and its row as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--expires`: a duration, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    After(std::time::Duration),
    Never,
}

/// A user's or group's name: what a proxy header or `approver` holds, so an e-mail address
/// is fine, but not blanks, commas, control characters, `orch` (orch's own decisions), or
/// `admin` (the admin token's name: a user so named could not be told from it).
fn parse_identity_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 254 {
        return Err("a name has 1 to 254 characters".to_owned());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a name has no spaces or control characters".to_owned());
    }
    if s.contains(',') {
        // Several approvers are recorded joined by `, `.
        return Err("a name has no commas".to_owned());
    }
    if s == crate::identity::principal::ADMIN_NAME {
        return Err(format!(
            "`{s}` is the admin token's name in decisions: choose another"
        ));
    }
    if s == crate::store::transition::ORCH_DECIDER {
        return Err(format!(
            "`{s}` is the name orch decides under (an approval timeout): choose another"
        ));
    }
    Ok(s.to_owned())
}

fn parse_expiry(s: &str) -> Result<Expiry, String> {
    if s == "never" {
        return Ok(Expiry::Never);
    }
    // A token that is dead at birth, or whose end overflows the calendar, is a typo.
    const LONGEST: std::time::Duration = std::time::Duration::from_secs(100 * 366 * 86_400);
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("{e}: use a duration such as `90d` or `12h`, or `never`"))?;
    if d.as_secs() == 0 {
        return Err("a token must live at least a second: use e.g. `90d`, or `never`".to_owned());
    }
    if d > LONGEST {
        return Err("at most 100 years: for a token that never expires, say `never`".to_owned());
    }
    Ok(Expiry::After(d))
}

#[derive(Debug, Args)]
pub struct TokensRevokeArgs {
    /// The token's id (see `orch tokens list`).
    pub id: i64,
}
