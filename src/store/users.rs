//! `orch_users` and `orch_user_groups`: adding users with their groups, listing them,
//! finding one by name (the trusted proxy's header, `tokens create --user`), and disabling or
//! enabling one (each one guarded update).

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

use crate::error::{Error, Result};
use crate::store::entity::{orch_user, orch_user_group};

/// A user and the groups they are in (sorted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub user: orch_user::Model,
    pub groups: Vec<String>,
}

/// Adds `name` with `groups` in one transaction; a taken name is `Error::UserExists`.
pub async fn add(db: &sea_orm::DatabaseConnection, name: &str, groups: &[String]) -> Result<User> {
    // The insert comes first, with no read before it: on SQLite a transaction that reads and
    // then writes is refused at once (`database is locked`, no busy wait) when another process
    // wrote in between, as `orch serve`'s sweeper does every pass. A taken name is told by the
    // unique index instead.
    let txn = db.begin().await.map_err(Error::db)?;
    let user = orch_user::ActiveModel {
        name: Set(name.to_owned()),
        created_at: Set(crate::store::now()),
        disabled_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await
    // The name taken (also by an add at the same moment): the unique index decides.
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Error::UserExists {
            name: name.to_owned(),
        },
        _ => Error::db(e),
    })?;
    let mut groups: Vec<String> = groups.to_vec();
    groups.sort();
    groups.dedup();
    for group in &groups {
        orch_user_group::ActiveModel {
            user_id: Set(user.id),
            group_name: Set(group.clone()),
        }
        .insert(&txn)
        .await
        .map_err(Error::db)?;
    }
    txn.commit().await.map_err(Error::db)?;
    Ok(User { user, groups })
}

pub async fn find(db: &impl ConnectionTrait, name: &str) -> Result<Option<orch_user::Model>> {
    orch_user::Entity::find()
        .filter(orch_user::Column::Name.eq(name))
        .one(db)
        .await
        .map_err(Error::db)
}

/// Whether `name` is a user who has been disabled (a name with no user is not).
pub async fn is_disabled(db: &impl ConnectionTrait, name: &str) -> Result<bool> {
    Ok(find(db, name)
        .await?
        .is_some_and(|u| u.disabled_at.is_some()))
}

/// The user named `name`, or `Error::UnknownUser`.
pub async fn get(db: &impl ConnectionTrait, name: &str) -> Result<orch_user::Model> {
    find(db, name).await?.ok_or_else(|| Error::UnknownUser {
        name: name.to_owned(),
    })
}

/// What `set_disabled` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toggled {
    Now,
    Already,
}

/// Disables (`disable = true`) or enables user `name` with one `UPDATE … WHERE name = ? AND
/// disabled_at IS [NOT] NULL`: of two at once, one changes the row and the other is told it
/// was so already. A disabled user's tokens and proxy header are refused from the next
/// request on (they are checked against the row on every request); the tokens themselves are
/// kept, so enabling the user brings them back.
pub async fn set_disabled(db: &impl ConnectionTrait, name: &str, disable: bool) -> Result<Toggled> {
    let (value, guard) = if disable {
        (
            Expr::value(Some(crate::store::now())),
            orch_user::Column::DisabledAt.is_null(),
        )
    } else {
        (
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            orch_user::Column::DisabledAt.is_not_null(),
        )
    };
    let result = orch_user::Entity::update_many()
        .col_expr(orch_user::Column::DisabledAt, value)
        .filter(orch_user::Column::Name.eq(name))
        .filter(guard)
        .exec(db)
        .await
        .map_err(Error::db)?;
    if result.rows_affected == 1 {
        return Ok(Toggled::Now);
    }
    get(db, name).await.map(|_| Toggled::Already)
}

/// Every user by name, with their groups.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<User>> {
    let users = orch_user::Entity::find()
        .order_by_asc(orch_user::Column::Name)
        .all(db)
        .await
        .map_err(Error::db)?;
    let memberships = orch_user_group::Entity::find()
        .order_by_asc(orch_user_group::Column::GroupName)
        .all(db)
        .await
        .map_err(Error::db)?;
    Ok(users
        .into_iter()
        .map(|user| {
            let groups = memberships
                .iter()
                .filter(|m| m.user_id == user.id)
                .map(|m| m.group_name.clone())
                .collect();
            User { user, groups }
        })
        .collect())
}

/// Whether user `user_id` is in `group` (one indexed lookup).
pub async fn in_group(db: &impl ConnectionTrait, user_id: i64, group: &str) -> Result<bool> {
    Ok(
        orch_user_group::Entity::find_by_id((user_id, group.to_owned()))
            .one(db)
            .await
            .map_err(Error::db)?
            .is_some(),
    )
}

/// An `approvers` list resolved to the users who may vote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Approvers {
    /// Enabled users named, or members of a group named, sorted and each once.
    pub voters: Vec<String>,
    /// Entries that name no user, or a group no user is in.
    pub unknown: Vec<String>,
}

/// Resolves `approvers` entries (`alice`, `group:release`) to today's enabled users. A
/// disabled user is known (not reported) but may not vote.
pub async fn resolve_approvers(db: &impl ConnectionTrait, entries: &[String]) -> Result<Approvers> {
    let users = list(db).await?;
    let mut resolved = Approvers::default();
    for entry in entries {
        let matched: Vec<&User> = match entry.strip_prefix(crate::status::GROUP_PREFIX) {
            Some(group) => users
                .iter()
                .filter(|u| u.groups.iter().any(|g| g == group))
                .collect(),
            None => users.iter().filter(|u| &u.user.name == entry).collect(),
        };
        if matched.is_empty() {
            resolved.unknown.push(entry.clone());
        }
        resolved.voters.extend(
            matched
                .into_iter()
                .filter(|u| u.user.disabled_at.is_none())
                .map(|u| u.user.name.clone()),
        );
    }
    resolved.voters.sort();
    resolved.voters.dedup();
    Ok(resolved)
}
