//! Creates the summaries the metrics read instead of `agents_tasks` (issue 22: a scrape on a
//! million rows in milliseconds):
//! - `orch_task_status_counts`: how many task rows are in each status now (`orch_tasks`);
//! - `orch_task_summaries`: per plan and task, when it last succeeded, and the latest finished
//!   row (highest id with `finished_at` and `duration_ms`) with its duration.
//!
//! Triggers on `agents_tasks` keep them, not the Rust code, for the reason migration 12 gives:
//! rows are written by many paths (guarded transitions, a batch's one statement, retries,
//! `orch prune`, the API, bulk `INSERT`s), and a trigger runs in the transaction of each, so a
//! summary and the rows it sums commit or roll back together. The counts go down on
//! `UPDATE OF status` and `DELETE`, so they stay exact after retries and prunes; the per-plan
//! values only ever move forward, so they outlive the rows `orch prune` deletes. Rows whose run
//! orch did not record (no `agents_runs` row, so no plan) are not summarized per plan, as the
//! per-plan gauges always left them out. Both are filled from the rows present at the upgrade.
//!
//! SQLite has one writer at a time, so its row-level triggers update the summaries in place.
//!
//! PostgreSQL runs writers side by side, and a row per status would be a hot row: every
//! transition would lock it until its commit, so all writers would queue behind each other's
//! commit flush, and two transactions of several statements (a batch's fallback path, a
//! retry's one UPDATE per row) could take those row locks in different orders and deadlock. So
//! writers never update a summary row there. Statement-level triggers (transition tables) add
//! up a statement's changes and append them as a few rows to `orch_task_status_deltas` and
//! `orch_task_summary_deltas`: plain INSERTs, which lock nothing another writer waits for. The
//! metrics read a summary plus its deltas. A statement that finds 64 deltas or more folds them
//! into the summaries (DELETE … RETURNING, then one `INSERT … ORDER BY … ON CONFLICT DO
//! UPDATE`), but only if `pg_try_advisory_xact_lock` lets it: at most one transaction folds at a
//! time and the others skip instead of waiting, so the summary rows have a single writer and
//! no one ever waits on them. The fold deletes only the deltas its statement sees (committed,
//! or its own), so a delta of a transaction still open is folded by a later one; a reader's
//! one statement sees the summary and the deltas at one snapshot, so never a delta twice.
//! This assumes READ COMMITTED, which orch uses.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Deltas a statement lets pile up before it folds them (PostgreSQL): enough that most
/// statements only append, few enough that a scrape sums a small table.
const FOLD_AT: u32 = 64;

/// `pg_try_advisory_xact_lock`'s key for folding: "orch" (as the migration lock's key, which
/// is a single bigint, another key space) and this migration's number.
const FOLD_LOCK: &str = "1869767528, 18";

/// The per-plan values of a new row `n` (upserted in place, SQLite): its success time if it
/// succeeded, its id and duration if it recorded one; nothing when it has not finished.
const SQLITE_SUMMARIZE_NEW: &str = "INSERT INTO orch_task_summaries \
     (plan, task, last_success_at, last_finished_id, last_duration_ms) \
     SELECT r.plan_name, NEW.task, CASE WHEN NEW.status = 'succeeded' THEN NEW.finished_at END, \
     CASE WHEN NEW.duration_ms IS NOT NULL THEN NEW.id END, NEW.duration_ms \
     FROM agents_runs r WHERE r.run_id = NEW.run_id AND NEW.finished_at IS NOT NULL \
     AND (NEW.status = 'succeeded' OR NEW.duration_ms IS NOT NULL) \
     ON CONFLICT (plan, task) DO UPDATE SET \
     last_success_at = CASE WHEN orch_task_summaries.last_success_at IS NULL \
       OR excluded.last_success_at > orch_task_summaries.last_success_at \
       THEN COALESCE(excluded.last_success_at, orch_task_summaries.last_success_at) \
       ELSE orch_task_summaries.last_success_at END, \
     last_finished_id = CASE WHEN excluded.last_finished_id >= \
       COALESCE(orch_task_summaries.last_finished_id, excluded.last_finished_id) \
       THEN excluded.last_finished_id ELSE orch_task_summaries.last_finished_id END, \
     last_duration_ms = CASE WHEN excluded.last_finished_id >= \
       COALESCE(orch_task_summaries.last_finished_id, excluded.last_finished_id) \
       THEN excluded.last_duration_ms ELSE orch_task_summaries.last_duration_ms END";

