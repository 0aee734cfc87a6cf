//! With JavaScript off, a person still finds the waiting gate, its run, a task and its log by
//! following links: every page is server-rendered HTML.

use rstest::rstest;

use super::Gated;
use crate::support::browser::{Browser, Options};
use crate::support::{Backend, TestDb};

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_work_with_javascript_off(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let Some(browser) = Browser::start(Options::desktop().without_javascript()).await else {
        return;
    };
    // The browser really runs no page script: a page that would rewrite its text keeps it.
    browser
        .open("data:text/html,<p id=probe>off</p><script>probe.textContent='on'</script>")
        .await;
    assert_eq!(browser.text("#probe").await, "off", "JavaScript is off");

    let gated = Gated::start(&db).await;
    let server = &gated.server;
    browser.open(&server.url("/")).await;
    assert!(browser.text("h1").await.contains("Waiting for a decision"));
    let waiting = browser.text("main table tbody").await;
    assert!(
        waiting.contains("dx.integrate") && waiting.contains("https://github.com/acme/site/pull/9"),
        "{waiting}"
    );

    // The gate's own page, by its link.
    browser
        .click_and_wait(&format!("a[href='/tasks/{}']", gated.gate))
        .await;
    assert!(browser.text("h1").await.contains("dx.integrate"));
    assert!(
        browser
            .text("#log")
            .await
            .contains("review https://github.com/acme/site/pull/9")
    );
    assert!(browser.body_text().await.contains("awaiting_approval"));

    // Its run, every task listed; then a finished task and its log.
    browser
        .click_and_wait(&format!("a[href='/runs/{}']", gated.run_id))
        .await;
    let tasks = browser.text("main table").await;
    for t in ["seo.validate", "code.review", "dx.integrate", "dx.deploy"] {
        assert!(tasks.contains(t), "{tasks}");
    }
    browser
        .click_and_wait(&format!("a[href='/tasks/{}']", gated.review))
        .await;
    let log = browser.text("#log").await;
    assert!(
        log.contains("reviewing 3 pull requests") && log.contains("all checks passed"),
        "{log}"
    );

    // A form: the runs page's filter, typed into and submitted.
    browser.open(&server.url("/runs")).await;
    browser.fill("#plan", "weekly").await;
    browser.click_and_wait("form button[type=submit]").await;
    assert!(
        browser.url().await.contains("plan=weekly"),
        "{}",
        browser.url().await
    );
    assert!(!browser.body_text().await.contains(&gated.run_id));
    browser.fill("#plan", "nightly").await;
    browser.click_and_wait("form button[type=submit]").await;
    assert!(browser.text("main table").await.contains(&gated.run_id));
    browser.close().await;
}
