//! The command line, as clap types only: no logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::store::TaskStatus;

pub const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    a task failed (rejections included)
  2    usage or plan error
  3    database unreachable, or its schema is newer than this orch
  4    unknown task, run or delivery id
  5    conflict: the task is not awaiting a decision, someone decided first (or its
       approval_timeout passed), or another orch is driving the run or plan
  6    a notification could not be delivered (`orch notify test`, `orch notify retry`)
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)";

/// Run nightly automation plans and record every task in a database.
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
    Run(RunArgs),
    /// Go on with a recorded run after decisions: run what an approval let through, skip
    /// what a rejection stopped. Uses the plan text saved with the run, not the file.
    Resume(ResumeArgs),
    /// Check plan files without running them or touching the database.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Print a task's log.
    Logs(LogsArgs),
    /// List and show recorded tasks.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// List and show runs with their counts per status.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Approve a task awaiting approval: it becomes `succeeded`.
    Approve(DecideArgs),
    /// Reject a task awaiting approval: it becomes `failed`.
    Reject(DecideArgs),
    /// Serve the REST API over the same database.
    Serve(ServeArgs),
    /// Webhook notifications: list deliveries, send undelivered ones again, send a test.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Delete runs older than a bound: their rows, delivery records and log folders.
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
    #[arg(long)]
    pub run_id: Option<String>,
    /// Run only these tasks (repeat the flag or separate with commas).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub only: Vec<String>,
    /// With `--only`: also run what those tasks depend on, transitively.
    #[arg(long, requires = "only")]
    pub with_deps: bool,
    /// At most this many tasks at once (overrides the plan's `concurrency`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Where task logs go: `<DIR>/<run_id>/<task>.log`.
    #[arg(long, default_value = ".orch/logs")]
    pub log_dir: PathBuf,
    /// Print what would run (argv, cwd, env with secrets masked) and write nothing.
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
pub struct ServeArgs {
    /// Address to listen on. Beyond loopback a token is required.
    #[arg(long, default_value = "127.0.0.1:8001")]
    pub bind: std::net::SocketAddr,
    /// A file holding the API token (instead of `ORCH_API_TOKEN`).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Validate a plan: syntax, keys, names, regexes, variables.
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
    Show(ShowTaskArgs),
}

#[derive(Debug, Args)]
pub struct TasksListArgs {
    /// Only tasks in this status.
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
    #[arg(long)]
    pub by: Option<String>,
    /// Why; recorded with the decision.
    #[arg(long)]
    pub note: Option<String>,
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
    Retry {
        /// Only this delivery (also one the receiver refused).
        #[arg(long)]
        id: Option<i64>,
    },
    /// Send a test message to `SLACK_WEBHOOK` and/or `EMAIL_WEBHOOK` and print the answer.
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
        #[arg(long)]
        json: bool,
    },
    /// Roll back every orch migration and apply them again (empties orch's tables).
    Fresh {
        /// Confirm that every row may be deleted.
        #[arg(long)]
        yes: bool,
    },
}

fn parse_status(s: &str) -> Result<TaskStatus, String> {
    s.parse()
}
