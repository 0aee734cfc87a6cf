//! Creates `orch_task_transition_counts`: how many times each task of each plan ended in each
//! final status, for the counter `orch_task_transitions_total`. The counts never go down:
//! `orch prune` deletes task rows, never these.
//!
//! A trigger on `agents_tasks` keeps them, not the Rust code: it runs in the transaction of
//! the UPDATE that ends a task, whichever path wrote it (one guarded transition, a decision,
//! the reaper, the API's PATCH, a batch's PostgreSQL CTEs or SQLite CASE update, and any path
//! added later), so a count and the status it counts commit or roll back together. Rows
//! whose run orch did not record (no `agents_runs` row, so no plan) are not counted, as the
//! per-plan gauges leave them out.
//!
//! The table is filled from the rows present at the upgrade, so counters start at the
//! history the database still holds rather than at 0 (runs pruned before it are lost).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Frozen copy of the final statuses (`status::TaskStatus::is_final`) at this migration.
const FINAL: &str = "('succeeded', 'failed', 'skipped')";

/// One count more for the row `NEW` (a statement valid in both databases' triggers).
const COUNT_NEW: &str = "INSERT INTO orch_task_transition_counts (plan, task, status, count) \
     SELECT r.plan_name, NEW.task, NEW.status, 1 FROM agents_runs r WHERE r.run_id = NEW.run_id \
     ON CONFLICT (plan, task, status) DO UPDATE SET count = orch_task_transition_counts.count + 1";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrchTaskTransitionCounts::Table)
                    .col(
                        ColumnDef::new(OrchTaskTransitionCounts::Plan)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrchTaskTransitionCounts::Task)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrchTaskTransitionCounts::Status)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrchTaskTransitionCounts::Count)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .name("pk_orch_task_transition_counts")
                            .col(OrchTaskTransitionCounts::Plan)
                            .col(OrchTaskTransitionCounts::Task)
                            .col(OrchTaskTransitionCounts::Status),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO orch_task_transition_counts (plan, task, status, count) \
             SELECT r.plan_name, t.task, t.status, COUNT(*) FROM agents_tasks t \
             JOIN agents_runs r ON r.run_id = t.run_id WHERE t.status IN {FINAL} \
             GROUP BY r.plan_name, t.task, t.status"
        ))
        .await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION orch_count_task_transition() RETURNS trigger \
                     LANGUAGE plpgsql AS $$ BEGIN {COUNT_NEW}; RETURN NULL; END $$"
                ))
                .await?;
                // A task enters a final status by an UPDATE, or is recorded in one (the API).
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER orch_count_task_transitions AFTER UPDATE OF status \
                     ON agents_tasks FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status \
                     AND NEW.status IN {FINAL}) EXECUTE FUNCTION orch_count_task_transition()"
                ))
                .await?;
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER orch_count_task_inserts AFTER INSERT ON agents_tasks \
                     FOR EACH ROW WHEN (NEW.status IN {FINAL}) \
                     EXECUTE FUNCTION orch_count_task_transition()"
                ))
                .await?;
            }
            _ => {
                // SQLite: `WHERE` in the SELECT keeps its upsert unambiguous, as it requires.
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER orch_count_task_transitions AFTER UPDATE OF status \
                     ON agents_tasks WHEN NEW.status IS NOT OLD.status AND NEW.status IN {FINAL} \
                     BEGIN {COUNT_NEW}; END"
                ))
                .await?;
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER orch_count_task_inserts AFTER INSERT ON agents_tasks \
                     WHEN NEW.status IN {FINAL} BEGIN {COUNT_NEW}; END"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for trigger in ["orch_count_task_inserts", "orch_count_task_transitions"] {
            let sql = match manager.get_database_backend() {
                DbBackend::Postgres => format!("DROP TRIGGER {trigger} ON agents_tasks"),
                _ => format!("DROP TRIGGER {trigger}"),
            };
            db.execute_unprepared(&sql).await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("DROP FUNCTION orch_count_task_transition()")
                .await?;
        }
        manager
            .drop_table(
                Table::drop()
                    .table(OrchTaskTransitionCounts::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OrchTaskTransitionCounts {
    Table,
    Plan,
    Task,
    Status,
    Count,
}
