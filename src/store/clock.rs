//! The database's clock, as SQL: heartbeats and staleness are judged by one clock that every
//! orch host shares, whatever their own clocks say.
//!
//! On SQLite, timestamps are text compared as text, so the expression writes exactly the
//! shape the driver writes (`2026-12-01T02:30:00.123+00:00`) and comparisons stay in order.

use std::time::Duration;

use sea_orm::DbBackend;
use sea_orm::sea_query::{Expr, SimpleExpr};

const SQLITE_NOW: &str = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'";

/// The database's current time.
pub fn db_now(backend: DbBackend) -> SimpleExpr {
    match backend {
        DbBackend::Sqlite => Expr::cust(format!("{SQLITE_NOW})")),
        _ => Expr::cust("CURRENT_TIMESTAMP"),
    }
}

/// The database's current time, `age` ago.
pub fn db_ago(backend: DbBackend, age: Duration) -> SimpleExpr {
    let ms = age.as_millis();
    match backend {
        DbBackend::Sqlite => Expr::cust(format!(
            "{SQLITE_NOW}, '-{}.{:03} seconds')",
            ms / 1000,
            ms % 1000
        )),
        _ => Expr::cust(format!(
            "(CURRENT_TIMESTAMP - interval '{ms} milliseconds')"
        )),
    }
}
