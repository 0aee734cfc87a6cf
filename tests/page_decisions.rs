//! Deciding from the task page: Approve and Reject forms recorded under the logged-in
//! person (or the one the trusted proxy names), refused without the form's token, from
//! another site or with a read-only token; a decision someone took first shown with who
//! took it; on both databases.

use orch::store::{ApprovalState, TaskStatus};
use reqwest::StatusCode;
use rstest::rstest;
use sea_orm::ConnectionTrait;

use crate::support::http::Served;
use crate::support::pages::Visitor;
use crate::support::{Backend, TestDb, by_task};

const GATED: &str = r#"
name: release
tasks:
  - task: build
    run: [echo, built]
  - task: gate
    run: [echo, "ready"]
    approval: always
    depends_on: [build]
  - task: deploy
    run: [echo, deployed]
    depends_on: [gate]
"#;

fn token(db: &TestDb, user: &str, scope: &str) -> String {
    db.orch()
        .args(["tokens", "create", "--user", user, "--scope", scope])
        .success()
        .stdout()
        .trim()
        .to_owned()
}

/// A run waiting at its gate, users `ana` and `bob` with decide tokens; the gate's id.
async fn waiting(db: &TestDb) -> (i64, String, String) {
    db.run(GATED).success();
    for name in ["ana", "bob"] {
        db.orch().args(["users", "add", name]).success();
    }
    let gate = by_task(&db.rows().await, "gate").id;
    (gate, token(db, "ana", "decide"), token(db, "bob", "decide"))
}

