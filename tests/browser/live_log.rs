//! A running task's log follows live on its page: the page, loaded while the task waits after
//! its first line, shows the second line once the task prints it, without a reload.

use rstest::rstest;

use crate::support::browser::{Browser, Options};
use crate::support::http::Served;
use crate::support::wait::wait_for_status;
use crate::support::{Backend, TestDb};
use orch::store::TaskStatus;

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_tasks_log_follows_live(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let Some(browser) = Browser::start(Options::desktop()).await else {
        return;
    };
    // The task prints a line, then waits (bounded) for the test's go-ahead before the next.
    let go = db.path().join("go");
    let plan = format!(
        "name: live\ntasks:\n  - task: follow\n    shell: \"echo 'first line'; for i in $(seq 1 600); do [ -f '{}' ] && break; sleep 0.05; done; echo 'second line'\"\n",
        go.display()
    );
    let run = db.run(&plan).spawn();
    let store = db.store().await;
    let task = wait_for_status(&store, TaskStatus::Running).await;
    let server = Served::start(db.orch());

    browser
        .open(&server.url(&format!("/tasks/{}", task.id)))
        .await;
    let first = browser.wait_for_text("#log", "first line").await;
    assert!(first.contains("first line"), "{first}");
    assert!(!first.contains("second line"), "{first}");
    let page = browser.find("html").await;

    std::fs::write(&go, "").unwrap();
    let log = browser.wait_for_text("#log", "second line").await;
    assert!(
        log.contains("first line\nsecond line"),
        "the log followed: {log}"
    );
    assert!(
        page.tag_name().await.is_ok(),
        "the same page, not a reload, shows it"
    );
    run.wait().exited(0);
    browser.close().await;
    assert!(server.stop().success());
}
