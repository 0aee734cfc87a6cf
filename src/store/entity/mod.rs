//! SeaORM entities: data only. Reads live in `query`, writes in `mutation` and `transition`.

pub mod agents_run;
pub mod agents_task;
