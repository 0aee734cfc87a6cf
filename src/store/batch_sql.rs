//! The SQL of SQLite's batch UPDATE ([`super::batch`]), built by sea-query once per shape and
//! reused after that.
//!
//! Building that statement (a `CASE` per column, the guards twice) was 90,000 instructions
//! per task, more than SQLite took to compile it, and sqlx had it prepared already: its text
//! depends only on the statement's shape (how many steps, each one's `from` status and the
//! columns it sets) and never on the values, which are bound. So the text is kept per shape,
//! and only the values are gathered for each commit.
//!
//! The values must come in the order of the statement's placeholders. That order is
//! sea-query's, so it is not assumed: the first statement of each shape is built by sea-query
//! as before, and its text is kept only if sea-query's values are exactly the ones
//! [`Values::of`] gathers. A shape where they differ is built every time, as it always was.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use sea_orm::IdenStatic;
use sea_orm::sea_query::{SimpleExpr, Value};

use crate::status::{ApprovalState, TaskStatus};
use crate::store::agents_task::Column;
use crate::store::transition::Transition;

/// Each column a batch sets, with the value per row (by row id), in the order they first
/// appear in the steps: the `SET` clause's order.
pub(super) type Columns = Vec<(Column, Vec<(i64, SimpleExpr)>)>;

/// Texts kept per shape. A run uses a handful of shapes; the bound keeps a caller that
/// somehow made endless ones from growing it.
const MAX_SHAPES: usize = 256;

static TEXTS: LazyLock<Mutex<HashMap<String, Arc<str>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// What the statement's text depends on: the steps' `from` statuses, the columns each sets,
/// and the text of any set that is SQL rather than a value (the database's clock).
pub(super) fn shape(steps: &[Transition], columns: &Columns) -> String {
    let mut key = String::with_capacity(256);
    for step in steps {
        key.push_str(step.from.as_str());
        key.push(';');
    }
    for (col, values) in columns {
        key.push_str(col.as_str());
        for (_, expr) in values {
            match expr {
                SimpleExpr::Value(_) => key.push_str(":v"),
                SimpleExpr::Custom(sql) => {
                    key.push_str(":c(");
                    key.push_str(sql);
                    key.push(')');
                }
                other => {
                    key.push_str(":e(");
                    key.push_str(&format!("{other:?}"));
                    key.push(')');
                }
            }
        }
        key.push(';');
    }
    key
}

/// The text kept for `shape`, if any.
pub(super) fn cached(shape: &str) -> Option<Arc<str>> {
    TEXTS.lock().ok()?.get(shape).cloned()
}

/// Keeps `sql` for `shape` when sea-query's own `built` values are the ones [`Values::of`]
/// gathers for the same steps; says whether it was kept.
pub(super) fn keep(shape: String, sql: &str, built: &[Value], gathered: &[Value]) -> bool {
    if built != gathered {
        return false;
    }
    let Ok(mut texts) = TEXTS.lock() else {
        return false;
    };
    if texts.len() >= MAX_SHAPES {
        return false;
    }
    texts.insert(shape, Arc::from(sql));
    true
}

/// How many shapes have a kept text (for the tests: a change to sea-query's order of values
/// would silently turn the reuse off).
pub fn kept_shapes() -> usize {
    TEXTS.lock().map(|t| t.len()).unwrap_or(0)
}

/// The statement's values in the order of its placeholders: each column's `CASE WHEN id = ?
/// THEN ?`, then the guards (`id = ? AND status = ?`, and `approval_state = ?` for a gate),
/// once in the `WHERE` and once in the count, then the count itself.
pub(super) struct Values;

impl Values {
    pub(super) fn of(steps: &[Transition], columns: &Columns) -> Vec<Value> {
        let mut values = Vec::with_capacity(64);
        for (_, per_row) in columns {
            for (id, expr) in per_row {
                values.push(Value::from(*id));
                if let SimpleExpr::Value(v) = expr {
                    values.push(v.clone());
                }
            }
        }
        for _ in 0..2 {
            for step in steps {
                values.push(Value::from(step.id));
                values.push(Value::from(step.from));
                if step.from == TaskStatus::AwaitingApproval {
                    values.push(Value::from(ApprovalState::Pending));
                }
            }
        }
        values.push(Value::from(steps.len() as i64));
        values
    }
}
