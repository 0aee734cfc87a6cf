//! Several task transitions committed at once: a finished task's end with the next task's
//! start (and any skips decided on the way), so a run pays one commit per task, not two.
//!
//! All or nothing, like one transition: if any guard fails (another orch moved a row), none is
//! recorded and the error is that transition's own. On PostgreSQL the batch is one statement
//! of data-modifying CTEs (one round trip and one commit instead of BEGIN, one UPDATE per row
//! and COMMIT); on SQLite, which allows no UPDATE in a CTE, it is one transaction.

use sea_orm::sea_query::{Alias, Asterisk, Expr, PostgresQueryBuilder, Query, UnionType};
use sea_orm::sea_query::{CommonTableExpression, WithClause};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, Statement, TransactionTrait,
};

use crate::error::{Error, Result};
use crate::store::retry::durably;
use crate::store::status::TaskStatus;
use crate::store::transition::{TaskChange, transition, transition_statement};
use crate::store::{agents_task, query::get_task};

/// One row's move from one status to another, with what changes on the way.
#[derive(Clone, Debug)]
pub struct Step {
    pub id: i64,
    pub from: TaskStatus,
    pub to: TaskStatus,
    pub change: TaskChange,
}

/// Commits `steps` at once, retried through an outage as `transition_durably` is; returns
/// the rows as recorded, in the order of `steps`.
pub async fn transitions_durably(
    db: &DatabaseConnection,
    steps: &[Step],
) -> Result<Vec<agents_task::Model>> {
    if let [step] = steps {
        // One statement commits by itself: no BEGIN/COMMIT round trips.
        return durably("records a task", |retry| transition_once(db, step, retry))
            .await
            .map(|row| vec![row]);
    }
    durably("records tasks", |retry| async move {
        // A retry may find some rows already moved by a first try whose answer was lost:
        // the transaction path checks each one.
        if !retry && db.get_database_backend() == DbBackend::Postgres {
            match one_statement(db, steps).await {
                Ok(Some(rows)) => return Ok(rows),
                // A guard failed and nothing was recorded: the transaction path says which.
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        in_transaction(db, steps, retry).await
    })
    .await
}

async fn in_transaction(
    db: &DatabaseConnection,
    steps: &[Step],
    retry: bool,
) -> Result<Vec<agents_task::Model>> {
    let txn = db.begin().await.map_err(Error::db)?;
    let mut rows = Vec::with_capacity(steps.len());
    for step in steps {
        rows.push(transition_once(&txn, step, retry).await?);
    }
    txn.commit().await.map_err(Error::db)?;
    Ok(rows)
}

/// `WITH s0 AS (UPDATE … RETURNING *), s1 AS (…) SELECT * FROM s0 UNION ALL SELECT * FROM s1
/// WHERE <every guard held>`. `None` when a guard failed: the statement then raised an error
/// (division by zero, on purpose) so that PostgreSQL rolled all of it back.
async fn one_statement(
    db: &DatabaseConnection,
    steps: &[Step],
) -> Result<Option<Vec<agents_task::Model>>> {
    let mut with = WithClause::new();
    let mut select: Option<sea_orm::sea_query::SelectStatement> = None;
    let mut counts = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let name = format!("s{i}");
        let update = transition_statement(
            DbBackend::Postgres,
            step.id,
            step.from,
            step.to,
            step.change.clone(),
        )?;
        with.cte(
            CommonTableExpression::new()
                .query(update)
                .table_name(Alias::new(&name))
                .to_owned(),
        );
        counts.push(format!("(SELECT count(*) FROM {name})"));
        let part = Query::select()
            .column(Asterisk)
            .from(Alias::new(&name))
            .to_owned();
        select = Some(match select {
            None => part,
            Some(mut s) => s.union(UnionType::All, part).to_owned(),
        });
    }
    let Some(mut select) = select else {
        return Ok(Some(Vec::new()));
    };
    // Every guard held, or the whole statement fails (and is rolled back).
    select.and_where(Expr::cust(format!(
        "1 / (CASE WHEN {} = {} THEN 1 ELSE 0 END) = 1",
        counts.join(" + "),
        steps.len()
    )));
    let (sql, values) = with.query(select).build(PostgresQueryBuilder);
    let rows = match db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
    {
        Ok(rows) => rows,
        Err(e) if is_division_by_zero(&e) => return Ok(None),
        Err(e) => return Err(Error::db(e)),
    };
    if rows.len() != steps.len() {
        // Every guard failed: nothing was updated, so nothing needs undoing.
        return Ok(None);
    }
    let mut by_id = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let model = agents_task::Model::from_query_result(&row, "").map_err(Error::db)?;
        by_id.insert(model.id, model);
    }
    steps
        .iter()
        .map(|s| {
            by_id.remove(&s.id).ok_or(Error::TransitionLost {
                id: s.id,
                expected: s.from,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn is_division_by_zero(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(s)) | DbErr::Query(RuntimeErr::SqlxError(s)) => s
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "22012"),
        _ => false,
    }
}

/// One transition; on a retry, a row already moved to `to` (by this process, when the change
/// names an owner) is taken as done: the first try committed, and only its answer was lost.
pub(crate) async fn transition_once(
    db: &impl ConnectionTrait,
    step: &Step,
    retry: bool,
) -> Result<agents_task::Model> {
    let Step {
        id,
        from,
        to,
        ref change,
    } = *step;
    match transition(db, id, from, to, change.clone()).await {
        Err(Error::TransitionLost { .. }) if retry => {
            let row = get_task(db, id).await?;
            let ours = change.owner.is_none() || row.owner == change.owner;
            if row.status == to && ours {
                Ok(row)
            } else {
                Err(Error::TransitionLost { id, expected: from })
            }
        }
        other => other,
    }
}
