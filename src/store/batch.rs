//! Several task transitions committed at once: a finished task's end with the next task's
//! start (and any skips decided on the way), so a run pays one commit per task, not two.
//!
//! All or nothing, like one transition: if any guard fails (another orch moved a row), none is
//! recorded and the error is that transition's own. The batch is one statement (one round
//! trip, or one trip to SQLite's worker thread, instead of BEGIN, an UPDATE per row and
//! COMMIT): data-modifying CTEs on PostgreSQL, one UPDATE with a CASE per column on SQLite
//! (which allows no UPDATE in a CTE). When a guard fails, the transaction path runs to say
//! which. SQLite's statement text is built once per shape and reused ([`super::batch_sql`]).

use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{
    Alias, Asterisk, CaseStatement, CommonTableExpression, Condition, Expr, PostgresQueryBuilder,
    Query, UnionType, UpdateStatement, WithClause,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, Statement,
    TransactionTrait,
};

use crate::error::{Error, Result};
use crate::store::agents_task::Column;
use crate::store::transition::{Transition, guard};
use crate::store::{Store, agents_task, batch_sql, query::get_task};

/// One transition, ridden through an outage ([`Store::outage`]). A retry that finds the row
/// already moved to `to` — by this process (same `owner`), when the change names one — takes
/// it as done: the first try committed, and only its answer was lost. A row moved by another
/// orch is not ours.
pub async fn commit_one(store: &Store, step: &Transition) -> Result<agents_task::Model> {
    let db = &store.db;
    store
        .outage
        .ride("records a task", |retry| apply_or_confirm(db, step, retry))
        .await
}

/// Commits `steps` at once, ridden through an outage as [`commit_one`] is; returns the rows
/// as recorded, in the order of `steps`.
pub async fn commit(store: &Store, steps: &[Transition]) -> Result<Vec<agents_task::Model>> {
    let db = &store.db;
    if let [step] = steps {
        // One statement commits by itself: no BEGIN/COMMIT round trips.
        return store
            .outage
            .ride("records a task", |retry| apply_or_confirm(db, step, retry))
            .await
            .map(|row| vec![row]);
    }
    store
        .outage
        .ride("records tasks", |retry| async move {
            // A retry may find some rows already moved by a first try whose answer was lost:
            // the transaction path checks each one.
            // A worker's fenced writes take the transaction path, which checks their fences.
            if !retry && steps.iter().all(|s| s.fence.is_none()) {
                let done = match db.get_database_backend() {
                    DbBackend::Postgres => postgres_ctes(db, steps).await?,
                    DbBackend::Sqlite => sqlite_case_update(db, steps).await?,
                    _ => None,
                };
                // `None`: a guard failed and nothing was recorded; the transaction path says which.
                if let Some(rows) = done {
                    return Ok(rows);
                }
            }
            in_transaction(db, steps, retry).await
        })
        .await
}

async fn in_transaction(
    db: &DatabaseConnection,
    steps: &[Transition],
    retry: bool,
) -> Result<Vec<agents_task::Model>> {
    let txn = db.begin().await.map_err(Error::db)?;
    let mut rows = Vec::with_capacity(steps.len());
    for step in steps {
        rows.push(apply_or_confirm(&txn, step, retry).await?);
    }
    txn.commit().await.map_err(Error::db)?;
    Ok(rows)
}

/// `WITH s0 AS (UPDATE … RETURNING *), s1 AS (…) SELECT * FROM s0 UNION ALL SELECT * FROM s1
/// WHERE <every guard held>`. `None` when a guard failed: the statement then raised an error
/// (division by zero, on purpose) so that PostgreSQL rolled all of it back.
async fn postgres_ctes(
    db: &DatabaseConnection,
    steps: &[Transition],
) -> Result<Option<Vec<agents_task::Model>>> {
    let mut with = WithClause::new();
    let mut select: Option<sea_orm::sea_query::SelectStatement> = None;
    let mut counts = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let name = format!("s{i}");
        let update = step.statement(DbBackend::Postgres)?;
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
    let models = rows
        .iter()
        .map(|row| agents_task::Model::from_query_result(row, "").map_err(Error::db))
        .collect::<Result<Vec<_>>>()?;
    in_step_order(models, steps).map(Some)
}

