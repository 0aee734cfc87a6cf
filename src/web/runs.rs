//! `/runs`: every run, newest first, a page at a time, with its tasks' counts per status and
//! its duration (the first task's start to the last one's finish). Filters: plan, a status
//! some task of the run is in, runs started on or after a date. Keyset pagination on
//! (`started_at`, `run_id`) with LIMIT: never OFFSET, never a COUNT(*) of the table; the
//! counts of the page's ≤ 50 runs come from one grouped query.

use std::str::FromStr;

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Query as Sql;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::errors::PageError;
use super::params::Params;
use super::view;
use super::viewer::{Nav, Viewer};
use crate::error::Error;
use crate::status::{TaskStatus, status_counts};
use crate::store::query::{RunTally, tally_runs};
use crate::store::{Store, agents_run, agents_task};

const PAGE: u64 = 50;

pub struct RunRow {
    pub run_id: String,
    pub plan: String,
    pub started: String,
    pub counts: String,
    pub duration: String,
    pub trigger: String,
}

#[derive(Deserialize, Default)]
pub struct Filter {
    plan: Option<String>,
    /// Runs with at least one task in this status.
    status: Option<String>,
    /// Runs started on or after this day (`YYYY-MM-DD`, UTC).
    since: Option<String>,
    /// The cursor: the last row shown, `<started_at as RFC 3339>|<run_id>`.
    before: Option<String>,
}

pub struct StatusOption {
    value: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct Runs {
    nav: Nav,
    runs: Vec<RunRow>,
    plan: String,
    status: String,
    statuses: Vec<StatusOption>,
    since: String,
    next: Option<String>,
}

/// First start to last finish of the run's tasks; "so far" while some still run.
fn duration(t: &RunTally) -> String {
    let (Some(first), Some(last)) = (t.first_started, t.last_finished) else {
        return String::new();
    };
    let d = view::secs((last - first).num_seconds().max(0));
    if t.counts.get(&TaskStatus::Running).copied().unwrap_or(0) > 0 {
        format!("{d} so far")
    } else {
        d
    }
}

/// The rows of a page of runs, with their tallies from one grouped query.
async fn rows(store: &Store, runs: Vec<agents_run::Model>) -> Result<Vec<RunRow>, PageError> {
    let ids: Vec<String> = runs.iter().map(|r| r.run_id.clone()).collect();
    let tallies = tally_runs(&store.db, &ids).await?;
    let empty = RunTally::default();
    Ok(runs
        .into_iter()
        .map(|r| {
            let t = tallies.get(&r.run_id).unwrap_or(&empty);
            RunRow {
                counts: status_counts(|s| t.counts.get(&s).copied().unwrap_or(0)),
                duration: duration(t),
                started: view::at(Some(r.started_at)),
                run_id: r.run_id,
                plan: r.plan_name,
                trigger: r.trigger,
            }
        })
        .collect())
}

pub async fn latest_runs(store: &Store, n: u64) -> Result<Vec<RunRow>, PageError> {
    let runs = agents_run::Entity::find()
        .order_by_desc(agents_run::Column::StartedAt)
        .order_by_desc(agents_run::Column::RunId)
        .limit(n)
        .all(&store.db)
        .await
        .map_err(Error::db)?;
    rows(store, runs).await
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub async fn page(
    viewer: Viewer,
    State(store): State<Store>,
    Params(filter): Params<Filter>,
) -> Result<Response, PageError> {
    let mut q = agents_run::Entity::find();
    let plan = nonempty(filter.plan).unwrap_or_default();
    if !plan.is_empty() {
        q = q.filter(agents_run::Column::PlanName.eq(plan.clone()));
    }
    let status = match nonempty(filter.status) {
        None => None,
        Some(s) => Some(TaskStatus::from_str(&s).map_err(PageError::BadRequest)?),
    };
    if let Some(s) = status {
        q = q.filter(
            agents_run::Column::RunId.in_subquery(
                Sql::select()
                    .column(agents_task::Column::RunId)
                    .from(agents_task::Entity)
                    .and_where(agents_task::Column::Status.eq(s))
                    .to_owned(),
            ),
        );
    }
    let since = nonempty(filter.since).unwrap_or_default();
    if !since.is_empty() {
        let day = NaiveDate::parse_from_str(&since, "%Y-%m-%d").map_err(|_| {
            PageError::BadRequest(format!(
                "`{since}` is not a date; give the day as YYYY-MM-DD, e.g. 2026-12-01"
            ))
        })?;
        let from = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        q = q.filter(agents_run::Column::StartedAt.gte(from));
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
    let mut found = q
        .order_by_desc(agents_run::Column::StartedAt)
        .order_by_desc(agents_run::Column::RunId)
        .limit(PAGE + 1)
        .all(&store.db)
        .await
        .map_err(Error::db)?;
    let next = if found.len() as u64 > PAGE {
        found.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
        found
            .last()
            .map(|r| format!("{}|{}", r.started_at.to_rfc3339(), r.run_id))
    } else {
        None
    };
    let runs = rows(&store, found).await?;
    let status = status.map_or("", TaskStatus::as_str).to_owned();
    let statuses = TaskStatus::ALL
        .iter()
        .map(|s| StatusOption {
            value: s.as_str(),
            selected: s.as_str() == status,
        })
        .collect();
    let page = Runs {
        nav: viewer.nav(),
        runs,
        plan,
        status,
        statuses,
        since,
        next,
    };
    Ok(Html(page.render()?).into_response())
}
