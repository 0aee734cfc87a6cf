//! One file per subcommand; `dispatch` resolves the configuration once and hands each command
//! what it needs. Every command returns the process exit code (or an error that carries one).

mod decide;
pub(crate) mod housekeeping;
mod logs;
mod migrate;
mod notify;
mod plan;
mod prune;
mod resume;
mod run;
mod runs;
mod serve;
mod shell_help;
mod tasks;

use crate::cli::{Cli, Command, NotifyCommand};
use crate::config::DatabaseTarget;
use crate::error::Result;
use crate::store::connect::{Pool, Schema, open};
use crate::ui::Output;

pub async fn dispatch(cli: Cli) -> Result<i32> {
    let out = Output::stdout();
    match cli.command {
        // Generated from the clap definitions: no configuration, no database.
        Command::Completions { shell } => return shell_help::completions(shell, out),
        Command::Man => return shell_help::man(out),
        _ => {}
    }
    if let Command::Plan(cmd) = cli.command {
        // Validation never touches the database, so its configuration does not matter.
        return plan::run(cmd, out);
    }
    if let Command::Notify(NotifyCommand::Test { slack, email }) = cli.command {
        // A test message needs only the webhook URLs.
        return notify::test(slack, email, out).await;
    }
    let target = DatabaseTarget::resolve(cli.database_url.as_deref())?;
    match cli.command {
        // The database is opened only once the plan is known to be good.
        Command::Run(args) => run::run(&target, args, out).await,
        // Refuses an unsafe bind before touching the database.
        Command::Serve(args) => serve::run(&target, args).await,
        Command::Migrate(cmd) => {
            let store = open(&target, Schema::AsIs, Pool::Single).await?;
            migrate::run(&store, cmd, out).await
        }
        command => {
            // Listings and lookups: one connection. What may run tasks or send: a few.
            let pool = match &command {
                Command::Tasks(_) | Command::Runs(_) | Command::Logs(_) | Command::Prune(_) => {
                    Pool::Single
                }
                _ => Pool::Shared,
            };
            let store = open(&target, Schema::Migrate, pool).await?;
            match command {
                Command::Tasks(cmd) => tasks::run(&store, cmd, out).await,
                Command::Runs(cmd) => runs::run(&store, cmd, out).await,
                Command::Approve(args) => decide::run(&store, args, true, out).await,
                Command::Reject(args) => decide::run(&store, args, false, out).await,
                Command::Logs(args) => logs::run(&store, args).await,
                Command::Resume(args) => {
                    resume::run(&store, &args.run_id, args.concurrency, args.json, out).await
                }
                Command::Notify(cmd) => notify::run(&store, cmd, out).await,
                Command::Prune(args) => prune::run(&store, args, out).await,
                Command::Run(_)
                | Command::Plan(_)
                | Command::Migrate(_)
                | Command::Serve(_)
                | Command::Completions { .. }
                | Command::Man => {
                    unreachable!("handled above")
                }
            }
        }
    }
}