/// SQLite: `UPDATE agents_tasks SET <col> = CASE WHEN id = a THEN … WHEN id = b THEN … ELSE
/// <col> END, … WHERE (<guard a> OR <guard b>) AND (SELECT count(*) FROM agents_tasks WHERE
/// <guard a> OR <guard b>) = 2 RETURNING *`. SQLite has one writer at a time and computes
/// the count before changing a row, so either every guard holds and every row changes, or
/// nothing changes (`None`).
async fn sqlite_case_update(
    db: &DatabaseConnection,
    steps: &[Transition],
) -> Result<Option<Vec<agents_task::Model>>> {
    let backend = DbBackend::Sqlite;
    // Each column any step sets, with the value per row.
    let mut columns: batch_sql::Columns = Vec::new();
    for step in steps {
        for (col, value) in step.sets(backend)? {
            let same = |c: &Column| std::mem::discriminant(c) == std::mem::discriminant(&col);
            match columns.iter_mut().find(|(c, _)| same(c)) {
                Some((_, values)) => values.push((step.id, value)),
                None => columns.push((col, vec![(step.id, value)])),
            }
        }
    }
    let shape = batch_sql::shape(steps, &columns);
    let statement = match batch_sql::cached(&shape) {
        Some(sql) => Statement::from_sql_and_values(
            backend,
            sql.as_ref(),
            batch_sql::Values::of(steps, &columns),
        ),
        None => {
            let gathered = batch_sql::Values::of(steps, &columns);
            let statement = backend.build(&case_update(steps, columns));
            if let Some(built) = &statement.values {
                batch_sql::keep(shape, &statement.sql, &built.0, &gathered);
            }
            statement
        }
    };
    let rows = agents_task::Model::find_by_statement(statement)
        .all(db)
        .await
        .map_err(Error::db)?;
    if rows.len() != steps.len() {
        return Ok(None);
    }
    in_step_order(rows, steps).map(Some)
}

/// The statement [`sqlite_case_update`] sends, built by sea-query.
fn case_update(steps: &[Transition], columns: batch_sql::Columns) -> UpdateStatement {
    let mut guards = Condition::any();
    for step in steps {
        // The same guard as a single transition's (the gate's `approval_state` included).
        guards = guards.add(guard(step.id, step.from));
    }
    let mut update = Query::update();
    update.table(agents_task::Entity);
    for (col, values) in columns {
        let mut case = CaseStatement::new();
        for (id, value) in values {
            case = case.case(Column::Id.eq(id), value);
        }
        update.value(col, case.finally(Expr::col(col)));
    }
    let held = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(agents_task::Entity)
        .cond_where(guards.clone())
        .to_owned();
    update
        .cond_where(guards)
        .and_where(Expr::SubQuery(None, Box::new(held.into())).eq(steps.len() as i64))
        .returning_all();
    update
}

/// The rows back in the order of `steps` (a statement returns them in its own order).
fn in_step_order(
    rows: Vec<agents_task::Model>,
    steps: &[Transition],
) -> Result<Vec<agents_task::Model>> {
    let mut by_id: std::collections::HashMap<i64, agents_task::Model> =
        rows.into_iter().map(|r| (r.id, r)).collect();
    steps
        .iter()
        .map(|s| {
            by_id.remove(&s.id).ok_or(Error::TransitionLost {
                id: s.id,
                expected: s.from,
            })
        })
        .collect()
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
pub(crate) async fn apply_or_confirm(
    db: &impl ConnectionTrait,
    step: &Transition,
    retry: bool,
) -> Result<agents_task::Model> {
    let (id, from, to, change) = (step.id, step.from, step.to, &step.change);
    match step.apply(db).await {
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
