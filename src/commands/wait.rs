//! `orch wait ID [--until done|decided] [--timeout D]`: read the database every `--interval`
//! until a run has ended, or a task has ended or had its gate decided, and exit with its
//! code. Nothing is taken or changed: the driver may be anywhere, the decision from anyone.

use std::time::Instant;

use sea_orm::EntityTrait;

use crate::cli::{Until, WaitArgs};
use crate::error::{Error, Result, code};
use crate::store::query::{find_task, run_tasks};
use crate::store::run_end::{exit_code, is_over};
use crate::store::{ApprovalState, Store, TaskStatus, agents_run, agents_task};

/// What is waited for.
enum Target {
    Run(String),
    Task(i64),
}

pub async fn run(store: &Store, args: WaitArgs) -> Result<i32> {
    let target = target(store, &args.id).await?;
    if let (Target::Run(run_id), Until::Decided) = (&target, args.until) {
        return Err(Error::DecidedNeedsTask {
            run_id: run_id.clone(),
        });
    }
    let began = Instant::now();
    loop {
        let (done, still) = look(store, &target, args.until).await?;
        if let Some(code) = done {
            return Ok(code);
        }
        let waited = began.elapsed();
        if let Some(limit) = args.timeout {
            if waited >= limit {
                return Err(Error::WaitTimedOut {
                    waited: limit,
                    what: still,
                });
            }
            tokio::time::sleep(args.interval.min(limit - waited)).await;
        } else {
            tokio::time::sleep(args.interval).await;
        }
    }
}

/// A number is a task id when such a task exists; anything else names a run.
async fn target(store: &Store, id: &str) -> Result<Target> {
    if let Ok(n) = id.parse::<i64>()
        && find_task(&store.db, n).await?.is_some()
    {
        return Ok(Target::Task(n));
    }
    let record = agents_run::Entity::find_by_id(id.to_owned())
        .one(&store.db)
        .await
        .map_err(Error::db)?;
    if record.is_none() && run_tasks(&store.db, id).await?.is_empty() {
        return Err(Error::UnknownRun {
            run_id: id.to_owned(),
        });
    }
    Ok(Target::Run(id.to_owned()))
}

/// The exit code once what is waited for has happened; else what it still waits for.
async fn look(store: &Store, target: &Target, until: Until) -> Result<(Option<i32>, String)> {
    match target {
        Target::Run(run_id) => {
            let rows = run_tasks(&store.db, run_id).await?;
            if is_over(&rows) {
                let record = agents_run::Entity::find_by_id(run_id.clone())
                    .one(&store.db)
                    .await
                    .map_err(Error::db)?;
                return Ok((Some(exit_code(record.as_ref(), &rows)), String::new()));
            }
            Ok((None, still_in_run(run_id, &rows)))
        }
        Target::Task(id) => {
            let row = find_task(&store.db, *id)
                .await?
                .ok_or(Error::UnknownTask { id: *id })?;
            Ok((task_code(&row, until), still_task(&row, until)))
        }
    }
}

/// A task's code, once it is there: final (`done`), or its gate decided (`decided`).
fn task_code(row: &agents_task::Model, until: Until) -> Option<i32> {
    let decided = match row.approval_state {
        Some(ApprovalState::Approved) => Some(code::SUCCESS),
        Some(ApprovalState::Rejected) => Some(code::TASK_FAILED),
        _ => None,
    };
    let ended = match row.status {
        TaskStatus::Succeeded | TaskStatus::Skipped => Some(code::SUCCESS),
        TaskStatus::Failed => Some(code::TASK_FAILED),
        _ => None,
    };
    match until {
        Until::Decided => decided.or(ended),
        Until::Done => ended,
    }
}

fn still_in_run(run_id: &str, rows: &[agents_task::Model]) -> String {
    let count = |s: TaskStatus| rows.iter().filter(|r| r.status == s).count();
    format!(
        "run `{run_id}` has not ended ({} running, {} queued, {} awaiting approval)",
        count(TaskStatus::Running),
        count(TaskStatus::Queued),
        count(TaskStatus::AwaitingApproval)
    )
}

fn still_task(row: &agents_task::Model, until: Until) -> String {
    let what = match until {
        Until::Decided => "no decision yet",
        Until::Done => "not finished",
    };
    format!(
        "task {} `{}` (run {}) is `{}`: {what}",
        row.id, row.task, row.run_id, row.status
    )
}
