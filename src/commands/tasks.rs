//! `orch tasks list` and `orch tasks show`.

use crate::cli::TasksCommand;
use crate::error::Result;
use crate::store::query::{TaskFilter, get_task, list_tasks};
use crate::store::requeue::attempts_of;
use crate::store::{Store, json};
use crate::ui::{Output, table};

pub async fn run(store: &Store, cmd: TasksCommand, out: Output) -> Result<i32> {
    match cmd {
        TasksCommand::List(args) => {
            let filter = TaskFilter {
                status: args.status,
                run_id: args.run_id,
                task: args.task,
                limit: Some(args.limit),
            };
            let rows = list_tasks(&store.db, &filter).await?;
            if args.json {
                out.json(&json::tasks(&rows))?;
            } else if rows.is_empty() && out.tty {
                out.print("no tasks match")?;
            } else {
                out.print(&table::tasks(&rows, out.tty))?;
            }
        }
        TasksCommand::Show(args) => {
            let row = get_task(&store.db, args.id).await?;
            let attempts = attempts_of(&store.db, row.id).await?;
            let votes = crate::store::votes::votes(&store.db, row.id).await?;
            if args.json {
                let mut value = json::task_with_attempts(&row, &attempts);
                json::add_approval(&mut value, &row, &votes);
                out.json(&value)?;
            } else {
                let mut text = table::task_detail(&row, out.tty);
                if row.approval_state.is_some() {
                    let initiator = crate::store::votes::initiator(&store.db, &row.run_id).await?;
                    text.push_str(&table::votes(&row, &votes, initiator.as_deref(), out.tty));
                }
                if !attempts.is_empty() {
                    text.push_str(&table::previous_attempts(&attempts, out.tty));
                }
                out.print(&text)?;
            }
        }
    }
    Ok(0)
}
