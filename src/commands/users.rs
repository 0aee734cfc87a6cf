//! `orch users add`, `list`, `disable` and `enable`.

use serde_json::json;

use crate::cli::UsersCommand;
use crate::error::Result;
use crate::format::time::timestamp;
use crate::store::Store;
use crate::store::users::{self, Toggled, User};
use crate::ui::{Output, identity};

pub async fn run(store: &Store, cmd: UsersCommand, out: Output) -> Result<i32> {
    match cmd {
        UsersCommand::Add(args) => {
            let user = users::add(&store.db, &args.name, &args.groups).await?;
            if args.json {
                out.json(&user_json(&user))?;
            } else {
                out.print(&format!("added user `{}`", user.user.name))?;
            }
        }
        UsersCommand::List(args) => {
            let all = users::list(&store.db).await?;
            if args.json {
                out.json(&serde_json::Value::Array(
                    all.iter().map(user_json).collect(),
                ))?;
            } else if all.is_empty() && out.tty {
                out.print("no users yet: add one with `orch users add NAME`")?;
            } else {
                out.print(&identity::users(&all, out.tty))?;
            }
        }
        UsersCommand::Disable(args) => {
            let name = &args.name;
            match users::set_disabled(&store.db, name, true).await? {
                Toggled::Now => out.print(&format!(
                    "disabled user `{name}`: their tokens are refused from now on"
                ))?,
                Toggled::Already => out.print(&format!("user `{name}` was disabled already"))?,
            }
        }
        UsersCommand::Enable(args) => {
            let name = &args.name;
            match users::set_disabled(&store.db, name, false).await? {
                Toggled::Now => out.print(&format!("enabled user `{name}`"))?,
                Toggled::Already => out.print(&format!("user `{name}` is not disabled"))?,
            }
        }
    }
    Ok(0)
}

fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.user.id,
        "name": u.user.name,
        "groups": u.groups,
        "created_at": timestamp(&u.user.created_at),
        "disabled_at": u.user.disabled_at.as_ref().map(timestamp),
    })
}