/// One row more in `NEW.status` (SQLite).
const SQLITE_COUNT_NEW: &str = "INSERT INTO orch_task_status_counts (status, count) \
     VALUES (NEW.status, 1) \
     ON CONFLICT (status) DO UPDATE SET count = orch_task_status_counts.count + 1";

/// One row fewer in `OLD.status` (SQLite; its row exists: the row was counted when recorded
/// or by the backfill).
const SQLITE_UNCOUNT_OLD: &str =
    "UPDATE orch_task_status_counts SET count = count - 1 WHERE status = OLD.status";

/// The per-plan deltas of the rows `{rows}` (PostgreSQL): one per plan and task.
const PG_SUMMARY_DELTAS: &str = "INSERT INTO orch_task_summary_deltas \
     (plan, task, last_success_at, last_finished_id, last_duration_ms) \
     SELECT r.plan_name, n.task, MAX(n.finished_at) FILTER (WHERE n.status = 'succeeded'), \
     MAX(n.id) FILTER (WHERE n.duration_ms IS NOT NULL), \
     (array_agg(n.duration_ms ORDER BY n.id DESC) FILTER (WHERE n.duration_ms IS NOT NULL))[1] \
     FROM {rows} n JOIN agents_runs r ON r.run_id = n.run_id \
     WHERE n.finished_at IS NOT NULL AND (n.status = 'succeeded' OR n.duration_ms IS NOT NULL) \
     GROUP BY r.plan_name, n.task";

/// A statement's net change per status (PostgreSQL), from `{signed}`: `(status, ±1)` rows.
const PG_STATUS_DELTAS: &str = "INSERT INTO orch_task_status_deltas (status, delta) \
     SELECT status, SUM(d) FROM ({signed}) c GROUP BY status HAVING SUM(d) <> 0";

fn pg_trigger_function(name: &str, status: &str, summary: Option<&str>) -> String {
    let status = PG_STATUS_DELTAS.replace("{signed}", status);
    let summary = summary.map_or(String::new(), |rows| {
        format!("{};", PG_SUMMARY_DELTAS.replace("{rows}", rows))
    });
    format!(
        "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ \
         DECLARE changed bigint; BEGIN \
         {status}; GET DIAGNOSTICS changed = ROW_COUNT; {summary} \
         IF changed > 0 THEN PERFORM orch_fold_task_summaries(); END IF; \
         RETURN NULL; END $$"
    )
}

/// PostgreSQL: the deltas folded into the summaries, by one transaction at a time.
fn pg_fold_function() -> String {
    format!(
        "CREATE FUNCTION orch_fold_task_summaries() RETURNS void LANGUAGE plpgsql AS $$ BEGIN \
         IF (SELECT count(*) FROM (SELECT 1 FROM orch_task_status_deltas LIMIT {FOLD_AT}) d) \
           < {FOLD_AT} OR NOT pg_try_advisory_xact_lock({FOLD_LOCK}) THEN RETURN; END IF; \
         WITH moved AS (DELETE FROM orch_task_status_deltas RETURNING status, delta) \
         INSERT INTO orch_task_status_counts (status, count) \
         SELECT status, SUM(delta) FROM moved GROUP BY status ORDER BY status \
         ON CONFLICT (status) DO UPDATE \
         SET count = orch_task_status_counts.count + EXCLUDED.count; \
         WITH moved AS (DELETE FROM orch_task_summary_deltas RETURNING *) \
         INSERT INTO orch_task_summaries \
         (plan, task, last_success_at, last_finished_id, last_duration_ms) \
         SELECT plan, task, MAX(last_success_at), MAX(last_finished_id), \
         (array_agg(last_duration_ms ORDER BY last_finished_id DESC, id DESC) \
           FILTER (WHERE last_finished_id IS NOT NULL))[1] \
         FROM moved GROUP BY plan, task ORDER BY plan, task \
         ON CONFLICT (plan, task) DO UPDATE SET \
         last_success_at = GREATEST(orch_task_summaries.last_success_at, \
           EXCLUDED.last_success_at), \
         last_finished_id = GREATEST(orch_task_summaries.last_finished_id, \
           EXCLUDED.last_finished_id), \
         last_duration_ms = CASE WHEN EXCLUDED.last_finished_id >= \
           COALESCE(orch_task_summaries.last_finished_id, EXCLUDED.last_finished_id) \
           THEN EXCLUDED.last_duration_ms ELSE orch_task_summaries.last_duration_ms END; \
         END $$"
    )
}

