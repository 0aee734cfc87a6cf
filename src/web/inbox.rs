//! `/`: the inbox. What waits for a decision, oldest first, then the latest runs.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::errors::PageError;
use super::runs::{RunRow, latest_runs};
use super::view;
use super::viewer::{Nav, Viewer};
use crate::error::Error;
use crate::store::{Store, TaskStatus, agents_task};

const WAITING_LIMIT: u64 = 100;

pub struct Waiting {
    pub id: i64,
    pub task: String,
    pub run_id: String,
    pub waited: String,
    pub deadline: String,
    pub link: Option<String>,
    pub outputs: String,
    pub excerpt: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct Inbox {
    nav: Nav,
    waiting: Vec<Waiting>,
    runs: Vec<RunRow>,
}

pub async fn page(viewer: Viewer, State(store): State<Store>) -> Result<Response, PageError> {
    let rows = agents_task::Entity::find()
        .filter(agents_task::Column::Status.eq(TaskStatus::AwaitingApproval))
        .order_by_asc(agents_task::Column::Id)
        .limit(WAITING_LIMIT)
        .all(&store.db)
        .await
        .map_err(Error::db)?;
    let now = chrono::Utc::now();
    let waiting = rows
        .into_iter()
        .map(|t| Waiting {
            id: t.id,
            waited: t
                .finished_at
                .or(t.started_at)
                .map_or_else(String::new, |s| view::secs((now - s).num_seconds().max(0))),
            deadline: view::at(t.approval_deadline),
            link: view::http_link(&t.outputs_uri),
            outputs: t.outputs_uri.unwrap_or_default(),
            excerpt: t.log_excerpt.unwrap_or_default(),
            task: t.task,
            run_id: t.run_id,
        })
        .collect();
    let runs = latest_runs(&store, 10).await?;
    Ok(Html(
        Inbox {
            nav: viewer.nav(),
            waiting,
            runs,
        }
        .render()?,
    )
    .into_response())
}
