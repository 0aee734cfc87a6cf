//! A person given a token logs in on a phone, finds the waiting gate in the inbox, approves it
//! with a note, and the decision is recorded under their name; the run's dependents run after
//! `orch resume`. A second person's decision on the same page shows who decided first. With
//! JavaScript on and off: the forms are plain HTML.

use orch::store::{ApprovalState, TaskStatus};
use rstest::rstest;

use super::{Gated, log_in, token};
use crate::support::browser::{Browser, Options};
use crate::support::{Backend, TestDb, by_task};

#[rstest]
#[case::sqlite_javascript(Backend::Sqlite, true)]
#[case::sqlite_no_javascript(Backend::Sqlite, false)]
#[case::postgres_javascript(Backend::Postgres, true)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_logs_in_on_a_phone_and_approves_and_a_second_sees_who_was_first(
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
    let Some(ana) = Browser::start(options).await else {
        return;
    };
    let Some(bob) = Browser::start(options).await else {
        return;
    };
    let gated = Gated::start(&db).await;
    let (ana_token, bob_token) = (token(&db, "ana"), token(&db, "bob"));

    log_in(&ana, &gated, &ana_token).await;
    assert!(ana.text("header").await.contains("Signed in as ana"));
    // The inbox lists the gate; its link opens the task page with the forms.
    let inbox = ana.text("main table").await;
    assert!(inbox.contains("dx.integrate"), "{inbox}");
    ana.click_and_wait(&format!("main a[href='/tasks/{}']", gated.gate))
        .await;
    assert!(ana.text("h1").await.contains("dx.integrate"));

    // bob has the same page open before ana decides.
    log_in(&bob, &gated, &bob_token).await;
    bob.open(&gated.server.url(&format!("/tasks/{}", gated.gate)))
        .await;
    assert!(
        bob.text("#decide ~ form, form.decide")
            .await
            .contains("Recorded as bob")
    );

    ana.fill("#note", "checked the diff on my phone").await;
    ana.click_and_wait(&format!(
        "button[formaction='/tasks/{}/approve']",
        gated.gate
    ))
    .await;
    let decided = ana.body_text().await;
    assert!(decided.contains("approved by ana"), "{decided}");
    assert_eq!(ana.count("form.decide").await, 0, "no forms once decided");
    assert!(ana.scroll_width().await <= 375, "the page fits the phone");

    let rows = db.rows().await;
    let gate = by_task(&rows, "dx.integrate");
    assert_eq!(gate.status, TaskStatus::Succeeded);
    assert_eq!(gate.approval_state, Some(ApprovalState::Approved));
    assert_eq!(gate.approver.as_deref(), Some("ana"));
    assert_eq!(
        gate.approval_note.as_deref(),
        Some("checked the diff on my phone")
    );

    // bob's Reject, from the page he still has open, is told who decided first.
    bob.fill("#note", "not yet").await;
    bob.click_and_wait(&format!(
        "button[formaction='/tasks/{}/reject']",
        gated.gate
    ))
    .await;
    let notice = bob.text(".notice").await;
    assert!(notice.contains("already approved by `ana`"), "{notice}");
    assert_eq!(
        by_task(&db.rows().await, "dx.integrate")
            .approver
            .as_deref(),
        Some("ana")
    );
    bob.assert_no_dialog().await;

    db.orch().args(["resume", &gated.run_id]).success();
    assert_eq!(
        by_task(&db.rows().await, "dx.deploy").status,
        TaskStatus::Succeeded
    );
    ana.close().await;
    bob.close().await;
}

/// A gate for two of ana, bob and cy, its run started by cy (`forbid_self`).
const TWO_APPROVERS: &str = r#"
name: release
tasks:
  - task: dx.integrate
    run: [echo, "https://example.test/pr/7"]
    approval:
      approvers: ["group:release"]
      required: 2
      forbid_self: true
  - task: dx.deploy
    run: [echo, deployed]
    depends_on: [dx.integrate]
"#;

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_approver_gate_waits_for_the_second_and_refuses_the_initiator(
    #[case] backend: Backend,
) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let Some(browser) = Browser::start(Options::phone()).await else {
        return;
    };
    let tokens: Vec<String> = ["ana", "bob", "cy"]
        .iter()
        .map(|u| {
            db.orch()
                .args(["users", "add", u, "--group", "release"])
                .success();
            db.orch()
                .args(["tokens", "create", "--user", u, "--scope", "decide"])
                .success()
                .stdout()
                .trim()
                .to_owned()
        })
        .collect();
    db.run(TWO_APPROVERS).env("USER", "cy").success();
    let rows = db.rows().await;
    let gate = by_task(&rows, "dx.integrate");
    let gated = Gated {
        server: crate::support::http::Served::start(db.orch()),
        run_id: gate.run_id.clone(),
        gate: gate.id,
        review: gate.id,
    };
    let page = gated.server.url(&format!("/tasks/{}", gated.gate));
    let approve = format!("button[formaction='/tasks/{}/approve']", gated.gate);

    // cy started the run: the page offers no forms, and says why.
    log_in(&browser, &gated, &tokens[2]).await;
    browser.open(&page).await;
    assert_eq!(browser.count("form.decide").await, 0);
    let why = browser.text("#barred").await;
    assert!(why.contains("forbid_self"), "{why}");

    // ana's approval counts and the page says what is still needed.
    browser
        .click_and_wait("header form[action='/logout'] button")
        .await;
    log_in(&browser, &gated, &tokens[0]).await;
    browser.open(&page).await;
    browser.click_and_wait(&approve).await;
    let standing = browser.text("#standing").await;
    assert!(
        standing.contains("1 of 2 approvals: ana approved; needs 1 more of `group:release`"),
        "{standing}"
    );
    assert!(standing.contains("`cy` (started the run)"), "{standing}");
    assert_eq!(
        by_task(&db.rows().await, "dx.integrate").status,
        TaskStatus::AwaitingApproval
    );
    assert!(
        browser.scroll_width().await <= 375,
        "the votes fit the phone"
    );

    // bob's approval decides it.
    browser
        .click_and_wait("header form[action='/logout'] button")
        .await;
    log_in(&browser, &gated, &tokens[1]).await;
    browser.open(&page).await;
    browser.fill("#note", "second pair of eyes").await;
    browser.click_and_wait(&approve).await;
    assert!(
        browser.body_text().await.contains("approved by ana, bob"),
        "{}",
        browser.body_text().await
    );
    let gate = by_task(&db.rows().await, "dx.integrate").clone();
    assert_eq!(gate.approval_state, Some(ApprovalState::Approved));
    assert_eq!(browser.count("#votes tbody tr").await, 2);
    browser.close().await;
}
