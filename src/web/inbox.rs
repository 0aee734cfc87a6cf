//! `/`: the inbox. What waits for a decision, oldest first, then the latest runs. Each gate
//! says what approving it lets run next: its dependents, read from the plan saved with its
//! run (one query for the runs of the page's gates, each plan parsed once).

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::errors::PageError;
use super::runs::{RunRow, latest_runs};
use super::saved_plan::Plans;
use super::view;
use super::viewer::{Nav, Viewer};
use crate::error::Error;
use crate::plan::graph::dependents;
use crate::store::{Store, TaskStatus, agents_run, agents_task};

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
    /// What approving lets run: the dependents, or why they are unknown.
    pub next: Result<Next, String>,
}

pub struct Next {
    /// The tasks naming the gate in `depends_on`.
    pub direct: String,
    /// Those after them, through them.
    pub later: String,
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
    let run_ids: BTreeSet<&str> = rows.iter().map(|t| t.run_id.as_str()).collect();
    let records: HashMap<String, agents_run::Model> = agents_run::Entity::find()
        .filter(agents_run::Column::RunId.is_in(run_ids))
        .all(&store.db)
        .await
        .map_err(Error::db)?
        .into_iter()
        .map(|r| (r.run_id.clone(), r))
        .collect();
    let mut plans = Plans::default();
    let now = chrono::Utc::now();
    let waiting = rows
        .into_iter()
        .map(|t| Waiting {
            next: match plans.get(&t.run_id, records.get(&t.run_id)) {
                Ok(plan) => {
                    let d = dependents(&plan.tasks, &t.task);
                    Ok(Next {
                        direct: d.direct.join(", "),
                        later: d.later.join(", "),
                    })
                }
                Err(why) => Err(why.to_owned()),
            },
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
