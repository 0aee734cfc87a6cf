//! `orch retry RUN_ID [--task T]…`: queue a run's failed and cancelled tasks again (with
//! their dependents) as new attempts, then drive the run as `orch resume` does.

use super::resume::{Retry, drive};
use crate::cli::RetryArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::ui::Output;

pub async fn run(store: &Store, config: &Config, args: RetryArgs, out: Output) -> Result<i32> {
    // The retrier is who runs this command, as for `orch approve`.
    let by = config.user.trim().to_owned();
    if by.is_empty() {
        return Err(Error::EmptyDecider);
    }
    let retry = Retry {
        tasks: args.tasks,
        by,
    };
    drive(
        store,
        config,
        &args.run_id,
        args.concurrency,
        args.json,
        out,
        Some(retry),
    )
    .await
}
