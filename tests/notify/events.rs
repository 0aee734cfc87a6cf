//! What is sent, to whom, on which event: the seed's payloads byte for byte, the events a
//! plan opts into, and decisions taken later from the CLI or the API.

use std::time::Duration;

use orch::store::webhook_delivery::DeliveryStatus;
use rstest::rstest;
use serde_json::{Value, json};

use super::{GATES, orch, slack_of};
use crate::support::http::{Served, bodies, http_client, ok_receiver, received};
use crate::support::wait::eventually;
use crate::support::{Backend, TestDb, by_task};

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaiting_approval_sends_the_exact_seed_payloads(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = ok_receiver().await;
    // The environment alone is enough: the plan has no `notify` block.
    let run = orch(&db, &["run", db.plan(GATES)])
        .env("SLACK_WEBHOOK", format!("{}/slack/T0/B0/XYZ", server.uri()))
        .env("EMAIL_WEBHOOK", format!("{}/email", server.uri()))
        .success();

    let rows = db.rows().await;
    let seo = by_task(&rows, "seo.validate");
    let dx = by_task(&rows, "dx.integrate");
    let run_id = &seo.run_id;
    // Byte for byte, as the seed shows them.
    // Byte for byte; sorted, since deliveries go out side by side.
    let mut slack: Vec<String> = received(&server, "/slack/T0/B0/XYZ")
        .await
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    slack.sort();
    assert_eq!(
            slack,
            [
                format!(
                    r#"{{"text":"Task dx.integrate awaiting approval (run {run_id}, id {})"}}"#,
                    dx.id
                ),
                r#"{"text":"Task seo.validate awaiting approval: https://github.com/user/repo/pull/123"}"#
                    .to_owned(),
            ]
        );
    let mut email = bodies(&server, "/email").await;
    email.sort_by_key(|b| b["task"] != "seo.validate");
    assert_eq!(
        email[0],
        json!({
            "run_id": run_id,
            "task": "seo.validate",
            "status": "awaiting_approval",
            "outputs_uri": "https://github.com/user/repo/pull/123",
            "log_excerpt": "opened https://github.com/user/repo/pull/123",
        })
    );
    let keys: Vec<&String> = email[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["run_id", "task", "status", "outputs_uri", "log_excerpt"],
        "the seed's key order"
    );
    assert_eq!(email[1]["outputs_uri"], Value::Null);
    for r in received(&server, "/email").await {
        assert_eq!(r.headers["content-type"], "application/json");
    }

    // Every delivery recorded, delivered on the first attempt, its URL without a path.
    let d = db.deliveries().await;
    assert_eq!(d.len(), 4);
    for row in &d {
        assert_eq!(row.status, DeliveryStatus::Delivered, "{row:?}");
        assert_eq!((row.attempts, row.last_status), (1, Some(200)));
        assert_eq!(row.url_redacted, server.uri());
        assert!(row.delivered_at.is_some());
    }
    assert_eq!(d[0].target, "slack");
    assert_eq!(d[1].target, "email");
    assert_eq!(d[0].task_id, Some(seo.id));
    assert_eq!(d[0].event, "awaiting_approval");
    // Nothing printed the webhook's path (its credential).
    let list = orch(&db, &["notify", "list"]).output();
    for text in [run.stdout(), run.stderr(), list.stdout()] {
        assert!(!text.contains("T0/B0/XYZ"), "{text}");
    }
    list.stdout_has("delivered");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opted_in_events_reach_their_targets(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = ok_receiver().await;
    let plan = r#"
name: events
notify:
  slack:
    on: [failed, run_finished]
  email:
    on: [failed]
tasks:
  - task: ok
    shell: "echo 'built https://ci.example.com/artifacts/9'"
  - task: boom
    shell: "echo broken; exit 3"
"#;
    orch(&db, &["run", db.plan(plan)])
        .env("SLACK_WEBHOOK", slack_of(&server))
        .env("EMAIL_WEBHOOK", format!("{}/email", server.uri()))
        .code(1);
    let rows = db.rows().await;
    let boom = by_task(&rows, "boom");
    let run_id = &boom.run_id;

    // Deliveries go out side by side: arrival order is not guaranteed.
    let mut slack: Vec<String> = bodies(&server, "/slack")
        .await
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect();
    slack.sort();
    assert_eq!(slack.len(), 2, "{slack:?}");
    assert_eq!(
        slack[1],
        format!("Task boom failed (run {run_id}, id {})", boom.id)
    );
    let summary = &slack[0];
    assert!(
        summary.starts_with(&format!("Run {run_id} finished in ")),
        "{summary}"
    );
    assert!(
        summary.ends_with(": 1 succeeded, 1 failed\n• ok: https://ci.example.com/artifacts/9"),
        "{summary}"
    );
    let email = bodies(&server, "/email").await;
    assert_eq!(
        email,
        [json!({
            "run_id": run_id,
            "task": "boom",
            "status": "failed",
            "outputs_uri": null,
            "log_excerpt": "broken\nexit status 3",
            "event": "failed",
        })]
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_notifies_the_runs_saved_targets(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = ok_receiver().await;
    let plan = r#"
name: decide
notify:
  email:
    on: [approved, rejected]
  audit:
    url: ${AUDIT_HOOK}
    on: [approved, rejected]
tasks:
  - task: a
    shell: "echo one"
    approval: always
  - task: b
    shell: "echo two"
    approval: always
"#;
    let email_url = format!("{}/email", server.uri());
    let audit_url = format!("{}/audit", server.uri());
    orch(&db, &["run", db.plan(plan)])
        .env("EMAIL_WEBHOOK", &email_url)
        .env("AUDIT_HOOK", &audit_url)
        .success();
    assert!(
        received(&server, "/email").await.is_empty(),
        "no gate event asked for"
    );
    let rows = db.rows().await;
    let (a, b) = (by_task(&rows, "a"), by_task(&rows, "b"));

    // Approve from elsewhere: no plan file, the same variables.
    std::fs::remove_file(db.path().join("plan.yaml")).unwrap();
    orch(
        &db,
        &[
            "approve",
            &a.id.to_string(),
            "--by",
            "alice",
            "--note",
            "looks good",
        ],
    )
    .env("EMAIL_WEBHOOK", &email_url)
    .env("AUDIT_HOOK", &audit_url)
    .success();
    assert_eq!(
        bodies(&server, "/email").await,
        [json!({
            "run_id": a.run_id,
            "task": "a",
            "status": "succeeded",
            "outputs_uri": null,
            "log_excerpt": "one",
            "event": "approved",
            "approver": "alice",
            "note": "looks good",
        })]
    );
    let audit = bodies(&server, "/audit").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["event"], "approved");
    assert_eq!(audit[0]["task"]["id"], a.id);
    assert_eq!(audit[0]["task"]["approver"], "alice");

    // Through the API: the real server, the same variables in its environment.
    let served = Served::start(
        db.orch()
            .env("EMAIL_WEBHOOK", &email_url)
            .env("AUDIT_HOOK", &audit_url),
    );
    let resp = http_client()
        .post(served.url(&format!("/agents/tasks/{}/reject", b.id)))
        .json(&json!({"by": "bob", "note": "not now"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The answer does not wait for the webhooks: wait for them here.
    let email = eventually(
        100,
        Duration::from_millis(50),
        || bodies(&server, "/email"),
        |email| email.len() == 2,
    )
    .await;
    drop(served);
    assert_eq!(email.len(), 2, "{email:?}");
    assert_eq!(email[1]["event"], "rejected");
    assert_eq!(email[1]["status"], "failed");
    assert_eq!(email[1]["approver"], "bob");
    assert_eq!(email[1]["note"], "not now");
}
