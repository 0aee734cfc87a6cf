//! `/runs/{run_id}`: one run's tasks with status, attempt, duration (beside the same task's in
//! the previous run of the plan), dependencies (from the plan saved with the run) and the
//! gates' decisions. `/runs/{run_id}/tasks` is the same rows' changing cells as JSON, which
//! the page's script polls while a task is not final, so the page updates without a reload.
//! A viewer who may decide also gets the Cancel and Retry forms (`web/control.rs`) when the
//! run allows them.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use sea_orm::EntityTrait;
use serde::Serialize;

use super::errors::PageError;
use super::saved_plan;
use super::site::Site;
use super::view;
use super::viewer::{Nav, Viewer};
use crate::error::Error;
use crate::store::query::{previous_run, run_tasks, task_durations};
use crate::store::run_end::is_over;
use crate::store::stranded::{Stranded, stranded};
use crate::store::{ApprovalState, Store, TaskStatus, agents_run, agents_task};

/// The cells that change while a run goes on; the page's script sets them by `data-cell`.
#[derive(Serialize)]
pub struct LiveCells {
    pub id: i64,
    pub status: String,
    pub attempt: i32,
    /// The process that ran (or runs) it: a worker's or a local orch's owner id.
    pub worker: String,
    pub duration: String,
    pub decision: String,
    pub note: String,
}

pub struct TaskRow {
    pub task: String,
    pub depends_on: String,
    pub cells: LiveCells,
}

#[derive(Serialize)]
struct LiveRows {
    /// Whether a task is still not final: the script stops polling when this is false.
    live: bool,
    tasks: Vec<LiveCells>,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    nav: Nav,
    run_id: String,
    plan: String,
    /// Why the dependencies are not shown (the saved plan cannot be read), if so.
    plan_problem: Option<String>,
    previous: Option<String>,
    tasks: Vec<TaskRow>,
    live: bool,
    /// What the last Cancel or Retry did, or why it was refused.
    notice: Option<String>,
    /// The viewer's form token, when they may cancel or retry (a `decide` credential).
    form_token: Option<String>,
    /// Something runs, is queued or waits: Cancel is offered.
    cancellable: bool,
    /// A task failed or a stop kept it from starting: Retry is offered.
    retryable: bool,
    /// Workers drive the run (`orch run --enqueue`): they run what Retry queues.
    for_workers: bool,
    /// Queued tasks no live worker can take.
    stranded: Vec<Stranded>,
}

/// What changes of one task: its status, attempt, duration so far or in all, with the same
/// task's duration in the previous run, and its decision.
fn cells(t: &agents_task::Model, previous: &HashMap<String, i64>) -> LiveCells {
    let now = chrono::Utc::now();
    let mut duration = match (t.duration_ms, t.status, t.started_at) {
        (Some(d), _, _) => view::ms(Some(d)),
        (None, TaskStatus::Running, Some(s)) => {
            format!(
                "{} so far",
                view::ms(Some((now - s).num_milliseconds().max(0)))
            )
        }
        _ => String::new(),
    };
    if let Some(&prev) = previous.get(&t.task) {
        let prev = format!("(prev {})", view::ms(Some(prev)));
        duration = if duration.is_empty() {
            prev
        } else {
            format!("{duration} {prev}")
        };
    }
    let decision = match t.approval_state {
        None => String::new(),
        Some(ApprovalState::Pending) => "waiting for a decision".to_owned(),
        Some(s) => {
            let by = t.approver.as_ref().map(|b| format!(" by {b}"));
            let at = t.decided_at.map(|d| format!(" at {}", view::at(Some(d))));
            format!("{s}{}{}", by.unwrap_or_default(), at.unwrap_or_default())
        }
    };
    LiveCells {
        id: t.id,
        status: t.status.to_string(),
        attempt: t.attempt,
        worker: t.owner.clone().unwrap_or_default(),
        duration,
        decision,
        note: t.approval_note.clone().unwrap_or_default(),
    }
}

