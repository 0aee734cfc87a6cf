//! `orch worker`: its options checked before the database is opened, then the loop
//! (`crate::worker`).

use crate::cli::WorkerArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::plan::is_valid_name;
use crate::store::connect::{Pool, Schema};
use crate::ui::Output;
use crate::worker::{WorkerSpec, work};

pub async fn run(config: &Config, args: WorkerArgs, _out: Output) -> Result<i32> {
    let spec = spec(args)?;
    let store = super::open_store(config, Schema::Migrate, Pool::Shared).await?;
    work(&store, config, spec).await
}

/// `--label KEY=VALUE` and `--queue NAME`, as the plan's `runs_on` and `--enqueue --queue`
/// write them.
fn spec(args: WorkerArgs) -> Result<WorkerSpec> {
    let mut labels: Vec<(String, String)> = Vec::new();
    for text in args.labels {
        let Some((key, value)) = text.split_once('=') else {
            return Err(Error::BadWorkerOption {
                text,
                why: "a label is KEY=VALUE, e.g. `--label gpu=a100`",
            });
        };
        if !is_valid_name(key) || !is_valid_name(value) {
            return Err(Error::BadWorkerOption {
                text: text.clone(),
                why: "label keys and values are letters, digits, `.`, `_` and `-`",
            });
        }
        labels.retain(|(k, _)| k != key);
        labels.push((key.to_owned(), value.to_owned()));
    }
    let mut queues = args.queues;
    if queues.is_empty() {
        queues.push("default".to_owned());
    }
    if let Some(bad) = queues.iter().find(|q| !is_valid_name(q)) {
        return Err(Error::BadWorkerOption {
            text: bad.clone(),
            why: "a queue name is letters, digits, `.`, `_` and `-`",
        });
    }
    Ok(WorkerSpec {
        slots: args.slots,
        labels,
        queues,
    })
}
