//! `orch tokens create`, `list` and `revoke`. The token is printed once by `create`; only
//! its SHA-256 is stored, and no listing shows either.

use serde_json::json;

use crate::cli::{Expiry, TokensCommand};
use crate::error::{Error, Result};
use crate::format::time::timestamp;
use crate::identity::token::NewToken;
use crate::store::Store;
use crate::store::entity::orch_api_token;
use crate::store::tokens::{self, Revoked};
use crate::store::users;
use crate::ui::{Output, identity};

pub async fn run(store: &Store, cmd: TokensCommand, out: Output) -> Result<i32> {
    match cmd {
        TokensCommand::Create(args) => {
            let user = users::get(&store.db, &args.user).await?;
            if user.disabled_at.is_some() {
                return Err(Error::UserDisabled { name: user.name });
            }
            let expires_at = match args.expires {
                Expiry::Never => None,
                Expiry::After(d) => Some(
                    crate::store::now()
                        + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX),
                ),
            };
            let token = NewToken::generate().map_err(|source| Error::Io {
                context: "reading the OS random source".to_owned(),
                source,
            })?;
            let row =
                tokens::create(&store.db, user.id, token.digest(), args.scope, expires_at).await?;
            if args.json {
                let mut value = token_json(&row, &user.name);
                value["token"] = json!(token.reveal());
                out.json(&value)?;
            } else if out.tty {
                out.print(&format!(
                    "token {} for `{}` (scope `{}`, expires {}); shown this once, store it now:\n{}",
                    row.id,
                    user.name,
                    row.scope,
                    row.expires_at
                        .as_ref()
                        .map_or_else(|| "never".to_owned(), timestamp),
                    token.reveal()
                ))?;
            } else {
                // Off a terminal, the token alone: `TOKEN=$(orch tokens create …)`.
                out.print(token.reveal())?;
            }
        }
        TokensCommand::List(args) => {
            let rows = tokens::list(&store.db).await?;
            if args.json {
                out.json(&serde_json::Value::Array(
                    rows.iter().map(|r| token_json(&r.token, &r.user)).collect(),
                ))?;
            } else if rows.is_empty() && out.tty {
                out.print("no tokens yet: create one with `orch tokens create --user NAME`")?;
            } else {
                out.print(&identity::tokens(&rows, out.tty))?;
            }
        }
        TokensCommand::Revoke(args) => match tokens::revoke(&store.db, args.id).await? {
            Revoked::Now => out.print(&format!("revoked token {}", args.id))?,
            Revoked::Already => out.print(&format!("token {} was revoked already", args.id))?,
        },
    }
    Ok(0)
}

/// A token row as JSON: never its digest.
fn token_json(t: &orch_api_token::Model, user: &str) -> serde_json::Value {
    json!({
        "id": t.id,
        "user": user,
        "scope": t.scope,
        "created_at": timestamp(&t.created_at),
        "expires_at": t.expires_at.as_ref().map(timestamp),
        "revoked_at": t.revoked_at.as_ref().map(timestamp),
        "last_used_at": t.last_used_at.as_ref().map(timestamp),
    })
}