/// PostgreSQL's trigger functions and the triggers that call them, in creation order.
fn pg_triggers() -> Vec<String> {
    // Only rows whose status, end or duration changed: a heartbeat or a note adds nothing.
    let changed = "(SELECT n.* FROM new_rows n JOIN old_rows o ON o.id = n.id \
         WHERE (n.status, n.finished_at, n.duration_ms) \
         IS DISTINCT FROM (o.status, o.finished_at, o.duration_ms))";
    let mut sql = vec![
        pg_fold_function(),
        pg_trigger_function(
            "orch_summarize_task_inserts",
            "SELECT status, 1 AS d FROM new_rows",
            Some("new_rows"),
        ),
        pg_trigger_function(
            "orch_summarize_task_updates",
            "SELECT status, 1 AS d FROM new_rows UNION ALL SELECT status, -1 FROM old_rows",
            Some(changed),
        ),
        // A deleted row's per-plan values stay: they outlive `orch prune`.
        pg_trigger_function(
            "orch_summarize_task_deletes",
            "SELECT status, -1 AS d FROM old_rows",
            None,
        ),
    ];
    // A trigger with transition tables serves one event, and an UPDATE one no column list.
    for (event, tables) in [
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ] {
        let name = format!("orch_summarize_task_{}s", event.to_lowercase());
        sql.push(format!(
            "CREATE TRIGGER {name} AFTER {event} ON agents_tasks REFERENCING {tables} \
             FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        ));
    }
    sql
}

/// SQLite's triggers, one row at a time.
fn sqlite_triggers() -> Vec<String> {
    vec![
        format!(
            "CREATE TRIGGER orch_summarize_task_inserts AFTER INSERT ON agents_tasks \
             BEGIN {SQLITE_COUNT_NEW}; {SQLITE_SUMMARIZE_NEW}; END"
        ),
        format!(
            "CREATE TRIGGER orch_count_task_status_updates AFTER UPDATE OF status ON agents_tasks \
             WHEN NEW.status IS NOT OLD.status BEGIN {SQLITE_UNCOUNT_OLD}; {SQLITE_COUNT_NEW}; END"
        ),
        format!(
            "CREATE TRIGGER orch_summarize_task_updates \
             AFTER UPDATE OF status, finished_at, duration_ms ON agents_tasks \
             WHEN NEW.finished_at IS NOT NULL BEGIN {SQLITE_SUMMARIZE_NEW}; END"
        ),
        format!(
            "CREATE TRIGGER orch_summarize_task_deletes AFTER DELETE ON agents_tasks \
             BEGIN {SQLITE_UNCOUNT_OLD}; END"
        ),
    ]
}

/// The summaries of the rows present, as the triggers would have kept them.
const BACKFILL: [&str; 3] = [
    "INSERT INTO orch_task_status_counts (status, count) \
     SELECT status, COUNT(*) FROM agents_tasks GROUP BY status",
    "INSERT INTO orch_task_summaries (plan, task, last_finished_id, last_duration_ms) \
     SELECT r.plan_name, t.task, t.id, t.duration_ms FROM agents_tasks t \
     JOIN agents_runs r ON r.run_id = t.run_id \
     WHERE t.id IN (SELECT MAX(l.id) FROM agents_tasks l \
       JOIN agents_runs lr ON lr.run_id = l.run_id \
       WHERE l.duration_ms IS NOT NULL AND l.finished_at IS NOT NULL \
       GROUP BY lr.plan_name, l.task)",
    // `WHERE` keeps SQLite's upsert unambiguous, as it requires.
    "INSERT INTO orch_task_summaries (plan, task, last_success_at) \
     SELECT r.plan_name, t.task, MAX(t.finished_at) FROM agents_tasks t \
     JOIN agents_runs r ON r.run_id = t.run_id \
     WHERE t.status = 'succeeded' AND t.finished_at IS NOT NULL GROUP BY r.plan_name, t.task \
     ON CONFLICT (plan, task) DO UPDATE SET last_success_at = excluded.last_success_at",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        manager
            .create_table(
                Table::create()
                    .table(OrchTaskStatusCounts::Table)
                    .col(
                        ColumnDef::new(OrchTaskStatusCounts::Status)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OrchTaskStatusCounts::Count)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(summary_columns(
                Table::create().table(OrchTaskSummaries::Table).to_owned(),
                true,
            ))
            .await?;
        if postgres {
            manager
                .create_table(
                    Table::create()
                        .table(OrchTaskStatusDeltas::Table)
                        .col(
                            ColumnDef::new(OrchTaskStatusDeltas::Id)
                                .big_integer()
                                .not_null()
                                .auto_increment()
                                .primary_key(),
                        )
                        .col(
                            ColumnDef::new(OrchTaskStatusDeltas::Status)
                                .text()
                                .not_null(),
                        )
                        .col(
                            ColumnDef::new(OrchTaskStatusDeltas::Delta)
                                .big_integer()
                                .not_null(),
                        )
                        .to_owned(),
                )
                .await?;
            manager
                .create_table(summary_columns(
                    Table::create()
                        .table(OrchTaskSummaryDeltas::Table)
                        .col(
                            ColumnDef::new(OrchTaskSummaryDeltas::Id)
                                .big_integer()
                                .not_null()
                                .auto_increment()
                                .primary_key(),
                        )
                        .to_owned(),
                    false,
                ))
                .await?;
        }
        let db = manager.get_connection();
        for sql in BACKFILL {
            db.execute_unprepared(sql).await?;
        }
        let triggers = if postgres {
            pg_triggers()
        } else {
            sqlite_triggers()
        };
        for sql in triggers {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        let triggers: &[&str] = if postgres {
            &[
                "orch_summarize_task_inserts",
                "orch_summarize_task_updates",
                "orch_summarize_task_deletes",
            ]
        } else {
            &[
                "orch_summarize_task_inserts",
                "orch_count_task_status_updates",
                "orch_summarize_task_updates",
                "orch_summarize_task_deletes",
            ]
        };
        for trigger in triggers {
            let sql = if postgres {
                format!("DROP TRIGGER {trigger} ON agents_tasks; DROP FUNCTION {trigger}()")
            } else {
                format!("DROP TRIGGER {trigger}")
            };
            db.execute_unprepared(&sql).await?;
        }
        if postgres {
            db.execute_unprepared("DROP FUNCTION orch_fold_task_summaries()")
                .await?;
            for table in ["orch_task_summary_deltas", "orch_task_status_deltas"] {
                db.execute_unprepared(&format!("DROP TABLE {table}"))
                    .await?;
            }
        }
        for table in ["orch_task_summaries", "orch_task_status_counts"] {
            db.execute_unprepared(&format!("DROP TABLE {table}"))
                .await?;
        }
        Ok(())
    }
}

/// The per-plan columns, shared by the summaries (`keyed`: by plan and task) and their deltas
/// (keyed by an id of their own, already added).
fn summary_columns(mut table: TableCreateStatement, keyed: bool) -> TableCreateStatement {
    table
        .col(ColumnDef::new(OrchTaskSummaries::Plan).text().not_null())
        .col(ColumnDef::new(OrchTaskSummaries::Task).text().not_null())
        .col(ColumnDef::new(OrchTaskSummaries::LastSuccessAt).timestamp_with_time_zone())
        .col(ColumnDef::new(OrchTaskSummaries::LastFinishedId).big_integer())
        .col(ColumnDef::new(OrchTaskSummaries::LastDurationMs).big_integer());
    if keyed {
        table.primary_key(
            Index::create()
                .name("pk_orch_task_summaries")
                .col(OrchTaskSummaries::Plan)
                .col(OrchTaskSummaries::Task),
        );
    }
    table
}

#[derive(DeriveIden)]
enum OrchTaskStatusCounts {
    Table,
    Status,
    Count,
}

#[derive(DeriveIden)]
enum OrchTaskSummaries {
    Table,
    Plan,
    Task,
    LastSuccessAt,
    LastFinishedId,
    LastDurationMs,
}

#[derive(DeriveIden)]
enum OrchTaskStatusDeltas {
    Table,
    Id,
    Status,
    Delta,
}

#[derive(DeriveIden)]
enum OrchTaskSummaryDeltas {
    Table,
    Id,
}
