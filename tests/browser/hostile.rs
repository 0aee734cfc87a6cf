//! Hostile rows in a real browser: markup planted in a task name, a run id, an excerpt, a log,
//! an outputs URI, a decision's note and its `by` is shown as the text it is; no dialog opens,
//! no planted element exists. (The HTTP tests check the escaped bytes; this checks what a
//! browser makes of them, attributes and links included.)

use rstest::rstest;
use serde_json::json;

use crate::support::browser::{Browser, Options};
use crate::support::http::{Served, http_client};
use crate::support::{Backend, TestDb};
use orch::store::TaskStatus;
use orch::store::mutation::{NewTask, insert_task};

const EXCERPT: &str = r#"<script>alert("excerpt")</script><img src=x onerror=alert('excerpt')>"#;
const URI: &str = r#"https://example.com/pr/9?q="><img id=injected src=x onerror=alert('uri')>"#;
const NOTE: &str = r#"</dd><script>alert('note')</script>"double" 'single'"#;
const BY: &str = r#"<b id=injected>mallory</b>"#;
const NAME: &str = r#"<script>alert('name')</script>"#;
const RUN: &str = r#"r"'><img src=x onerror=alert('run')>"#;
const NAMED_EXCERPT: &str = r#"<img src=x onerror=alert('named')>"#;
/// What the gate of `PRINTS_MARKUP` prints, so its log and excerpt hold it.
const PRINTED: &str = r#"<img src=x onerror=alert("log")>"#;

/// A plan whose gate prints markup: it lands in the log and the excerpt.
const PRINTS_MARKUP: &str = r#"
name: markup
tasks:
  - task: gate
    shell: "echo '<img src=x onerror=alert(\"log\")>'; echo 'review https://example.com/9'"
    approval: always
"#;

/// Checks the page shows no dialog, no planted element, no image, and no script but ours.
async fn assert_inert(browser: &Browser) {
    browser.assert_no_dialog().await;
    let url = browser.url().await;
    assert_eq!(
        browser.count("#injected").await,
        0,
        "planted element on {url}"
    );
    assert_eq!(browser.count("img").await, 0, "planted image on {url}");
    assert_eq!(
        browser.count("script:not([src='/assets/orch.js'])").await,
        0,
        "planted script on {url}"
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_markup_is_shown_as_text_and_never_runs(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let Some(browser) = Browser::start(Options::desktop()).await else {
        return;
    };
    db.run(PRINTS_MARKUP).success();
    let server = Served::start(db.orch());

    // Through the API (open on loopback): an excerpt and outputs URI; a decision's note and
    // `by` (taken as given on an open server).
    let http = http_client();
    let post = |path: String, body: serde_json::Value| {
        let http = http.clone();
        let url = server.url(&path);
        async move {
            let resp = http.post(url).json(&body).send().await.unwrap();
            assert!(resp.status().is_success(), "{path}: {}", resp.status());
            resp.json::<serde_json::Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap()
        }
    };
    let waiting = post(
        "/agents/tasks".into(),
        json!({"task": "planted", "run_id": "hostile", "status": "awaiting_approval",
               "outputs_uri": URI, "log_excerpt": EXCERPT}),
    )
    .await;
    let decided = post(
        "/agents/tasks".into(),
        json!({"task": "decided", "run_id": "hostile", "status": "awaiting_approval"}),
    )
    .await;
    post(
        format!("/agents/tasks/{decided}/approve"),
        json!({"by": BY, "note": NOTE}),
    )
    .await;
    // The API refuses such a task name and run id (`[A-Za-z0-9._-]+`): planted through the
    // store, as any other writer of the table could, since the pages must not rely on it.
    let store = db.store().await;
    let named = insert_task(
        &store.db,
        NewTask {
            log_excerpt: Some(NAMED_EXCERPT.into()),
            ..NewTask::new(NAME, RUN, TaskStatus::AwaitingApproval)
        },
    )
    .await
    .unwrap();

    // The inbox shows every planted string as text, and links to every page planted.
    browser.open(&server.url("/")).await;
    assert_inert(&browser).await;
    let inbox = browser.body_text().await;
    for text in [EXCERPT, URI, NAME, RUN, NAMED_EXCERPT, PRINTED] {
        assert!(inbox.contains(text), "inbox lacks {text:?}:\n{inbox}");
    }
    let outputs = browser
        .eval("return Array.from(document.querySelectorAll('a[rel=noreferrer]')).map(a => a.getAttribute('href'))")
        .await;
    assert!(
        outputs.as_array().unwrap().contains(&json!(URI)),
        "the outputs link goes where the row says, quotes and all: {outputs}"
    );
    let links = browser
        .eval(
            "return Array.from(document.querySelectorAll('main a[href^=\"/\"]')).map(a => a.href)",
        )
        .await;
    let links: Vec<String> = serde_json::from_value(links).unwrap();

    // Every page the inbox links to (each run and task planted) is inert too.
    for link in &links {
        browser.open(link).await;
        assert_inert(&browser).await;
    }
    let expect = [
        (format!("/tasks/{waiting}"), vec![EXCERPT, URI]),
        (format!("/tasks/{decided}"), vec![NOTE, BY]),
        (
            format!("/tasks/{}", named.id),
            vec![NAME, RUN, NAMED_EXCERPT],
        ),
        ("/runs/hostile".to_owned(), vec![BY]),
    ];
    for (path, texts) in expect {
        browser.open(&server.url(&path)).await;
        assert_inert(&browser).await;
        let body = browser.body_text().await;
        for text in texts {
            assert!(body.contains(text), "{path} lacks {text:?}:\n{body}");
        }
    }
    // The run with quotes in its id, reached by its link from the inbox (its id URL-encoded).
    let run_link = links
        .iter()
        .find(|l| l.contains("/runs/r%22"))
        .unwrap_or_else(|| panic!("no link to the quoted run among {links:?}"));
    browser.open(run_link).await;
    assert_inert(&browser).await;
    assert!(browser.text("h1").await.contains(RUN));
    assert!(browser.body_text().await.contains(NAME));

    // The gate that printed markup: its log on its page.
    let printed = db
        .rows()
        .await
        .into_iter()
        .find(|r| r.run_id.starts_with("markup"))
        .unwrap();
    browser
        .open(&server.url(&format!("/tasks/{}", printed.id)))
        .await;
    assert_inert(&browser).await;
    assert!(browser.text("#log").await.contains(PRINTED));
    browser.close().await;
    assert!(server.stop().success());
}
