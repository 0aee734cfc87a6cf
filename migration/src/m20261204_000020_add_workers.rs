//! Workers (issue 21): runs recorded with `orch run --enqueue` are driven by `orch worker`
//! processes that claim their ready tasks from `agents_tasks` itself, with `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, as River, Oban and Solid Queue do over their jobs tables.
//!
//! - `agents_runs.queue`: the queue a run waits on; NULL for a run its own `orch run` drives.
//! - `agents_runs.concurrency`: how many of the run's tasks may run at once, across all
//!   workers; `agents_runs.running`: how many do now, kept by a trigger on every move into or
//!   out of `running`, so no path (a worker, the reaper of lost tasks, the API) can forget it.
//!   A claim locks the run row and re-checks `running < concurrency` on its newest version
//!   (PostgreSQL re-evaluates an UPDATE's condition after waiting for the row), which a count
//!   in the claim's own snapshot could not do: two claimers would both see room for one.
//! - `agents_runs.decisions_seen`: how many of the run's gates were decided when a worker
//!   last judged which tasks are ready; a different count means a decision (CLI, API, page)
//!   came since, and a worker makes the gate's dependents ready.
//! - `agents_tasks.ready_at`: set when a queued task's dependencies allow it to start (judged
//!   by whoever ended the last of them, with the local runner's readiness rules); claims take
//!   ready rows oldest first, through the partial index `ix_agents_tasks_ready`, so a table of
//!   a million finished rows costs a claim nothing.
//! - `agents_tasks.claim`: the fencing token, raised by each claim; every later write of the
//!   task by its worker checks owner and token, so a worker judged lost cannot overwrite what
//!   happened after.
//! - `agents_tasks.runs_on` (a JSON object of labels a worker must have), `on_lost` (`retry`
//!   when a lost worker's task may run again), copied from the plan when the run is recorded.
//! - `orch_workers`: one row per worker process (`orch workers list`), kept by its heartbeat.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The trigger's arithmetic: +1 entering `running`, -1 leaving it, only for runs that
/// workers drive (a local run's row is not locked by its own transitions).
const SQLITE_TRIGGER: &str = "CREATE TRIGGER orch_count_running AFTER UPDATE OF status \
     ON agents_tasks WHEN (NEW.status = 'running') <> (OLD.status = 'running') \
     BEGIN UPDATE agents_runs SET running = running + \
     CASE WHEN NEW.status = 'running' THEN 1 ELSE -1 END \
     WHERE run_id = NEW.run_id AND queue IS NOT NULL; END";

const PG_FUNCTION: &str = "CREATE FUNCTION orch_count_running() RETURNS trigger \
     LANGUAGE plpgsql AS $$ BEGIN \
     UPDATE agents_runs SET running = running + \
     CASE WHEN NEW.status = 'running' THEN 1 ELSE -1 END \
     WHERE run_id = NEW.run_id AND queue IS NOT NULL; RETURN NULL; END $$";

const PG_TRIGGER: &str = "CREATE TRIGGER orch_count_running AFTER UPDATE OF status \
     ON agents_tasks FOR EACH ROW \
     WHEN ((NEW.status = 'running') IS DISTINCT FROM (OLD.status = 'running')) \
     EXECUTE FUNCTION orch_count_running()";

/// Ready rows only: the claim's index stays as small as the queue, whatever the history.
const READY_INDEX: &str = "CREATE INDEX ix_agents_tasks_ready ON agents_tasks (ready_at, id) \
     WHERE status = 'queued' AND ready_at IS NOT NULL";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let run_columns = [
            ColumnDef::new(AgentsRuns::Queue).text().to_owned(),
            ColumnDef::new(AgentsRuns::Concurrency).integer().to_owned(),
            ColumnDef::new(AgentsRuns::Running)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
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
        let db = manager.get_connection();
        db.execute_unprepared(READY_INDEX).await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(PG_FUNCTION).await?;
                db.execute_unprepared(PG_TRIGGER).await?;
            }
            _ => {
                db.execute_unprepared(SQLITE_TRIGGER).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("DROP TRIGGER orch_count_running ON agents_tasks")
                    .await?;
                db.execute_unprepared("DROP FUNCTION orch_count_running()")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP TRIGGER orch_count_running")
                    .await?;
            }
        }
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
            AgentsRuns::Running,
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
    Running,
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
