//! SeaORM entities: data only. Reads live in `query`, writes in `mutation` and `transition`
//! (deliveries: `delivery`).

pub mod agents_run;
pub mod agents_run_lock;
pub mod agents_task;
pub mod webhook_delivery;
