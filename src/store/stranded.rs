//! Tasks of a run that workers drive which no live worker can take: the run's queue is served
//! by no worker that is up, or none of those has the labels the task's `runs_on` asks for.
//! `orch runs show` and the run page say so, rather than let the task wait in silence.

use std::collections::BTreeMap;
use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::{Error, Result};
use crate::store::clock::db_ago;
use crate::store::entity::orch_worker;
use crate::store::{TaskStatus, agents_run, agents_task};

/// A queued task no live worker can take, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stranded {
    pub id: i64,
    pub task: String,
    pub why: Why,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// No worker that is up (heartbeat fresh, not draining) takes runs from the queue.
    NoWorkerOnQueue { queue: String },
    /// Workers are up on the queue, but none has these labels.
    NoWorkerWithLabels {
        queue: String,
        runs_on: String,
        up: usize,
    },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::NoWorkerOnQueue { queue } => write!(
                f,
                "no live worker takes queue {queue:?}: start one with `orch worker --queue {queue}`"
            ),
            Why::NoWorkerWithLabels { queue, runs_on, up } => write!(
                f,
                "needs runs_on {runs_on}, which none of the {up} live worker(s) on queue {queue:?} has: \
                 start one with those --label options"
            ),
        }
    }
}

/// The live workers: heartbeat within `stale`, neither draining nor stopped.
pub async fn live_workers(
    db: &impl ConnectionTrait,
    stale: Duration,
) -> Result<Vec<orch_worker::Model>> {
    let backend = db.get_database_backend();
    orch_worker::Entity::find()
        .filter(orch_worker::Column::StoppedAt.is_null())
        .filter(orch_worker::Column::DrainingAt.is_null())
        .filter(Expr::col(orch_worker::Column::HeartbeatAt).gt(db_ago(backend, stale)))
        .all(db)
        .await
        .map_err(Error::db)
}

/// The queued tasks of `run` (its rows are `rows`) no live worker can take. Nothing for a run
/// a local `orch run` drives, or rows no run record names.
pub async fn stranded(
    db: &impl ConnectionTrait,
    run: Option<&agents_run::Model>,
    rows: &[agents_task::Model],
    stale: Duration,
) -> Result<Vec<Stranded>> {
    let Some(queue) = run.and_then(|r| r.queue.as_ref()) else {
        return Ok(Vec::new());
    };
    let waiting: Vec<&agents_task::Model> = rows
        .iter()
        .filter(|t| t.status == TaskStatus::Queued)
        .collect();
    if waiting.is_empty() {
        return Ok(Vec::new());
    }
    let workers = live_workers(db, stale).await?;
    Ok(judge(queue, &waiting, &workers))
}

fn labels_of(json: Option<&str>) -> BTreeMap<String, String> {
    let map: serde_json::Map<String, serde_json::Value> = json
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    map.into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// The same rule as the claim (store/claim.rs): the worker serves the queue and has every
/// label the task asks for, with the same value.
fn judge(
    queue: &str,
    waiting: &[&agents_task::Model],
    workers: &[orch_worker::Model],
) -> Vec<Stranded> {
    let on_queue: Vec<BTreeMap<String, String>> = workers
        .iter()
        .filter(|w| {
            serde_json::from_str::<Vec<String>>(&w.queues)
                .unwrap_or_default()
                .iter()
                .any(|q| q == queue)
        })
        .map(|w| labels_of(Some(&w.labels)))
        .collect();
    let mut out = Vec::new();
    for t in waiting {
        let wants = labels_of(t.runs_on.as_deref());
        let why = if on_queue.is_empty() {
            Why::NoWorkerOnQueue {
                queue: queue.to_owned(),
            }
        } else if on_queue
            .iter()
            .any(|has| wants.iter().all(|(k, v)| has.get(k) == Some(v)))
        {
            continue;
        } else {
            let runs_on: Vec<String> = wants.iter().map(|(k, v)| format!("{k}={v}")).collect();
            Why::NoWorkerWithLabels {
                queue: queue.to_owned(),
                runs_on: runs_on.join(","),
                up: on_queue.len(),
            }
        };
        out.push(Stranded {
            id: t.id,
            task: t.task.clone(),
            why,
        });
    }
    out
}
