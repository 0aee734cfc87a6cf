//! Grouped reads for the metrics (`crate::metrics`): counts by status, the oldest pending row,
//! the last success and last duration per plan and task. Each is one grouped query, so a
//! scrape costs the same few statements however many rows there are; nothing here writes.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult, Statement};

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

/// `(value, count)` of `column` in `table`, one row per value present.
async fn counts(
    db: &impl ConnectionTrait,
    table: &str,
    column: &str,
) -> Result<Vec<(String, i64)>> {
    let sql = format!("SELECT {column}, COUNT(*) FROM {table} GROUP BY {column}");
    rows(db, &sql)
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
        .collect()
}

/// How many tasks are in each status (statuses without a task are absent).
pub async fn tasks_by_status(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>> {
    counts(db, "agents_tasks", "status").await
}

/// How many webhook deliveries are in each state.
pub async fn deliveries_by_state(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>> {
    counts(db, "webhook_deliveries", "status").await
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

/// Per plan and task (tasks of runs orch recorded from a plan), when it last succeeded.
pub async fn last_successes(
    db: &impl ConnectionTrait,
) -> Result<Vec<(String, String, DateTime<Utc>)>> {
    let sql = format!(
        "SELECT r.plan_name, t.task, MAX(t.finished_at) FROM agents_tasks t \
         JOIN agents_runs r ON r.run_id = t.run_id \
         WHERE t.status = 'succeeded' AND t.finished_at IS NOT NULL \
         GROUP BY r.plan_name, t.task ORDER BY r.plan_name, t.task LIMIT {MAX_PLAN_TASKS}"
    );
    rows(db, &sql)
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?, get(r, 2)?)))
        .collect()
}

/// Per plan and task, how long its latest recorded finished row took (whatever its outcome),
/// in milliseconds. The latest is the highest id: rows are recorded when their run starts.
pub async fn last_durations(db: &impl ConnectionTrait) -> Result<Vec<(String, String, i64)>> {
    let sql = format!(
        "SELECT r.plan_name, t.task, t.duration_ms FROM agents_tasks t \
         JOIN agents_runs r ON r.run_id = t.run_id \
         WHERE t.id IN (SELECT MAX(l.id) FROM agents_tasks l \
           JOIN agents_runs lr ON lr.run_id = l.run_id \
           WHERE l.duration_ms IS NOT NULL AND l.finished_at IS NOT NULL \
           GROUP BY lr.plan_name, l.task) \
         ORDER BY r.plan_name, t.task LIMIT {MAX_PLAN_TASKS}"
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
