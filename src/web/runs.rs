//! `/runs`: every run, newest first, a page at a time. Keyset pagination on
//! (`started_at`, `run_id`) with LIMIT: never OFFSET, never a COUNT(*) of the table.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::errors::PageError;
use super::view;
use super::viewer::Viewer;
use crate::error::Error;
use crate::store::{Store, agents_run};

const PAGE: u64 = 50;

pub struct RunRow {
    pub run_id: String,
    pub plan: String,
    pub started: String,
    pub duration: String,
    pub trigger: String,
}

#[derive(Deserialize, Default)]
pub struct Filter {
    plan: Option<String>,
    /// The cursor: the last row shown, `<started_at as RFC 3339>|<run_id>`.
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct Runs {
    runs: Vec<RunRow>,
    plan: String,
    next: Option<String>,
}

fn row(r: agents_run::Model) -> RunRow {
    RunRow {
        duration: r.finished_at.map_or_else(String::new, |f| {
            view::secs((f - r.started_at).num_seconds())
        }),
        started: view::at(Some(r.started_at)),
        run_id: r.run_id,
        plan: r.plan_name,
        trigger: r.trigger,
    }
}

pub async fn latest_runs(store: &Store, n: u64) -> Result<Vec<RunRow>, PageError> {
    let rows = agents_run::Entity::find()
        .order_by_desc(agents_run::Column::StartedAt)
        .order_by_desc(agents_run::Column::RunId)
        .limit(n)
        .all(&store.db)
        .await
        .map_err(Error::db)?;
    Ok(rows.into_iter().map(row).collect())
}

pub async fn page(
    _viewer: Viewer,
    State(store): State<Store>,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    let mut q = agents_run::Entity::find();
    let plan = filter.plan.unwrap_or_default();
    if !plan.is_empty() {
        q = q.filter(agents_run::Column::PlanName.eq(plan.clone()));
    }
    if let Some((at, id)) = filter.before.as_deref().and_then(|c| c.split_once('|')) {
        let at: DateTime<Utc> = DateTime::parse_from_rfc3339(at)
            .map_err(|_| PageError::NotFound("that page of runs does not exist".to_owned()))?
            .into();
        q = q.filter(
            Condition::any()
                .add(agents_run::Column::StartedAt.lt(at))
                .add(
                    Condition::all()
                        .add(agents_run::Column::StartedAt.eq(at))
                        .add(agents_run::Column::RunId.lt(id)),
                ),
        );
    }
    let mut rows = q
        .order_by_desc(agents_run::Column::StartedAt)
        .order_by_desc(agents_run::Column::RunId)
        .limit(PAGE + 1)
        .all(&store.db)
        .await
        .map_err(Error::db)?;
    let next = if rows.len() as u64 > PAGE {
        rows.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
        rows.last()
            .map(|r| format!("{}|{}", r.started_at.to_rfc3339(), r.run_id))
    } else {
        None
    };
    let runs = rows.into_iter().map(row).collect();
    Ok(Html(Runs { runs, plan, next }.render()?).into_response())
}
