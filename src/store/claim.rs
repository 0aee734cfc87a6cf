//! A worker's claim: one statement that moves the oldest ready task it may take from
//! `queued` to `running`, with the worker as owner and the claim's fencing token raised.
//!
//! Ready means `ready_at` is set (whoever ended the task's last dependency judged it with the
//! runner's readiness rules, `runner::advance`; a trigger clears it when the task leaves
//! `queued`, so the claim's candidate needs no status condition and the planner estimates the
//! ready rows from one column), on a run enqueued on one of the worker's
//! queues, not cancelled, with room under its `concurrency`, and the worker has every label
//! the task's `runs_on` names.
//!
//! A run's `concurrency`, when it is fewer than its tasks, is held by its rows in
//! `orch_run_slots`, one per place: a claim takes a free one with the task, and a trigger
//! frees it when the task leaves `running`. A run whose concurrency does not bind has no
//! slot rows, and its claims touch nothing but the task.
//!
//! PostgreSQL: the candidate task and then a free slot of its run are locked `FOR UPDATE
//! SKIP LOCKED`, so claimers never wait on each other; a slot another claimer took and
//! committed meanwhile is re-checked on its newest version and passed over, so two claimers
//! cannot both take the run's last place. SQLite has one writer at a time, so one `UPDATE …
//! WHERE id = (SELECT …)` is exact by itself, and a trigger gives the task its slot.
//!
//! Both read ready rows through the partial index `ix_agents_tasks_ready`, oldest first,
//! stopping at the first one that qualifies: finished rows, however many, are not looked at
//! (docs/WORKERS.md shows the plan). The run's conditions are a correlated scalar subquery
//! per candidate on purpose: written as a join, PostgreSQL drove the query from
//! `agents_runs` through `ix_agents_tasks_run_id` (every row of the run, finished ones too)
//! and sorted what was ready, because it multiplies the selectivity of "ready" and "of this
//! run", which are the same fact; a scalar subquery cannot be turned into that join.

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::error::{Error, Result};
use crate::store::{agents_task, now};

/// Who claims, and what they may take.
pub struct Claimer<'a> {
    /// The worker's owner id (`host:pid:random`), written on the rows it claims.
    pub owner: &'a str,
    /// The queues it takes runs from.
    pub queues: &'a [String],
    /// Its labels, `runs_on` is matched against.
    pub labels: &'a [(String, String)],
}

const POSTGRES: &str = "WITH candidate AS ( \
       SELECT t.id, t.run_id, \
         EXISTS (SELECT 1 FROM orch_run_slots s WHERE s.run_id = t.run_id) AS limited \
       FROM agents_tasks t \
       WHERE t.ready_at IS NOT NULL \
         AND (SELECT r.queue FROM agents_runs r \
           WHERE r.run_id = t.run_id AND r.cancel_requested_at IS NULL) \
           IN (SELECT jsonb_array_elements_text($3::jsonb)) \
         AND (NOT EXISTS (SELECT 1 FROM orch_run_slots s WHERE s.run_id = t.run_id) \
           OR EXISTS (SELECT 1 FROM orch_run_slots s \
             WHERE s.run_id = t.run_id AND s.task_id IS NULL)) \
         AND (t.runs_on IS NULL OR t.runs_on::jsonb <@ $4::jsonb) \
       ORDER BY t.ready_at, t.id LIMIT 1 \
       FOR UPDATE OF t SKIP LOCKED), \
     slot AS ( \
       SELECT s.run_id, s.slot FROM orch_run_slots s \
       WHERE s.run_id = (SELECT run_id FROM candidate WHERE limited) AND s.task_id IS NULL \
       ORDER BY s.slot LIMIT 1 FOR UPDATE SKIP LOCKED), \
     taken AS ( \
       UPDATE orch_run_slots s SET task_id = (SELECT id FROM candidate) FROM slot \
       WHERE s.run_id = slot.run_id AND s.slot = slot.slot RETURNING s.task_id) \
     UPDATE agents_tasks t SET status = 'running', owner = $1, claim = t.claim + 1, \
       ready_at = NULL, started_at = $2, heartbeat_at = CURRENT_TIMESTAMP \
     WHERE t.status = 'queued' AND t.id = COALESCE((SELECT task_id FROM taken), \
       (SELECT id FROM candidate WHERE NOT limited)) \
     RETURNING t.*";

