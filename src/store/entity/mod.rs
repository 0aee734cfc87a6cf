//! SeaORM entities: data only. Reads live in `query`, writes in `mutation` and `transition`
//! (deliveries: `delivery`).

pub mod agents_run;
pub mod agents_run_lock;
pub mod agents_task;
pub mod agents_task_attempt;
pub mod approval_link;
pub mod approval_reminder;
pub mod approval_vote;
pub mod orch_api_token;
pub mod orch_run_slot;
pub mod orch_session;
pub mod orch_user;
pub mod orch_user_group;
pub mod orch_worker;
pub mod webhook_delivery;
