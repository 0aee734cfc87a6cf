//! The writes that keep a run workers drive moving, beside its status transitions: the run
//! row locked while its readiness is judged, tasks marked ready for a claim, and which runs
//! need judging again (a decision came, or a task ended where no worker saw it).

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::{Error, Result};
use crate::store::clock::db_now;
use crate::store::{TaskStatus, agents_run, agents_task};

/// Locks run `run_id`'s row until the transaction ends (an UPDATE that changes nothing): the
/// first statement of every transaction that judges the run's readiness, so two of them take
/// turns and the second reads what the first committed (on SQLite, it takes the write lock
/// before any read). `false` when the run is not one workers drive.
pub async fn lock_run(db: &impl ConnectionTrait, run_id: &str) -> Result<bool> {
    use agents_run::Column as C;
    let locked = agents_run::Entity::update_many()
        .col_expr(C::DecisionsSeen, Expr::col(C::DecisionsSeen))
        .filter(C::RunId.eq(run_id))
        .filter(C::Queue.is_not_null())
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(locked.rows_affected == 1)
}

/// Makes the `slots` places of run `run_id`'s concurrency (`orch_run_slots`, all free), as
/// the run is enqueued.
pub async fn add_slots(db: &impl ConnectionTrait, run_id: &str, slots: u32) -> Result<()> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO orch_run_slots (run_id, slot) SELECT $1, generate_series(1, $2)"
        }
        _ => {
            "WITH RECURSIVE s(n) AS (SELECT 1 WHERE ?2 >= 1 UNION ALL SELECT n + 1 FROM s \
             WHERE n < ?2) INSERT INTO orch_run_slots (run_id, slot) SELECT ?1, n FROM s"
        }
    };
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        sql,
        [run_id.into(), (slots as i32).into()],
    ))
    .await
    .map_err(Error::db)?;
    Ok(())
}

/// Refreshes PostgreSQL's statistics of `agents_tasks` after a large run was enqueued. Until
/// autovacuum gets to it, the planner believes the ready index nearly empty and, for every
/// claim, sorts all ready rows instead of reading the first one off the index: measured at
/// 2 ms per claim for 1,000 ready rows, against 0.5 ms. Only an optimisation: a refusal
/// (a role that may not ANALYZE) changes nothing else, so it is not reported.
pub async fn refresh_statistics(db: &impl ConnectionTrait) {
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let _ = db.execute_unprepared("ANALYZE agents_tasks").await;
    }
}

/// Tasks `ids` may be claimed from now on (by the database's clock), those still queued and
/// not ready already.
pub async fn mark_ready(db: &impl ConnectionTrait, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    use agents_task::Column as C;
    agents_task::Entity::update_many()
        .col_expr(C::ReadyAt, db_now(db.get_database_backend()))
        .filter(C::Id.is_in(ids.iter().copied()))
        .filter(C::Status.eq(TaskStatus::Queued))
        .filter(C::ReadyAt.is_null())
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(())
}

/// Records how many of the run's gates were decided when its readiness was judged.
pub async fn seen_decisions(db: &impl ConnectionTrait, run_id: &str, decided: i32) -> Result<()> {
    use agents_run::Column as C;
    agents_run::Entity::update_many()
        .col_expr(C::DecisionsSeen, Expr::value(decided))
        .filter(C::RunId.eq(run_id))
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(())
}

/// Runs workers drive whose readiness must be judged again: not finished, nothing of theirs
/// running or ready, yet a task still queued (a dependency ended where no worker judged it:
/// failed as lost by another command's recovery, say), or a gate decided since the last
/// judgement (by `orch approve`, the API or a page).
pub async fn runs_to_judge(db: &impl ConnectionTrait) -> Result<Vec<String>> {
    use agents_run::Column as R;
    use agents_task::Column as T;
    let task = |status: TaskStatus| {
        Query::select()
            .expr(Expr::val(1))
            .from(agents_task::Entity)
            .and_where(
                Expr::col((agents_task::Entity, T::RunId)).equals((agents_run::Entity, R::RunId)),
            )
            .and_where(Expr::col((agents_task::Entity, T::Status)).eq(status.as_str()))
            .to_owned()
    };
    let mut ready = task(TaskStatus::Queued);
    ready.and_where(Expr::col((agents_task::Entity, T::ReadyAt)).is_not_null());
    let decided = Query::select()
        .expr(Expr::col((agents_task::Entity, T::Id)).count())
        .from(agents_task::Entity)
        .and_where(
            Expr::col((agents_task::Entity, T::RunId)).equals((agents_run::Entity, R::RunId)),
        )
        .and_where(Expr::col((agents_task::Entity, T::DecidedAt)).is_not_null())
        .to_owned();
    let stalled = Expr::exists(task(TaskStatus::Running))
        .not()
        .and(Expr::exists(task(TaskStatus::Queued)))
        .and(Expr::exists(ready).not());
    let runs = agents_run::Entity::find()
        .filter(R::Queue.is_not_null())
        .filter(R::FinishedAt.is_null())
        .filter(
            stalled.or(Expr::col((agents_run::Entity, R::DecisionsSeen))
                .ne(Expr::SubQuery(None, Box::new(decided.into())))),
        )
        .all(db)
        .await
        .map_err(Error::db)?;
    Ok(runs.into_iter().map(|r| r.run_id).collect())
}
