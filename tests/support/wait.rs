//! Polling: waiting for something another process does, with a bound, never a bare sleep.

use std::future::Future;
use std::time::Duration;

use orch::store::{Store, TaskStatus, agents_task};

/// Waits (up to 10 s) until some task of `store` is in `status`, and returns it.
pub async fn wait_for_status(store: &Store, status: TaskStatus) -> agents_task::Model {
    for _ in 0..400 {
        let rows = orch::store::query::list_tasks(&store.db, &Default::default())
            .await
            .unwrap_or_default();
        if let Some(row) = rows.into_iter().find(|r| r.status == status) {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no task became {status}");
}

/// Calls `fetch` every `every` until what it returns is `done`, `tries` times at most, and
/// returns the last value either way: the caller asserts on it, so a timeout shows what came.
pub async fn eventually<T, F, Fut>(
    tries: u32,
    every: Duration,
    mut fetch: F,
    done: impl Fn(&T) -> bool,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut last = fetch().await;
    for _ in 1..tries {
        if done(&last) {
            break;
        }
        tokio::time::sleep(every).await;
        last = fetch().await;
    }
    last
}
