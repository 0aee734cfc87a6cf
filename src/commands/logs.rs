//! `orch logs ID [--follow]`: a task's log file, found through its run's recorded log folder.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use sea_orm::EntityTrait;

use crate::cli::LogsArgs;
use crate::error::{Error, Result, code};
use crate::runner::process::log_path;
use crate::store::query::get_task;
use crate::store::{Store, agents_run};

const DEFAULT_LOG_DIR: &str = ".orch/logs";
const POLL: Duration = Duration::from_millis(250);

pub async fn run(store: &Store, args: LogsArgs) -> Result<i32> {
    let task = get_task(&store.db, args.id).await?;
    let run = agents_run::Entity::find_by_id(task.run_id.clone())
        .one(&store.db)
        .await
        .map_err(Error::db)?;
    let dir = run
        .and_then(|r| r.log_dir)
        .map_or_else(|| PathBuf::from(DEFAULT_LOG_DIR), PathBuf::from);
    let path = log_path(&dir, &task.run_id, &task.task);
    if task.started_at.is_none() {
        return Err(Error::NoLogYet {
            id: args.id,
            status: task.status,
        });
    }
    // The run's folder without the file: the task has printed nothing (yet); a task that
    // prints nothing leaves no file.
    let quiet = |e: &std::io::Error| {
        e.kind() == std::io::ErrorKind::NotFound && path.parent().is_some_and(|d| d.is_dir())
    };
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if quiet(&e) => None,
        Err(_) => {
            return Err(Error::LogMissing {
                id: args.id,
                path: path.display().to_string(),
            });
        }
    };
    let mut offset = match &mut file {
        Some(f) => copy_new(f, 0)?,
        None => 0,
    };
    if args.follow {
        loop {
            let row = get_task(&store.db, args.id).await?;
            if file.is_none() {
                file = std::fs::File::open(&path).ok();
            }
            if let Some(f) = &mut file {
                offset = copy_new(f, offset)?;
            }
            if row.status.is_final() || row.status == crate::store::TaskStatus::AwaitingApproval {
                // One last read: the runner writes the log before it records the end.
                if file.is_none() {
                    file = std::fs::File::open(&path).ok();
                }
                if let Some(f) = &mut file {
                    copy_new(f, offset)?;
                }
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(code::SUCCESS)
}

/// Streams the bytes after `from` to stdout (never the whole log in memory); returns the
/// new end.
fn copy_new(file: &mut std::fs::File, from: u64) -> Result<u64> {
    file.seek(SeekFrom::Start(from))
        .map_err(|source| Error::Io {
            context: "cannot read the log".to_owned(),
            source,
        })?;
    let mut out = std::io::stdout().lock();
    // A broken pipe surfaces as an io error that `main` turns into a quiet exit 0.
    let n = std::io::copy(file, &mut out)?;
    out.flush()?;
    Ok(from + n)
}
