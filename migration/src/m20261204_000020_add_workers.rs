//! Workers (issue 21): runs recorded with `orch run --enqueue` are driven by `orch worker`
//! processes that claim their ready tasks from `agents_tasks` itself, with `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, as River, Oban and Solid Queue do over their jobs tables.
//!
//! - `agents_runs.queue`: the queue a run waits on; NULL for a run its own `orch run` drives.
//! - `agents_runs.concurrency`: how many of the run's tasks may run at once, across all
//!   workers, held by `orch_run_slots` when it is fewer than the run's tasks: one row per
//!   place, made when the run is enqueued (a run whose concurrency binds nothing has none). A claim takes a free slot row
//!   `FOR UPDATE SKIP LOCKED` with the task, so claimers of one run never wait on one shared
//!   row (a counter on the run row did: each claim held its lock until its commit, and 16
//!   claimers queued behind one another). A trigger frees the slot on every move out of
//!   `running`, whichever path makes it (a worker, the reaper of lost tasks, the API).
//! - `agents_runs.decisions_seen`: how many of the run's gates were decided when a worker
//!   last judged which tasks are ready; a different count means a decision (CLI, API, page)
//!   came since, and a worker makes the gate's dependents ready.
//! - `agents_tasks.ready_at`: set when a queued task's dependencies allow it to start (judged
//!   by whoever ended the last of them, with the local runner's readiness rules), and cleared
//!   by a trigger (`orch_unready`) when it leaves `queued`; claims take ready rows oldest
//!   first, through the partial index `ix_agents_tasks_ready`, so a table of a million
//!   finished rows costs a claim nothing.
//! - `agents_tasks.claim`: the fencing token, raised by each claim; every later write of the
//!   task by its worker checks owner and token, so a worker judged lost cannot overwrite what
//!   happened after.
//! - `agents_tasks.runs_on` (a JSON object of labels a worker must have), `on_lost` (`retry`
//!   when a lost worker's task may run again), copied from the plan when the run is recorded.
//! - `orch_workers`: one row per worker process (`orch workers list`), kept by its heartbeat.
//! - `orch_run_slots`: the places of a run's `concurrency` (above), each free or holding the
//!   id of the task that runs in it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A slot is freed when its task leaves `running`, by whatever path.
const SQLITE_RELEASE: &str = "CREATE TRIGGER orch_release_slot AFTER UPDATE OF status \
     ON agents_tasks WHEN OLD.status = 'running' AND NEW.status <> 'running' \
     BEGIN UPDATE orch_run_slots SET task_id = NULL WHERE task_id = OLD.id; END";

/// SQLite's claim is one UPDATE of the task (one writer at a time makes it exact); this
/// trigger gives the claimed task the run's first free slot in the same statement.
const SQLITE_TAKE: &str = "CREATE TRIGGER orch_take_slot AFTER UPDATE OF status \
     ON agents_tasks WHEN OLD.status = 'queued' AND NEW.status = 'running' \
     BEGIN UPDATE orch_run_slots SET task_id = NEW.id WHERE run_id = NEW.run_id AND slot = \
     (SELECT slot FROM orch_run_slots WHERE run_id = NEW.run_id AND task_id IS NULL \
     ORDER BY slot LIMIT 1); END";

const PG_FUNCTION: &str = "CREATE FUNCTION orch_release_slot() RETURNS trigger \
     LANGUAGE plpgsql AS $$ BEGIN \
     UPDATE orch_run_slots SET task_id = NULL WHERE task_id = OLD.id; RETURN NULL; END $$";

const PG_TRIGGER: &str = "CREATE TRIGGER orch_release_slot AFTER UPDATE OF status \
     ON agents_tasks FOR EACH ROW \
     WHEN (OLD.status = 'running' AND NEW.status <> 'running') \
     EXECUTE FUNCTION orch_release_slot()";

/// Free slots, for the claim's check and pick; and at most one slot per task.
const FREE_SLOTS_INDEX: &str = "CREATE INDEX ix_orch_run_slots_free ON orch_run_slots \
     (run_id, slot) WHERE task_id IS NULL";
const SLOT_TASK_INDEX: &str = "CREATE UNIQUE INDEX ux_orch_run_slots_task ON orch_run_slots \
     (task_id) WHERE task_id IS NOT NULL";

/// Ready rows only: the claim's index stays as small as the queue, whatever the history.
/// One column in the predicate: `ready_at` is set only while a task is queued (the triggers
/// below clear it when it leaves `queued`), so the planner estimates ready rows from that
/// column alone. With `status = 'queued'` beside it, it multiplied two selectivities that
/// are the same fact and, with 2,000 ready rows among 1,000,000, expected 4: it then sorted
/// every ready row for each claim instead of reading the first one off the index.
const READY_INDEX: &str = "CREATE INDEX ix_agents_tasks_ready ON agents_tasks (ready_at, id) \
     WHERE ready_at IS NOT NULL";

/// A task that leaves `queued`, by whatever path, is no longer ready.
const SQLITE_UNREADY: &str = "CREATE TRIGGER orch_unready AFTER UPDATE OF status \
     ON agents_tasks WHEN NEW.status <> 'queued' AND NEW.ready_at IS NOT NULL \
     BEGIN UPDATE agents_tasks SET ready_at = NULL WHERE id = NEW.id; END";

