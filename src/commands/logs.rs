//! `orch logs ID [--follow]`: a task's log file, found through its run's recorded log folder.

use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;

use crate::cli::LogsArgs;
use crate::error::{Error, Result, code};
use crate::runner::process::recorded_log_path;
use crate::store::Store;
use crate::store::query::get_task;

const POLL: Duration = Duration::from_millis(250);

pub async fn run(store: &Store, args: LogsArgs) -> Result<i32> {
    let task = get_task(&store.db, args.id).await?;
    let path = recorded_log_path(&store.db, &task.run_id, &task.task).await?;
    if task.started_at.is_none() {
        return Err(Error::NoLogYet {
            id: args.id,
            status: task.status,
        });
    }
    // Every task that starts has its file made before its process (empty when it prints
    // nothing), so a missing file means the log was deleted or moved. The one window is a
    // row just marked running whose file is a moment away: wait for it while it runs.
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => Some(f),
        Err(_) if task.status == crate::store::TaskStatus::Running => None,
        Err(_) => return Err(missing(args.id, &path)),
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
                match &mut file {
                    Some(f) => copy_new(f, offset)?,
                    None => return Err(missing(args.id, &path)),
                };
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
    Ok(code::SUCCESS)
}

fn missing(id: i64, path: &std::path::Path) -> Error {
    Error::LogMissing {
        id,
        path: path.display().to_string(),
    }
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
