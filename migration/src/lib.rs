//! The ordered, append-only list of orch's schema migrations.
//!
//! A migration that has landed on `main` is never edited: a later change is a new file,
//! appended at the end of [`Migrator::migrations`]. orch refuses to touch a database that
//! has a migration this list does not know (it was migrated by a newer orch).

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_agents_tasks;
mod m20261125_000002_create_agents_runs;
mod m20261125_000003_add_log_dir_to_agents_runs;
mod m20261125_000004_add_attempt_and_exit_code;
mod m20261201_000005_add_notify_to_agents_runs;
mod m20261201_000006_create_webhook_deliveries;
mod m20261201_000007_add_approval_deadline;
mod m20261201_000008_create_agents_run_locks;
mod m20261201_000009_add_task_status_and_owner_indexes;
mod m20261202_000010_create_users_and_tokens;
mod m20261202_000011_create_sessions;
mod m20261202_000012_create_task_transition_counts;
mod m20261203_000013_create_approval_reminders;
mod m20261203_000014_add_run_control;
mod m20261203_000017_create_approval_votes;
mod m20261204_000018_create_task_summaries;
mod m20261204_000019_create_approval_links;
mod m20261204_000020_add_workers;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_agents_tasks::Migration),
            Box::new(m20261125_000002_create_agents_runs::Migration),
            Box::new(m20261125_000003_add_log_dir_to_agents_runs::Migration),
            Box::new(m20261125_000004_add_attempt_and_exit_code::Migration),
            Box::new(m20261201_000005_add_notify_to_agents_runs::Migration),
            Box::new(m20261201_000006_create_webhook_deliveries::Migration),
            Box::new(m20261201_000007_add_approval_deadline::Migration),
            Box::new(m20261201_000008_create_agents_run_locks::Migration),
            Box::new(m20261201_000009_add_task_status_and_owner_indexes::Migration),
            Box::new(m20261202_000010_create_users_and_tokens::Migration),
            Box::new(m20261202_000011_create_sessions::Migration),
            Box::new(m20261202_000012_create_task_transition_counts::Migration),
            Box::new(m20261203_000013_create_approval_reminders::Migration),
            Box::new(m20261203_000014_add_run_control::Migration),
            Box::new(m20261203_000017_create_approval_votes::Migration),
            Box::new(m20261204_000018_create_task_summaries::Migration),
            Box::new(m20261204_000019_create_approval_links::Migration),
            Box::new(m20261204_000020_add_workers::Migration),
        ]
    }
}

/// The names of every migration this build knows, oldest first.
pub fn known_migrations() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}