async fn gate_row(db: &TestDb) -> orch::store::agents_task::Model {
    by_task(&db.rows().await, "gate").clone()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_on_the_page_records_the_person_and_resume_runs_the_rest(
    #[case] backend: Backend,
) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (gate, ana_token, _) = waiting(&db).await;
    let server = Served::start(db.orch());
    let mut ana = Visitor::new(&server.url(""));
    ana.login(&ana_token).await;

    let page = ana.get(&format!("/tasks/{gate}")).await;
    assert!(page.body.contains(">Approve</button>"), "{}", page.body);
    assert!(page.body.contains("Recorded as <strong>ana</strong>"));
    let done = ana
        .submit(
            &format!("/tasks/{gate}"),
            &format!("/tasks/{gate}/approve"),
            &[("note", "ship it <b>now</b>")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), format!("/tasks/{gate}"));

    let row = gate_row(&db).await;
    assert_eq!(row.status, TaskStatus::Succeeded);
    assert_eq!(row.approval_state, Some(ApprovalState::Approved));
    assert_eq!(row.approver.as_deref(), Some("ana"));
    assert_eq!(row.approval_note.as_deref(), Some("ship it <b>now</b>"));
    let after = ana.get(&format!("/tasks/{gate}")).await;
    assert!(after.body.contains("approved by ana"), "{}", after.body);
    assert!(
        after.body.contains("ship it &#60;b&#62;now")
            || after.body.contains("ship it &lt;b&gt;now")
    );
    assert!(
        !after.body.contains(">Approve</button>"),
        "no forms once decided"
    );

    db.orch().args(["resume", &row.run_id]).success();
    assert_eq!(
        by_task(&db.rows().await, "deploy").status,
        TaskStatus::Succeeded
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_decision_shows_who_decided_first(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (gate, ana_token, bob_token) = waiting(&db).await;
    let server = Served::start(db.orch());
    let mut ana = Visitor::new(&server.url(""));
    let mut bob = Visitor::new(&server.url(""));
    ana.login(&ana_token).await;
    bob.login(&bob_token).await;
    // Both have the page open; ana approves first.
    let bobs_page = bob.get(&format!("/tasks/{gate}")).await;
    let bobs_token = bobs_page.form_token().unwrap();
    ana.submit(
        &format!("/tasks/{gate}"),
        &format!("/tasks/{gate}/approve"),
        &[],
    )
    .await;
    let late = bob
        .post(
            &format!("/tasks/{gate}/reject"),
            &[("form_token", &bobs_token), ("note", "no")],
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(
        late.body.contains("already approved by `ana`"),
        "{}",
        late.body
    );
    assert!(late.body.contains("role=\"alert\""), "{}", late.body);
    let row = gate_row(&db).await;
    assert_eq!(row.approver.as_deref(), Some("ana"));
    assert_eq!(row.approval_note, None);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_forms_change_nothing(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (gate, ana_token, bob_token) = waiting(&db).await;
    db.orch().args(["users", "add", "rita"]).success();
    let rita_token = token(&db, "rita", "read");
    let server = Served::start(db.orch());
    let mut ana = Visitor::new(&server.url(""));
    let mut bob = Visitor::new(&server.url(""));
    let mut rita = Visitor::new(&server.url(""));
    ana.login(&ana_token).await;
    bob.login(&bob_token).await;
    rita.login(&rita_token).await;
    let path = format!("/tasks/{gate}");
    let approve = format!("/tasks/{gate}/approve");
    let anas_token = ana.get(&path).await.form_token().unwrap();
    let bobs_token = bob.get(&path).await.form_token().unwrap();

    // No token, another session's token, a foreign page with the right token.
    let none = ana.post(&approve, &[("note", "x")]).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    assert!(none.body.contains("nothing was changed"), "{}", none.body);
    let other = ana.post(&approve, &[("form_token", &bobs_token)]).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let abroad = ana
        .post_from(
            &approve,
            &[("form_token", &anas_token)],
            "https://evil.example",
        )
        .await;
    assert_eq!(abroad.status, StatusCode::FORBIDDEN);
    assert!(abroad.body.contains("another site"), "{}", abroad.body);
    // Without the cookie (a page elsewhere posting with a stolen form token).
    let bare = Visitor::new(&server.url(""));
    let stolen = bare.post(&approve, &[("form_token", &anas_token)]).await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN);

    // A body that is not a form is a page saying so, not a framework message.
    let json = ana
        .http
        .post(server.url(&approve))
        .header("cookie", ana.cookie.clone().unwrap())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    assert!(json.text().await.unwrap().contains("could not be read"));

    // A read token sees no forms, and its own form token (the logout form's) cannot decide.
    let ritas_page = rita.get(&path).await;
    assert!(!ritas_page.body.contains(">Approve</button>"));
    assert!(
        ritas_page.body.contains("does not allow deciding"),
        "{}",
        ritas_page.body
    );
    let ritas_token = ritas_page.form_token().unwrap();
    let read_only = rita.post(&approve, &[("form_token", &ritas_token)]).await;
    assert_eq!(read_only.status, StatusCode::FORBIDDEN);
    assert!(read_only.body.contains("scope"), "{}", read_only.body);

    // The API still takes JSON only: a form body there is refused.
    let api = crate::support::http::http_client()
        .post(server.url(&format!("/agents/tasks/{gate}/approve")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("by=ana")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let row = gate_row(&db).await;
    assert_eq!(row.status, TaskStatus::AwaitingApproval);
    assert_eq!(row.approver, None);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_after_the_deadline_says_orch_rejected_it(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (gate, ana_token, _) = waiting(&db).await;
    let server = Served::start(db.orch());
    let mut ana = Visitor::new(&server.url(""));
    ana.login(&ana_token).await;
    let path = format!("/tasks/{gate}");
    let form_token = ana.get(&path).await.form_token().unwrap();
    db.store()
        .await
        .db
        .execute_unprepared(&format!(
            "UPDATE agents_tasks SET approval_deadline = '2000-01-01T00:00:00+00:00' WHERE id = {gate}"
        ))
        .await
        .unwrap();
    let late = ana
        .post(&format!("{path}/approve"), &[("form_token", &form_token)])
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert!(late.body.contains("role=\"alert\""), "{}", late.body);
    let row = gate_row(&db).await;
    assert_eq!(row.approval_state, Some(ApprovalState::Rejected));
    assert_ne!(row.approver.as_deref(), Some("ana"));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_person_the_proxy_names_decides_with_the_form(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (gate, _, _) = waiting(&db).await;
    let server = Served::start_with(
        db.orch(),
        &[
            "--trusted-user-header",
            "X-Remote-User",
            "--trusted-proxy",
            "127.0.0.1/32",
        ],
    );
    let http = Visitor::new(&server.url("")).http;
    let path = server.url(&format!("/tasks/{gate}"));
    let page = http
        .get(&path)
        .header("x-remote-user", "bob")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Signed in as <strong>bob</strong>"), "{page}");
    assert!(
        !page.contains("action=\"/logout\""),
        "the proxy logs people out, not orch"
    );
    let at = page.find("name=\"form_token\" value=\"").unwrap();
    let form_token = &page[at..].split('"').nth(3).unwrap();
    let body = crate::support::pages::form_body(&[("form_token", form_token), ("note", "ok")]);
    let post = |who: &'static str, body: String| {
        http.post(format!("{path}/approve"))
            .header("x-remote-user", who)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    // Another name with bob's form token is refused; bob's own goes through.
    assert_eq!(
        post("ana", body.clone()).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post("bob", body).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let row = gate_row(&db).await;
    assert_eq!(row.approver.as_deref(), Some("bob"));
    // Without the header, reading needs a login.
    let bare = http
        .get(&path)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::SEE_OTHER);
    // The pages' script polling without a credential is told 401, not sent to a login page.
    let polled = http
        .get(server.url(&format!("/tasks/{gate}/log")))
        .send()
        .await
        .unwrap();
    assert_eq!(polled.status(), StatusCode::UNAUTHORIZED);
}

const TWO_APPROVERS: &str = r#"
name: release
tasks:
  - task: gate
    run: [echo, "ready <script>alert(1)</script>"]
    approval:
      approvers: [ana, bob]
      required: 2
      forbid_self: true
"#;

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_approver_gate_counts_page_votes_until_both_are_in(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    for name in ["ana", "bob", "cy"] {
        db.orch().args(["users", "add", name]).success();
    }
    // Started by cy, who is not an approver; then cy tries anyway.
    db.run(TWO_APPROVERS).env("USER", "cy").success();
    let gate = by_task(&db.rows().await, "gate").id;
    let (ana_token, bob_token, cy_token) = (
        token(&db, "ana", "decide"),
        token(&db, "bob", "decide"),
        token(&db, "cy", "decide"),
    );
    let server = Served::start(db.orch());
    let path = format!("/tasks/{gate}");
    let approve = format!("/tasks/{gate}/approve");

    let mut cy = Visitor::new(&server.url(""));
    cy.login(&cy_token).await;
    // No forms for cy, and why; a vote posted anyway is refused by the same rule.
    let offered = cy.get(&path).await;
    assert!(
        !offered.body.contains(">Approve</button>"),
        "{}",
        offered.body
    );
    assert!(offered.body.contains(r#"id="barred""#), "{}", offered.body);
    assert!(offered.body.contains("may not vote"), "{}", offered.body);
    let form = offered.form_token().unwrap();
    let refused = cy.post(&approve, &[("form_token", &form)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("may not vote"), "{}", refused.body);

    let mut ana = Visitor::new(&server.url(""));
    ana.login(&ana_token).await;
    // A vote carrying a subject the gate no longer has (another run of the task) is refused.
    let stale = "0".repeat(64);
    let page = ana.get(&path).await;
    let form = page.form_token().unwrap();
    let old = ana
        .post(&approve, &[("form_token", &form), ("subject", &stale)])
        .await;
    assert_eq!(old.status, StatusCode::CONFLICT, "{}", old.body);
    assert!(old.body.contains("ran again"), "{}", old.body);

    let first = ana.submit(&path, &approve, &[]).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert_eq!(gate_row(&db).await.status, TaskStatus::AwaitingApproval);
    let shown = ana.get(&path).await;
    assert!(
        shown
            .body
            .contains("1 of 2 approvals: ana approved; needs 1 more of"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains(r#"id="votes""#), "{}", shown.body);
    assert!(!shown.body.contains("<script>alert"), "{}", shown.body);

    let mut bob = Visitor::new(&server.url(""));
    bob.login(&bob_token).await;
    let second = bob.submit(&path, &approve, &[("note", "both agree")]).await;
    assert_eq!(second.status, StatusCode::SEE_OTHER, "{}", second.body);
    let row = gate_row(&db).await;
    assert_eq!(row.approval_state, Some(ApprovalState::Approved));
    assert_eq!(row.approver.as_deref(), Some("ana, bob"));
    let after = bob.get(&path).await;
    assert!(
        after.body.contains("approved by ana, bob"),
        "{}",
        after.body
    );
    assert!(after.body.contains("2 of 2 approvals"), "{}", after.body);
}
