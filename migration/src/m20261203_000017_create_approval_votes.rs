//! Approval policy (`approval: {approvers, required, forbid_self, reject}`):
//! - `agents_runs.initiator`: who started the run, so that `forbid_self` can refuse their vote;
//! - `agents_tasks.approval_policy`: the policy a gate opened with, its groups already resolved
//!   to users, so that a membership change later does not change who may vote on it;
//! - `approval_votes`: one row per vote. Its UNIQUE key (task, subject, voter) makes "one vote
//!   per person on what they were shown" a fact of the database; the subject is a digest of the
//!   gate's opening (attempt, time, outputs URI, excerpt), so a task run again starts afresh.
//!
//! Votes cascade with their task (`orch prune` deletes them with the run's rows).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Frozen copies of the values at the time of this migration (see migration 1).
const VERDICTS: [&str; 2] = ["approve", "reject"];
const CHANNELS: [&str; 4] = ["cli", "api", "page", "link"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsRuns::Table)
                    .add_column(ColumnDef::new(AgentsRuns::Initiator).text())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsTasks::Table)
                    .add_column(ColumnDef::new(AgentsTasks::ApprovalPolicy).json_binary())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApprovalVotes::Table)
                    .col(
                        ColumnDef::new(ApprovalVotes::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ApprovalVotes::TaskId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ApprovalVotes::RunId).text().not_null())
                    .col(ColumnDef::new(ApprovalVotes::Subject).text().not_null())
                    .col(ColumnDef::new(ApprovalVotes::Voter).text().not_null())
                    .col(
                        ColumnDef::new(ApprovalVotes::Verdict)
                            .text()
                            .not_null()
                            .check((
                                "approval_votes_verdict_check",
                                Expr::col(ApprovalVotes::Verdict).is_in(VERDICTS),
                            )),
                    )
                    .col(ColumnDef::new(ApprovalVotes::Note).text())
                    .col(
                        ColumnDef::new(ApprovalVotes::Channel)
                            .text()
                            .not_null()
                            .check((
                                "approval_votes_channel_check",
                                Expr::col(ApprovalVotes::Channel).is_in(CHANNELS),
                            )),
                    )
                    .col(
                        ColumnDef::new(ApprovalVotes::CastAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_approval_votes_task_id")
                            .from(ApprovalVotes::Table, ApprovalVotes::TaskId)
                            .to(AgentsTasks::Table, AgentsTasks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_approval_votes_once")
                    .table(ApprovalVotes::Table)
                    .col(ApprovalVotes::TaskId)
                    .col(ApprovalVotes::Subject)
                    .col(ApprovalVotes::Voter)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A run's votes are deleted by run.
        manager
            .create_index(
                Index::create()
                    .name("ix_approval_votes_run_id")
                    .table(ApprovalVotes::Table)
                    .col(ApprovalVotes::RunId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApprovalVotes::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsTasks::Table)
                    .drop_column(AgentsTasks::ApprovalPolicy)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AgentsRuns::Table)
                    .drop_column(AgentsRuns::Initiator)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum AgentsRuns {
    Table,
    Initiator,
}

#[derive(DeriveIden)]
enum AgentsTasks {
    Table,
    Id,
    ApprovalPolicy,
}

#[derive(DeriveIden)]
enum ApprovalVotes {
    Table,
    Id,
    TaskId,
    RunId,
    Subject,
    Voter,
    Verdict,
    Note,
    Channel,
    CastAt,
}