const SQLITE: &str = "UPDATE agents_tasks SET status = 'running', owner = ?1, \
       claim = claim + 1, ready_at = NULL, started_at = ?2, \
       heartbeat_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') \
     WHERE status = 'queued' AND id = ( \
       SELECT t.id FROM agents_tasks t JOIN agents_runs r ON r.run_id = t.run_id \
       WHERE t.ready_at IS NOT NULL \
         AND r.queue IN (SELECT value FROM json_each(?3)) \
         AND r.cancel_requested_at IS NULL \
         AND (NOT EXISTS (SELECT 1 FROM orch_run_slots s WHERE s.run_id = t.run_id) \
           OR EXISTS (SELECT 1 FROM orch_run_slots s \
             WHERE s.run_id = t.run_id AND s.task_id IS NULL)) \
         AND (t.runs_on IS NULL OR NOT EXISTS ( \
           SELECT 1 FROM json_each(t.runs_on) j \
           WHERE json_extract(?4, '$.\"' || j.key || '\"') IS NOT j.value)) \
       ORDER BY t.ready_at, t.id LIMIT 1) \
     RETURNING *";

/// Claims one ready task for `by`: the row as it now is (`running`, owned, its `claim`
/// raised), or `None` when there is nothing it may take.
pub async fn claim(
    db: &impl ConnectionTrait,
    by: &Claimer<'_>,
) -> Result<Option<agents_task::Model>> {
    let backend = db.get_database_backend();
    let queues = serde_json::to_string(by.queues).unwrap_or_else(|_| "[]".to_owned());
    let labels: serde_json::Map<String, serde_json::Value> = by
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let labels = serde_json::Value::Object(labels).to_string();
    let sql = match backend {
        DbBackend::Postgres => POSTGRES,
        _ => SQLITE,
    };
    let values: Vec<sea_orm::Value> =
        vec![by.owner.into(), now().into(), queues.into(), labels.into()];
    let statement = Statement::from_sql_and_values(backend, sql, values);
    agents_task::Model::find_by_statement(statement)
        .one(db)
        .await
        .map_err(Error::db)
}

/// Whether the claim on `row` still holds: its heartbeat stamped again, by its owner and
/// token, while it is `running`. A claim whose answer came back late (the connection stalled)
/// may have been judged lost and taken meanwhile; the worker asks this before it starts it.
pub async fn confirm(db: &impl ConnectionTrait, row: &agents_task::Model) -> Result<bool> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let backend = db.get_database_backend();
    let done = agents_task::Entity::update_many()
        .col_expr(
            agents_task::Column::HeartbeatAt,
            crate::store::clock::db_now(backend),
        )
        .filter(agents_task::Column::Id.eq(row.id))
        .filter(agents_task::Column::Owner.eq(row.owner.clone()))
        .filter(agents_task::Column::Claim.eq(row.claim))
        .filter(agents_task::Column::Status.eq(crate::store::TaskStatus::Running))
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(done.rows_affected == 1)
}

/// The plan PostgreSQL chooses for the claim, as `EXPLAIN` prints it (for the docs and the
/// test that no claim scans the table).
pub async fn explain(db: &impl ConnectionTrait, by: &Claimer<'_>) -> Result<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!("EXPLAIN {POSTGRES}"),
        _ => format!("EXPLAIN QUERY PLAN {SQLITE}"),
    };
    let values: Vec<sea_orm::Value> = vec![
        by.owner.into(),
        now().into(),
        serde_json::to_string(by.queues).unwrap_or_default().into(),
        "{}".into(),
    ];
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .map_err(Error::db)?;
    let mut plan = String::new();
    for row in rows {
        let line: String = match backend {
            DbBackend::Postgres => row.try_get_by_index(0),
            _ => row.try_get("", "detail"),
        }
        .map_err(Error::db)?;
        plan.push_str(&line);
        plan.push('\n');
    }
    Ok(plan)
}
