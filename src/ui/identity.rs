//! Tables of users and tokens (never a token or its digest).

use crate::format::or_dash;
use crate::format::time::when;
use crate::store::tokens::TokenRow;
use crate::store::users::User;
use crate::ui::table::{new_table, render};

pub fn users(users: &[User], tty: bool) -> String {
    let mut table = new_table(tty, &["USER", "GROUPS", "CREATED", "DISABLED"]);
    for u in users {
        let groups = u.groups.join(",");
        table.add_row(vec![
            u.user.name.clone(),
            or_dash(Some(groups.as_str())),
            when(Some(&u.user.created_at)),
            when(u.user.disabled_at.as_ref()),
        ]);
    }
    render(&table)
}

pub fn tokens(rows: &[TokenRow], tty: bool) -> String {
    let mut table = new_table(
        tty,
        &[
            "ID",
            "USER",
            "SCOPE",
            "CREATED",
            "EXPIRES",
            "REVOKED",
            "LAST USED",
        ],
    );
    for r in rows {
        let t = &r.token;
        table.add_row(vec![
            t.id.to_string(),
            r.user.clone(),
            t.scope.clone(),
            when(Some(&t.created_at)),
            t.expires_at
                .as_ref()
                .map_or_else(|| "never".to_owned(), |e| when(Some(e))),
            when(t.revoked_at.as_ref()),
            when(t.last_used_at.as_ref()),
        ]);
    }
    render(&table)
}
