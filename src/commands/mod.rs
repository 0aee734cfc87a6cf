//! One file per subcommand; `dispatch` builds the configuration once ([`Config`]) and hands
//! each command what it needs. Every command returns the process exit code (or an error that carries one).

mod approvals;
mod cancel;
mod decide;
mod logs;
mod metrics;
mod migrate;
mod notify;
mod plan;
mod prune;
mod resume;
mod retry;
mod run;
mod runs;
mod serve;
mod shell_help;
mod tasks;
mod tokens;
mod users;
mod wait;
mod worker;
mod workers;

use crate::cli::{Cli, Command, NotifyCommand};
use crate::config::Config;
use crate::error::Result;
use crate::store::connect::{Pool, Schema};
use crate::store::outage::Outage;
use crate::store::{Store, open_limited};
use crate::ui::Output;

pub async fn dispatch(cli: Cli) -> Result<i32> {
    let out = Output::stdout();
    match cli.command {
        // Generated from the clap definitions: no configuration, no database.
        Command::Completions { shell } => return shell_help::completions(shell, out),
        Command::Man => return shell_help::man(out),
        _ => {}
    }
    // The one read of the environment: everything below gets what it needs from here.
    let config = Config::from_process(cli.database_url)?;
    if let Command::Plan(cmd) = cli.command {
        // Validation never writes to the database; it reads one only when one is named.
        return plan::run(&config, cmd, out).await;
    }
    if let Command::Notify(NotifyCommand::Test { slack, email }) = cli.command {
        // A test message needs only the webhook URLs.
        return notify::test(&config, slack, email, out).await;
    }
    // Named in the errors that need it (a full database says where it lives).
    let target = config
        .database()
        .map(|t| t.display_url())
        .unwrap_or_default();
    let result = match cli.command {
        // The database is opened only once the plan is known to be good.
        Command::Run(args) => run::run(&config, args, out).await,
        // Refuses an unsafe bind before touching the database.
        Command::Serve(args) => serve::run(config, args).await,
        // Checks its options before touching the database.
        Command::Worker(args) => worker::run(&config, args, out).await,
        Command::Migrate(cmd) => {
            let store = open_store(&config, Schema::AsIs, Pool::Single).await?;
            migrate::run(&store, cmd, out).await
        }
        command => {
            // Listings and lookups: one connection. What may run tasks or send: a few.
            let pool = match &command {
                Command::Tasks(_)
                | Command::Runs(_)
                | Command::Logs(_)
                | Command::Metrics
                | Command::Prune(_)
                | Command::Users(_)
                | Command::Tokens(_)
                | Command::Workers(_)
                | Command::Wait(_) => Pool::Single,
                _ => Pool::Shared,
            };
            let store = open_store(&config, Schema::Migrate, pool).await?;
            let config = &config;
            match command {
                Command::Tasks(cmd) => tasks::run(&store, cmd, out).await,
                Command::Runs(cmd) => runs::run(&store, config, cmd, out).await,
                Command::Approve(args) => decide::run(&store, config, args, true, out).await,
                Command::Reject(args) => decide::run(&store, config, args, false, out).await,
                Command::Logs(args) => logs::run(&store, args).await,
                Command::Metrics => metrics::run(&store, out).await,
                Command::Approvals(cmd) => approvals::run(&store, config, cmd, out).await,
                Command::Resume(args) => {
                    let (id, concurrency) = (&args.run_id, args.concurrency);
                    resume::run(&store, config, id, concurrency, args.json, out).await
                }
                Command::Cancel(args) => cancel::run(&store, config, &args.run_id, out).await,
                Command::Retry(args) => retry::run(&store, config, args, out).await,
                Command::Wait(args) => wait::run(&store, args).await,
                Command::Notify(cmd) => notify::run(&store, config, cmd, out).await,
                Command::Prune(args) => prune::run(&store, args, out).await,
                Command::Users(cmd) => users::run(&store, cmd, out).await,
                Command::Tokens(cmd) => tokens::run(&store, cmd, out).await,
                Command::Workers(cmd) => workers::run(&store, config, cmd, out).await,
                Command::Run(_)
                | Command::Worker(_)
                | Command::Plan(_)
                | Command::Migrate(_)
                | Command::Serve(_)
                | Command::Completions { .. }
                | Command::Man => {
                    unreachable!("handled above")
                }
            }
        }
    };
    result.map_err(|e| e.at_database(&target))
}

/// Opens the database the configuration names; its writes during a drive ride out an
/// outage for the configured bound.
pub(crate) async fn open_store(config: &Config, schema: Schema, pool: Pool) -> Result<Store> {
    let mut store =
        open_limited(&config.database()?, schema, pool, config.sqlite_max_pages).await?;
    store.outage = Outage {
        bound: config.timing.outage,
    };
    Ok(store)
}