const PG_UNREADY_FUNCTION: &str = "CREATE FUNCTION orch_unready() RETURNS trigger \
     LANGUAGE plpgsql AS $$ BEGIN NEW.ready_at := NULL; RETURN NEW; END $$";

const PG_UNREADY_TRIGGER: &str = "CREATE TRIGGER orch_unready BEFORE UPDATE OF status \
     ON agents_tasks FOR EACH ROW \
     WHEN (NEW.status <> 'queued' AND NEW.ready_at IS NOT NULL) \
     EXECUTE FUNCTION orch_unready()";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let run_columns = [
            ColumnDef::new(AgentsRuns::Queue).text().to_owned(),
            ColumnDef::new(AgentsRuns::Concurrency).integer().to_owned(),
            ColumnDef::new(AgentsRuns::DecisionsSeen)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
        ];
        for mut column in run_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(AgentsRuns::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        let task_columns = [
            ColumnDef::new(AgentsTasks::ReadyAt)
                .timestamp_with_time_zone()
                .to_owned(),
            ColumnDef::new(AgentsTasks::Claim)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(AgentsTasks::RunsOn).text().to_owned(),
            ColumnDef::new(AgentsTasks::OnLost).text().to_owned(),
        ];
        for mut column in task_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(AgentsTasks::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(OrchWorkers::Table)
                    .col(
                        ColumnDef::new(OrchWorkers::Id)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OrchWorkers::Host).text().not_null())
                    .col(ColumnDef::new(OrchWorkers::Pid).integer().not_null())
                    .col(ColumnDef::new(OrchWorkers::Version).text().not_null())
                    .col(ColumnDef::new(OrchWorkers::Labels).text().not_null())
                    .col(ColumnDef::new(OrchWorkers::Queues).text().not_null())
                    .col(ColumnDef::new(OrchWorkers::Slots).integer().not_null())
                    .col(
                        ColumnDef::new(OrchWorkers::StartedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrchWorkers::HeartbeatAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OrchWorkers::DrainingAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(OrchWorkers::StoppedAt).timestamp_with_time_zone())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrchRunSlots::Table)
                    .col(ColumnDef::new(OrchRunSlots::RunId).text().not_null())
                    .col(ColumnDef::new(OrchRunSlots::Slot).integer().not_null())
                    .col(ColumnDef::new(OrchRunSlots::TaskId).big_integer())
                    .primary_key(
                        Index::create()
                            .col(OrchRunSlots::RunId)
                            .col(OrchRunSlots::Slot),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(READY_INDEX).await?;
        db.execute_unprepared(FREE_SLOTS_INDEX).await?;
        db.execute_unprepared(SLOT_TASK_INDEX).await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(PG_FUNCTION).await?;
                db.execute_unprepared(PG_TRIGGER).await?;
                db.execute_unprepared(PG_UNREADY_FUNCTION).await?;
                db.execute_unprepared(PG_UNREADY_TRIGGER).await?;
            }
            _ => {
                db.execute_unprepared(SQLITE_RELEASE).await?;
                db.execute_unprepared(SQLITE_TAKE).await?;
                db.execute_unprepared(SQLITE_UNREADY).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("DROP TRIGGER orch_unready ON agents_tasks")
                    .await?;
                db.execute_unprepared("DROP FUNCTION orch_unready()")
                    .await?;
                db.execute_unprepared("DROP TRIGGER orch_release_slot ON agents_tasks")
                    .await?;
                db.execute_unprepared("DROP FUNCTION orch_release_slot()")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP TRIGGER orch_unready").await?;
                db.execute_unprepared("DROP TRIGGER orch_take_slot").await?;
                db.execute_unprepared("DROP TRIGGER orch_release_slot")
                    .await?;
            }
        }
        manager
            .drop_table(Table::drop().table(OrchRunSlots::Table).to_owned())
            .await?;
        db.execute_unprepared("DROP INDEX ix_agents_tasks_ready")
            .await?;
        manager
            .drop_table(Table::drop().table(OrchWorkers::Table).to_owned())
            .await?;
        for column in [
            AgentsTasks::OnLost,
            AgentsTasks::RunsOn,
            AgentsTasks::Claim,
            AgentsTasks::ReadyAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AgentsTasks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            AgentsRuns::DecisionsSeen,
            AgentsRuns::Concurrency,
            AgentsRuns::Queue,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AgentsRuns::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AgentsRuns {
    Table,
    Queue,
    Concurrency,
    DecisionsSeen,
}

#[derive(DeriveIden)]
enum AgentsTasks {
    Table,
    ReadyAt,
    Claim,
    RunsOn,
    OnLost,
}

#[derive(DeriveIden)]
enum OrchRunSlots {
    Table,
    RunId,
    Slot,
    TaskId,
}

#[derive(DeriveIden)]
enum OrchWorkers {
    Table,
    Id,
    Host,
    Pid,
    Version,
    Labels,
    Queues,
    Slots,
    StartedAt,
    HeartbeatAt,
    DrainingAt,
    StoppedAt,
}
