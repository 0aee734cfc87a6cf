//! Retries: a 5xx or a timeout is tried again, a 4xx is not, `Retry-After` is honoured, and a
//! delivery is given up after twelve attempts or when its target is gone.

use std::time::Duration;

use orch::store::TaskStatus;
use orch::store::webhook_delivery::DeliveryStatus;
use rstest::rstest;
use wiremock::ResponseTemplate;

use super::{execute, orch, run_gates, slack_of};
use crate::support::http::{fails_then_succeeds, received, receiver};
use crate::support::{Backend, TestDb};

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_retried_until_it_succeeds(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = fails_then_succeeds(ResponseTemplate::new(500), 2).await;
    run_gates(&db, &["--only", "dx.integrate"], &slack_of(&server)).success();
    assert_eq!(received(&server, "/slack").await.len(), 3);
    let d = db.deliveries().await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].status, DeliveryStatus::Delivered);
    assert_eq!((d[0].attempts, d[0].last_status), (3, Some(200)));
    assert_eq!(d[0].last_error, None);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_retried_then_kept_without_failing_the_run(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = receiver(ResponseTemplate::new(200).set_delay(Duration::from_secs(5))).await;
    // Waiting for a person is not a failure, and neither is a lost webhook.
    run_gates(&db, &["--only", "dx.integrate"], &slack_of(&server))
        .env("ORCH_NOTIFY_TIMEOUT_MS", "300")
        .success()
        .stderr_has("1 notification of run ");
    assert_eq!(received(&server, "/slack").await.len(), 3);
    let d = db.deliveries().await;
    assert_eq!(d[0].status, DeliveryStatus::Pending);
    assert_eq!((d[0].attempts, d[0].last_status), (3, None));
    assert_eq!(d[0].last_error.as_deref(), Some("no answer within 300ms"));
    assert_eq!(d[0].locked_until, None, "released for `orch notify retry`");
    assert_eq!(db.rows().await[0].status, TaskStatus::AwaitingApproval);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_not_retried(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = receiver(ResponseTemplate::new(404).set_body_string("no_service")).await;
    run_gates(&db, &["--only", "dx.integrate"], &slack_of(&server)).success();
    assert_eq!(received(&server, "/slack").await.len(), 1);
    let d = db.deliveries().await;
    assert_eq!(d[0].status, DeliveryStatus::Failed);
    assert_eq!((d[0].attempts, d[0].last_status), (1, Some(404)));
    assert_eq!(d[0].last_error.as_deref(), Some("HTTP 404: no_service"));
    let listed = orch(&db, &["notify", "list", "--failed", "--json"])
        .output()
        .stdout_json();
    assert_eq!(listed[0]["status"], "failed");
    assert!(
        listed[0]["payload"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Task dx.integrate")
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_as_long_as_retry_after_says(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let failure = ResponseTemplate::new(429).insert_header("retry-after", "1");
    let server = fails_then_succeeds(failure, 1).await;
    // A backoff far longer than the wait: only `Retry-After: 1` lets the second attempt
    // happen before orch stops waiting.
    run_gates(&db, &["--only", "dx.integrate"], &slack_of(&server))
        .env("ORCH_NOTIFY_BACKOFF_MS", "600000")
        .env("ORCH_NOTIFY_WAIT_MS", "20000")
        .success();
    let d = db.deliveries().await;
    assert_eq!(d[0].status, DeliveryStatus::Delivered, "{:?}", d[0]);
    assert_eq!((d[0].attempts, d[0].last_status), (2, Some(200)));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_given_up_after_twelve_attempts_or_without_a_target(
    #[case] backend: Backend,
) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = receiver(ResponseTemplate::new(503)).await;
    let url = slack_of(&server);
    run_gates(&db, &[], &url).success();
    let d = db.deliveries().await;
    assert!(
        d.iter()
            .all(|r| r.attempts == 3 && r.status == DeliveryStatus::Pending)
    );

    // One has been tried ten times already; the other's run forgot its target.
    execute(
        &db,
        &format!(
            "UPDATE webhook_deliveries SET attempts = 10 WHERE id = {}",
            d[0].id
        ),
    )
    .await;
    execute(
        &db,
        &format!(
            "UPDATE webhook_deliveries SET target = 'gone' WHERE id = {}",
            d[1].id
        ),
    )
    .await;
    orch(&db, &["notify", "retry"])
        .env("SLACK_WEBHOOK", &url)
        .code(6);
    let d = db.deliveries().await;
    assert_eq!(d[0].status, DeliveryStatus::Failed);
    assert_eq!(d[0].attempts, 12);
    assert_eq!(
        d[0].last_error.as_deref(),
        Some("HTTP 503 (gave up after 12 attempts)")
    );
    assert_eq!(d[1].status, DeliveryStatus::Failed);
    assert_eq!(d[1].attempts, 3, "no request without a target");
    assert!(
        d[1].last_error
            .as_deref()
            .unwrap()
            .contains("has no saved target `gone`"),
        "{:?}",
        d[1]
    );
    // `--id` still tries a failed one on request.
    orch(&db, &["notify", "retry", "--id", &d[0].id.to_string()])
        .env("SLACK_WEBHOOK", &url)
        .code(6);
    assert_eq!(db.deliveries().await[0].attempts, 13);
}
