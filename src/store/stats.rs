//! Reads for the metrics (`crate::metrics`): counts by status, the oldest pending row, the
//! last success and last duration per plan and task. The counts and the per-plan values come
//! from the summaries that triggers keep in the transaction of every change (migration 18), not
//! from `agents_tasks`: a scrape reads a few small tables however many rows there are. On
//! PostgreSQL a summary is its table plus the deltas not folded into it yet, read in one
//! statement (one snapshot). Nothing here writes.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement};

use crate::error::{Error, Result};

/// At most this many plan and task pairs per family: labels stay bounded even when something
/// records task names without end (the API accepts any name).
pub const MAX_PLAN_TASKS: u64 = 1000;

async fn rows(db: &impl ConnectionTrait, sql: &str) -> Result<Vec<QueryResult>> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(Error::db)
}

fn get<T: sea_orm::TryGetable>(row: &QueryResult, i: usize) -> Result<T> {
    row.try_get_by_index(i).map_err(Error::db)
}

fn pairs(found: Vec<QueryResult>) -> Result<Vec<(String, i64)>> {
    found.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
}

/// How many tasks are in each status (a status without a task is absent or reads 0).
pub async fn tasks_by_status(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>> {
    let sql = match db.get_database_backend() {
        // `SUM` of bigints is numeric in PostgreSQL: cast back to read an i64.
        DbBackend::Postgres => {
            "SELECT status, CAST(SUM(n) AS BIGINT) FROM (\
             SELECT status, count AS n FROM orch_task_status_counts \
             UNION ALL SELECT status, delta FROM orch_task_status_deltas) c GROUP BY status"
        }
        _ => "SELECT status, count FROM orch_task_status_counts",
    };
    pairs(rows(db, sql).await?)
}

/// How many webhook deliveries are in each state (a small table: counted at each scrape).
pub async fn deliveries_by_state(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>> {
    pairs(
        rows(
            db,
            "SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status",
        )
        .await?,
    )
}

/// The per-plan summary rows as one relation `s (plan, task, last_success_at,
/// last_finished_id, last_duration_ms, seq)`, `seq` ordering the values of one pair by age (the
/// folded row first, then PostgreSQL's deltas as appended).
fn summaries(db: &impl ConnectionTrait) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            "(SELECT plan, task, last_success_at, last_finished_id, last_duration_ms, 0 AS seq \
             FROM orch_task_summaries UNION ALL \
             SELECT plan, task, last_success_at, last_finished_id, last_duration_ms, id \
             FROM orch_task_summary_deltas) s"
        }
        _ => {
            "(SELECT plan, task, last_success_at, last_finished_id, last_duration_ms, 0 AS seq \
             FROM orch_task_summaries) s"
        }
    }
}

/// How many tasks await a decision, and since when the oldest has (the time it started
/// waiting: its command's end, or its start for a gate without one, as the inbox shows).
pub async fn pending_approvals(db: &impl ConnectionTrait) -> Result<(i64, Option<DateTime<Utc>>)> {
    let found = rows(
        db,
        "SELECT COUNT(*), MIN(COALESCE(finished_at, started_at)) FROM agents_tasks \
         WHERE status = 'awaiting_approval'",
    )
    .await?;
    match found.first() {
        Some(r) => Ok((get(r, 0)?, get(r, 1)?)),
        None => Ok((0, None)),
    }
}

/// When the oldest delivery that is not delivered (pending or refused) was recorded.
pub async fn oldest_undelivered(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>> {
    let found = rows(
        db,
        "SELECT MIN(created_at) FROM webhook_deliveries WHERE status <> 'delivered'",
    )
    .await?;
    match found.first() {
        Some(r) => get(r, 0),
        None => Ok(None),
    }
}

/// Per plan and task (tasks of runs orch recorded from a plan), when it last succeeded, even
/// if `orch prune` has since deleted that row.
pub async fn last_successes(
    db: &impl ConnectionTrait,
) -> Result<Vec<(String, String, DateTime<Utc>)>> {
    let sql = format!(
        "SELECT plan, task, MAX(last_success_at) FROM {} \
         WHERE last_success_at IS NOT NULL \
         GROUP BY plan, task ORDER BY plan, task LIMIT {MAX_PLAN_TASKS}",
        summaries(db)
    );
    rows(db, &sql)
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
        .collect()
}

/// Per plan and task, how long its latest recorded finished row took (whatever its outcome),
/// in milliseconds, even if pruned since. The latest is the highest id (rows are recorded when
/// their run starts); a row run again (`orch retry`) keeps its id, and its last end counts.
pub async fn last_durations(db: &impl ConnectionTrait) -> Result<Vec<(String, String, i64)>> {
    let sql = format!(
        "SELECT plan, task, last_duration_ms FROM (SELECT plan, task, last_duration_ms, \
         ROW_NUMBER() OVER (PARTITION BY plan, task ORDER BY last_finished_id DESC, seq DESC) \
         AS n FROM {} WHERE last_finished_id IS NOT NULL) l \
         WHERE n = 1 ORDER BY plan, task LIMIT {MAX_PLAN_TASKS}",
        summaries(db)
    );
    rows(db, &sql)
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
        .collect()
}

/// Per plan, task and final status, how many times a task ended so
/// (`orch_task_transition_counts`, kept by a trigger and never pruned).
pub async fn transition_counts(
    db: &impl ConnectionTrait,
) -> Result<Vec<(String, String, String, i64)>> {
    // Three final statuses per pair: the same bound on pairs as the other families.
    let sql = format!(
        "SELECT plan, task, status, count FROM orch_task_transition_counts \
         ORDER BY plan, task, status LIMIT {}",
        3 * MAX_PLAN_TASKS
    );
    rows(db, &sql)
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?)))
        .collect()
}
