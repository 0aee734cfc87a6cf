//! A one-click link from a real notification, opened in a real browser: not signed in, it
//! asks its voter to sign in and comes back; then the confirmation page shows the gate (its
//! outputs link and excerpt, planted markup as text) and one button, with JavaScript on and
//! off; opening it votes nothing, its button votes once, and opening the link again says it
//! was used. Also the two screenshots of docs/WEB.md's link section.

use std::path::Path;

use orch::store::{ApprovalState, TaskStatus};
use rstest::rstest;

use super::log_in_at;
use crate::support::browser::{Browser, Options};
use crate::support::http::{Served, bodies, ok_receiver};
use crate::support::{Backend, TestDb, by_task};

const LINKED: &str = r#"
name: release
notify:
  slack: {}
tasks:
  - task: deploy.prod
    shell: "echo 'deploying build 512 <script>alert(1)</script>'; echo 'review https://github.com/acme/site/pull/9'"
    approval:
      approvers: [ana, bob, cy]
      required: 2
      forbid_self: true
      links: 24h
"#;

#[rstest]
#[case::sqlite_javascript(Backend::Sqlite, true)]
#[case::sqlite_no_javascript(Backend::Sqlite, false)]
#[case::postgres_javascript(Backend::Postgres, true)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_confirms_before_it_votes_and_votes_once(
    #[case] backend: Backend,
    #[case] javascript: bool,
) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let options = if javascript {
        Options::phone()
    } else {
        Options::phone().without_javascript()
    };
    let Some(browser) = Browser::start(options).await else {
        return;
    };
    let tokens: Vec<String> = ["ana", "bob", "cy"]
        .iter()
        .map(|u| {
            db.orch().args(["users", "add", u]).success();
            db.orch()
                .args(["tokens", "create", "--user", u, "--scope", "decide"])
                .success()
                .stdout()
                .trim()
                .to_owned()
        })
        .collect();
    let server = Served::start(db.orch());
    let slack = ok_receiver().await;
    db.run(LINKED)
        .env("USER", "cy")
        .env("ORCH_PUBLIC_URL", server.url(""))
        .env("SLACK_WEBHOOK", format!("{}/slack", slack.uri()))
        .success();
    let body = bodies(&slack, "/slack").await.remove(0);
    let url_of = |label: &str| -> String {
        body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .find(|e| e["text"]["text"] == label)
            .unwrap_or_else(|| panic!("no `{label}` button in {body}"))["url"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let link = url_of("Approve as ana");

    // Not signed in, the link asks for ana's login and comes back to itself.
    browser.open(&link).await;
    assert_eq!(browser.text("h1").await, "Sign in as ana to vote");
    assert!(
        !browser.body_text().await.contains("deploying"),
        "no excerpt yet"
    );
    browser.click_and_wait("main a.button").await;
    browser.fill("#token", &tokens[0]).await;
    browser
        .click_and_wait("main form button[type=submit]")
        .await;
    assert_eq!(
        browser.url().await,
        link,
        "back at the link after signing in"
    );
    // Opening it (as a preview would) shows the gate and records nothing.
    browser.open(&link).await;
    let heading = browser.text("h1").await;
    assert_eq!(heading, "Approve task deploy.prod as ana?");
    let page = browser.body_text().await;
    assert!(
        page.contains("deploying build 512 <script>alert(1)</script>"),
        "{page}"
    );
    browser.assert_no_dialog().await;
    assert_eq!(
        browser
            .count("a[href='https://github.com/acme/site/pull/9']")
            .await,
        1
    );
    assert!(
        browser.scroll_width().await <= 375,
        "the page fits the phone"
    );
    let gate = by_task(&db.rows().await, "deploy.prod").clone();
    assert_eq!(gate.status, TaskStatus::AwaitingApproval);
    let store = db.store().await;
    assert!(
        orch::store::votes::votes(&store.db, gate.id)
            .await
            .unwrap()
            .is_empty()
    );

    // Its button votes; the gate waits for a second approver.
    browser.fill("#note", "checked the diff").await;
    browser.click_and_wait("form.decide button").await;
    assert_eq!(browser.text("h1").await, "Vote recorded");
    assert!(
        browser.body_text().await.contains("your vote is recorded"),
        "{}",
        browser.body_text().await
    );
    // Opened again, the link says it was used.
    browser.open(&link).await;
    assert_eq!(browser.text("h1").await, "This link was used");
    assert_eq!(browser.count("form.decide").await, 0);

    // bob's link decides it, once bob is signed in.
    browser
        .click_and_wait("header form[action='/logout'] button")
        .await;
    log_in_at(&browser, &server, &tokens[1]).await;
    browser.open(&url_of("Approve as bob")).await;
    browser.click_and_wait("form.decide button").await;
    let row = orch::store::query::get_task(&store.db, gate.id)
        .await
        .unwrap();
    assert_eq!(row.approval_state, Some(ApprovalState::Approved));
    assert_eq!(row.approver.as_deref(), Some("ana, bob"));
    let votes = orch::store::votes::votes(&store.db, gate.id).await.unwrap();
    assert_eq!(votes[0].note.as_deref(), Some("checked the diff"));
    browser.close().await;
}

/// The link's confirmation page at a phone's and a desktop's width, for docs/WEB.md; written
/// to `docs/screenshots/` only with `ORCH_SCREENSHOTS=1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_a_links_confirmation_page() {
    let db = TestDb::sqlite().await;
    for u in ["ana", "bob", "cy"] {
        db.orch().args(["users", "add", u]).success();
    }
    let server = Served::start(db.orch());
    let slack = ok_receiver().await;
    db.run(LINKED)
        .env("USER", "cy")
        .env("ORCH_PUBLIC_URL", server.url(""))
        .env("SLACK_WEBHOOK", format!("{}/slack", slack.uri()))
        .success();
    let body = bodies(&slack, "/slack").await.remove(0);
    let link = body["blocks"][1]["elements"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let write = std::env::var("ORCH_SCREENSHOTS").as_deref() == Ok("1");
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    let ana = db
        .orch()
        .args(["tokens", "create", "--user", "ana", "--scope", "decide"])
        .success()
        .stdout()
        .trim()
        .to_owned();
    for (size, options) in [("phone", Options::phone()), ("desktop", Options::desktop())] {
        let Some(browser) = Browser::start(options).await else {
            return;
        };
        // As ana sees it, signed in.
        log_in_at(&browser, &server, &ana).await;
        browser.open(&link).await;
        let png = browser.screenshot().await;
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        if write {
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join(format!("link-{size}.png")), &png).unwrap();
        }
        browser.close().await;
    }
}