/// What both the page and its live rows read: the run's record (absent for rows another tool
/// wrote), its tasks, and the previous run of its plan with that run's durations by task
/// name (one query for them all). Four small reads, polled every two seconds while live.
struct Loaded {
    record: Option<agents_run::Model>,
    tasks: Vec<agents_task::Model>,
    previous: Option<String>,
    durations: HashMap<String, i64>,
}

async fn load(store: &Store, run_id: &str) -> Result<Loaded, PageError> {
    let record = agents_run::Entity::find_by_id(run_id.to_owned())
        .one(&store.db)
        .await
        .map_err(Error::db)?;
    let tasks = run_tasks(&store.db, run_id).await?;
    if record.is_none() && tasks.is_empty() {
        return Err(Error::UnknownRun {
            run_id: run_id.to_owned(),
        }
        .into());
    }
    let previous = match &record {
        Some(r) => previous_run(&store.db, r).await?,
        None => None,
    };
    let durations = match &previous {
        Some(p) => task_durations(&store.db, &p.run_id).await?,
        None => HashMap::new(),
    };
    Ok(Loaded {
        record,
        tasks,
        previous: previous.map(|p| p.run_id),
        durations,
    })
}

pub async fn page(
    viewer: Viewer,
    State(site): State<Site>,
    Path(run_id): Path<String>,
) -> Result<Response, PageError> {
    render(&site, &viewer, run_id, None, StatusCode::OK).await
}

/// The run page, with a notice above the tasks when a form was just sent.
pub async fn render(
    site: &Site,
    viewer: &Viewer,
    run_id: String,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let Loaded {
        record,
        tasks,
        previous,
        durations,
    } = load(&site.store, &run_id).await?;
    let live = tasks.iter().any(|t| !t.status.is_final());
    let stale = site.config.timing.stale_after;
    let stranded = stranded(&site.store.db, record.as_ref(), &tasks, stale).await?;
    let for_workers = record.as_ref().is_some_and(|r| r.queue.is_some());
    let plan = saved_plan::read(&run_id, record.as_ref());
    // Only a run orch recorded can be cancelled or retried (it has a saved plan).
    let recorded = record.is_some() && plan.is_ok();
    let cancellable = recorded && !is_over(&tasks);
    let retryable = match &plan {
        Ok(p) if recorded => crate::runner::retry::select(&p.tasks, &tasks, &[]).is_ok(),
        _ => false,
    };
    let deps: HashMap<&str, String> = match &plan {
        Ok(p) => p
            .tasks
            .iter()
            .map(|t| (t.name.as_str(), t.depends_on.join(", ")))
            .collect(),
        Err(_) => HashMap::new(),
    };
    let tasks = tasks
        .iter()
        .map(|t| TaskRow {
            depends_on: deps.get(t.task.as_str()).cloned().unwrap_or_default(),
            cells: cells(t, &durations),
            task: t.task.clone(),
        })
        .collect();
    let page = RunPage {
        nav: viewer.nav(),
        plan: record.map(|r| r.plan_name).unwrap_or_default(),
        plan_problem: plan.err(),
        previous,
        tasks,
        live,
        run_id,
        notice,
        form_token: viewer
            .form_token
            .clone()
            .filter(|_| viewer.may_decide() && (cancellable || retryable)),
        cancellable,
        retryable,
        for_workers,
        stranded,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// The run's task rows' changing cells, as JSON, under the pages' read rule.
pub async fn rows(
    _viewer: Viewer,
    State(store): State<Store>,
    Path(run_id): Path<String>,
) -> Result<Response, PageError> {
    let loaded = load(&store, &run_id).await?;
    let body = LiveRows {
        live: loaded.tasks.iter().any(|t| !t.status.is_final()),
        tasks: loaded
            .tasks
            .iter()
            .map(|t| cells(t, &loaded.durations))
            .collect(),
    };
    Ok(axum::Json(body).into_response())
}
