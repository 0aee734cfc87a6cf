//! Reads: listing and showing tasks and runs. Nothing here writes.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, Func},
};

use crate::error::{Error, Result};
use crate::status::TaskStatus;
use crate::store::{agents_run, agents_task};

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 1000;

/// Filters for `orch tasks list` (and `GET /agents/tasks/`).
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub run_id: Option<String>,
    pub task: Option<String>,
    pub limit: Option<u64>,
}

/// Tasks matching `filter`, newest (highest id) first.
pub async fn list_tasks(
    db: &impl ConnectionTrait,
    filter: &TaskFilter,
) -> Result<Vec<agents_task::Model>> {
    let mut q = agents_task::Entity::find();
    if let Some(s) = filter.status {
        q = q.filter(agents_task::Column::Status.eq(s));
    }
    if let Some(r) = &filter.run_id {
        q = q.filter(agents_task::Column::RunId.eq(r.as_str()));
    }
    if let Some(t) = &filter.task {
        q = q.filter(agents_task::Column::Task.eq(t.as_str()));
    }
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    q.order_by_desc(agents_task::Column::Id)
        .limit(limit)
        .all(db)
        .await
        .map_err(Error::db)
}

pub async fn find_task(db: &impl ConnectionTrait, id: i64) -> Result<Option<agents_task::Model>> {
    agents_task::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(Error::db)
}

/// The row of task `task` in run `run_id`, if there is one.
pub async fn find_in_run(
    db: &impl ConnectionTrait,
    run_id: &str,
    task: &str,
) -> Result<Option<agents_task::Model>> {
    agents_task::Entity::find()
        .filter(agents_task::Column::RunId.eq(run_id))
        .filter(agents_task::Column::Task.eq(task))
        .one(db)
        .await
        .map_err(Error::db)
}

/// The task, or exit 4 naming the id.
pub async fn get_task(db: &impl ConnectionTrait, id: i64) -> Result<agents_task::Model> {
    find_task(db, id).await?.ok_or(Error::UnknownTask { id })
}

/// A run as people see it: its record (absent for rows written by other tools), when its
/// tasks started and finished, and how many tasks are in each status.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub run_id: String,
    pub record: Option<agents_run::Model>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: BTreeMap<TaskStatus, i64>,
}

impl RunSummary {
    pub fn count(&self, status: TaskStatus) -> i64 {
        self.counts.get(&status).copied().unwrap_or(0)
    }

    pub fn total(&self) -> i64 {
        self.counts.values().sum()
    }
}

type CountRow = (
    String,
    TaskStatus,
    i64,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

async fn count_rows(
    db: &impl ConnectionTrait,
    run_ids: Option<&[String]>,
) -> Result<Vec<CountRow>> {
    use agents_task::Column as C;
    let mut q = agents_task::Entity::find()
        .select_only()
        .column(C::RunId)
        .column(C::Status)
        .column_as(Expr::from(Func::count(Expr::col(C::Id))), "n")
        .column_as(
            Expr::from(Func::min(Expr::col(C::StartedAt))),
            "first_started",
        )
        .column_as(
            Expr::from(Func::max(Expr::col(C::FinishedAt))),
            "last_finished",
        )
        .group_by(C::RunId)
        .group_by(C::Status);
    if let Some(ids) = run_ids {
        q = q.filter(C::RunId.is_in(ids.iter().cloned()));
    }
    q.into_tuple::<CountRow>().all(db).await.map_err(Error::db)
}

fn summarise(rows: Vec<CountRow>, records: Vec<agents_run::Model>) -> Vec<RunSummary> {
    let mut runs: HashMap<String, RunSummary> = HashMap::new();
    for rec in records {
        runs.insert(
            rec.run_id.clone(),
            RunSummary {
                run_id: rec.run_id.clone(),
                started_at: Some(rec.started_at),
                finished_at: rec.finished_at,
                record: Some(rec),
                counts: BTreeMap::new(),
            },
        );
    }
    for (run_id, status, n, first, last) in rows {
        let run = runs.entry(run_id.clone()).or_insert_with(|| RunSummary {
            run_id,
            record: None,
            started_at: None,
            finished_at: None,
            counts: BTreeMap::new(),
        });
        *run.counts.entry(status).or_default() += n;
        if run.record.is_none() {
            run.started_at = earliest(run.started_at, first);
            run.finished_at = latest(run.finished_at, last);
        }
    }
    let mut out: Vec<RunSummary> = runs.into_values().collect();
    // Newest first; runs that never started sort last, then by id for a stable order.
    out.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| b.run_id.cmp(&a.run_id))
    });
    out
}

/// One run's tasks at a glance: how many are in each status, the first start and the last
/// finish among them.
#[derive(Debug, Default)]
pub struct RunTally {
    pub counts: BTreeMap<TaskStatus, i64>,
    pub first_started: Option<DateTime<Utc>>,
    pub last_finished: Option<DateTime<Utc>>,
}

