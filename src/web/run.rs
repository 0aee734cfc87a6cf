//! `/runs/{run_id}`: one run's tasks with status, attempt, duration and gates' decisions.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};

use super::errors::PageError;
use super::view;
use super::viewer::{Nav, Viewer};
use crate::store::Store;
use crate::store::query::{get_run, run_tasks};

pub struct TaskRow {
    pub id: i64,
    pub task: String,
    pub status: String,
    pub attempt: i32,
    pub duration: String,
    pub decision: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    nav: Nav,
    run_id: String,
    plan: String,
    tasks: Vec<TaskRow>,
    live: bool,
}

pub async fn page(
    viewer: Viewer,
    State(store): State<Store>,
    Path(run_id): Path<String>,
) -> Result<Response, PageError> {
    let summary = get_run(&store.db, &run_id).await?;
    let tasks = run_tasks(&store.db, &run_id).await?;
    let live = tasks.iter().any(|t| !t.status.is_final());
    let tasks = tasks
        .into_iter()
        .map(|t| TaskRow {
            id: t.id,
            status: t.status.to_string(),
            attempt: t.attempt,
            duration: view::ms(t.duration_ms),
            decision: match (&t.approval_state, &t.approver) {
                (Some(s), Some(by)) => format!("{s} by {by} at {}", view::at(t.decided_at)),
                (Some(s), None) => s.to_string(),
                _ => String::new(),
            },
            task: t.task,
        })
        .collect();
    let plan = summary.record.map(|r| r.plan_name).unwrap_or_default();
    Ok(Html(
        RunPage {
            nav: viewer.nav(),
            run_id,
            plan,
            tasks,
            live,
        }
        .render()?,
    )
    .into_response())
}
