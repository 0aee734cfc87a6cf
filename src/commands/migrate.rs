//! `orch migrate up|down|status|fresh`.

use crate::cli::MigrateCommand;
use crate::error::{Error, Result};
use crate::store::{Store, migrate};
use crate::ui::{Output, table};

pub async fn run(store: &Store, cmd: MigrateCommand, out: Output) -> Result<i32> {
    match cmd {
        MigrateCommand::Up => {
            let ran = migrate::apply_pending(store, false).await?;
            out.print(&format!(
                "applied {ran} migration{} to {}",
                if ran == 1 { "" } else { "s" },
                store.target
            ))?;
        }
        MigrateCommand::Down { steps } => {
            migrate::down(store, steps).await?;
            out.print(&format!(
                "rolled back {steps} migration(s) on {}",
                store.target
            ))?;
        }
        MigrateCommand::Status { json } => {
            let states = migrate::status(&store.db).await?;
            if json {
                out.json(&serde_json::to_value(&states).unwrap_or_default())?;
            } else {
                out.print(&table::migrations(&states, out.tty))?;
            }
        }
        MigrateCommand::Fresh { yes } => {
            if !yes {
                return Err(Error::ConfirmationRequired {
                    what: "`orch migrate fresh`",
                });
            }
            migrate::fresh(store).await?;
            out.print(&format!(
                "rolled back every orch migration and applied them again on {}: orch's tables are empty",
                store.target
            ))?;
        }
    }
    Ok(0)
}
