//! One row of `approval_reminders`: a reminder or escalation sent about one opening of a
//! gate. Its unique key (task, opening, kind, age) is what makes each one sent once.

use sea_orm::entity::prelude::*;

/// A reminder to the gate's own targets, or the escalation to others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    #[sea_orm(string_value = "remind")]
    Remind,
    #[sea_orm(string_value = "escalate")]
    Escalate,
}

impl ReminderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::Remind => "remind",
            ReminderKind::Escalate => "escalate",
        }
    }

    /// How a sentence names it: `reminder`, `escalation`.
    pub fn noun(self) -> &'static str {
        match self {
            ReminderKind::Remind => "reminder",
            ReminderKind::Escalate => "escalation",
        }
    }
}

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_reminders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: i64,
    #[sea_orm(column_type = "Text")]
    pub run_id: String,
    /// The task's `finished_at` when its gate opened.
    pub opened_at: DateTimeUtc,
    pub kind: ReminderKind,
    /// The gate's age it is due at.
    pub after_ms: i64,
    pub due_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