/// The tallies of the given runs (a page of them), in one grouped query over their tasks
/// (`WHERE run_id IN (...) GROUP BY run_id, status`); a run without tasks has no entry.
pub async fn tally_runs(
    db: &impl ConnectionTrait,
    run_ids: &[String],
) -> Result<HashMap<String, RunTally>> {
    let mut out: HashMap<String, RunTally> = HashMap::new();
    if run_ids.is_empty() {
        return Ok(out);
    }
    for (run_id, status, n, first, last) in count_rows(db, Some(run_ids)).await? {
        let t = out.entry(run_id).or_default();
        *t.counts.entry(status).or_default() += n;
        t.first_started = earliest(t.first_started, first);
        t.last_finished = latest(t.last_finished, last);
    }
    Ok(out)
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Every run, newest first, at most `limit`.
pub async fn list_runs(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<RunSummary>> {
    let rows = count_rows(db, None).await?;
    let records = agents_run::Entity::find()
        .all(db)
        .await
        .map_err(Error::db)?;
    let mut runs = summarise(rows, records);
    runs.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(runs)
}

/// One run, or exit 4 naming it.
pub async fn get_run(db: &impl ConnectionTrait, run_id: &str) -> Result<RunSummary> {
    let rows = count_rows(db, Some(&[run_id.to_owned()])).await?;
    let records = agents_run::Entity::find_by_id(run_id.to_owned())
        .all(db)
        .await
        .map_err(Error::db)?;
    summarise(rows, records)
        .into_iter()
        .next()
        .ok_or_else(|| Error::UnknownRun {
            run_id: run_id.to_owned(),
        })
}

/// The tasks of one run in the order they were recorded.
pub async fn run_tasks(db: &impl ConnectionTrait, run_id: &str) -> Result<Vec<agents_task::Model>> {
    agents_task::Entity::find()
        .filter(agents_task::Column::RunId.eq(run_id))
        .order_by_asc(agents_task::Column::Id)
        .all(db)
        .await
        .map_err(Error::db)
}

/// The rows of run `run_id` whose task names are among `names`, in id order.
pub async fn run_tasks_named(
    db: &impl ConnectionTrait,
    run_id: &str,
    names: &std::collections::HashSet<&str>,
) -> Result<Vec<agents_task::Model>> {
    agents_task::Entity::find()
        .filter(agents_task::Column::RunId.eq(run_id))
        .filter(agents_task::Column::Task.is_in(names.iter().copied()))
        .order_by_asc(agents_task::Column::Id)
        .all(db)
        .await
        .map_err(Error::db)
}

/// Whether a task of run `run_id` is still queued or running.
pub async fn run_has_unfinished(db: &impl ConnectionTrait, run_id: &str) -> Result<bool> {
    let found = agents_task::Entity::find()
        .select_only()
        .column(agents_task::Column::Id)
        .filter(agents_task::Column::RunId.eq(run_id))
        .filter(agents_task::Column::Status.is_in([TaskStatus::Queued, TaskStatus::Running]))
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await
        .map_err(Error::db)?;
    Ok(found.is_some())
}

/// The run of the same plan that started just before `run` (ties broken by run id, as the
/// runs page orders them), if there is one.
pub async fn previous_run(
    db: &impl ConnectionTrait,
    run: &agents_run::Model,
) -> Result<Option<agents_run::Model>> {
    use agents_run::Column as C;
    use sea_orm::Condition;
    agents_run::Entity::find()
        .filter(C::PlanName.eq(run.plan_name.as_str()))
        .filter(
            Condition::any().add(C::StartedAt.lt(run.started_at)).add(
                Condition::all()
                    .add(C::StartedAt.eq(run.started_at))
                    .add(C::RunId.lt(run.run_id.as_str())),
            ),
        )
        .order_by_desc(C::StartedAt)
        .order_by_desc(C::RunId)
        .one(db)
        .await
        .map_err(Error::db)
}

/// How long each task of a run took, by task name (finished tasks only), in one query.
pub async fn task_durations(
    db: &impl ConnectionTrait,
    run_id: &str,
) -> Result<HashMap<String, i64>> {
    use agents_task::Column as C;
    let rows: Vec<(String, Option<i64>)> = agents_task::Entity::find()
        .select_only()
        .column(C::Task)
        .column(C::DurationMs)
        .filter(C::RunId.eq(run_id))
        .filter(C::DurationMs.is_not_null())
        .into_tuple()
        .all(db)
        .await
        .map_err(Error::db)?;
    Ok(rows
        .into_iter()
        .filter_map(|(task, d)| d.map(|d| (task, d)))
        .collect())
}
