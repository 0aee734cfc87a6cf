//! Nothing is lost: what could not be delivered stays in the outbox for `orch notify retry` or
//! the next command, and an orch whose stdout closes still delivers.

use std::time::Duration;

use orch::store::webhook_delivery::DeliveryStatus;
use rstest::rstest;
use wiremock::ResponseTemplate;

use super::{GATES, execute, orch, run_gates, slack_of};
use crate::support::http::{bodies, free_port, received, receiver, receiver_on};
use crate::support::{Backend, Cmd, TestDb, orch_bin};

/// A free port with nothing listening on it, and the Slack address there.
fn nothing_listening() -> (u16, String) {
    let port = free_port();
    (port, format!("http://127.0.0.1:{port}/slack"))
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_the_whole_run_loses_nothing(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    // A port with nothing listening, then a receiver on that very port.
    let (port, url) = nothing_listening();
    run_gates(&db, &[], &url)
        .success()
        .stderr_has("2 notifications of run ")
        .stderr_has("`orch notify retry`");
    let d = db.deliveries().await;
    assert_eq!(d.len(), 2);
    for row in &d {
        assert_eq!(row.status, DeliveryStatus::Pending);
        assert_eq!(row.attempts, 3);
        assert!(
            row.last_error
                .as_deref()
                .unwrap()
                .starts_with("cannot connect"),
            "{row:?}"
        );
    }
    let pending = orch(&db, &["notify", "list", "--failed", "--json"])
        .output()
        .stdout_json();
    assert_eq!(pending.as_array().unwrap().len(), 2);

    // Without the variable, a retry says why and keeps the rows.
    orch(&db, &["notify", "retry"])
        .code(6)
        .stdout_has("`SLACK_WEBHOOK` is not set");

    let server = receiver_on(port, ResponseTemplate::new(200)).await;
    let out = orch(&db, &["notify", "retry"])
        .env("SLACK_WEBHOOK", &url)
        .success();
    assert_eq!(
        out.stdout().matches(": delivered (HTTP 200").count(),
        2,
        "{}",
        out.stdout()
    );
    let slack = bodies(&server, "/slack").await;
    assert_eq!(slack.len(), 2);
    assert!(slack.iter().any(|b| {
        b["text"]
            .as_str()
            .unwrap()
            .starts_with("Task seo.validate awaiting approval: https://")
    }));
    for row in db.deliveries().await {
        assert_eq!(row.status, DeliveryStatus::Delivered);
        assert_eq!(row.attempts, 4);
    }
    orch(&db, &["notify", "retry"])
        .output()
        .stdout_has("nothing to retry");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_commands_sweep_deliveries_a_minute_old(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let (port, url) = nothing_listening();
    run_gates(&db, &["--only", "seo.validate"], &url).success();
    let server = receiver_on(port, ResponseTemplate::new(200)).await;

    // Fresh: a decision leaves it to whoever recorded it.
    let gate = db.rows().await[0].id;
    orch(&db, &["approve", &gate.to_string()])
        .env("SLACK_WEBHOOK", &url)
        .success();
    assert!(bodies(&server, "/slack").await.is_empty());

    // A minute old: the next run sends it again, alongside its own.
    let old = match db.backend {
        Backend::Postgres => "now() - interval '2 minutes'".to_owned(),
        Backend::Sqlite => format!(
            "'{}'",
            orch::store::json::timestamp(&(chrono::Utc::now() - chrono::Duration::minutes(2)))
        ),
    };
    execute(
        &db,
        &format!("UPDATE webhook_deliveries SET created_at = {old}"),
    )
    .await;
    run_gates(&db, &["--only", "dx.integrate"], &url).success();
    let texts: Vec<String> = bodies(&server, "/slack")
        .await
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.iter().any(|t| t.starts_with("Task seo.validate")));
    assert!(texts.iter().any(|t| t.starts_with("Task dx.integrate")));
    assert!(
        db.deliveries()
            .await
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered)
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_does_not_cut_deliveries_off(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = receiver(ResponseTemplate::new(200).set_delay(Duration::from_millis(300))).await;
    db.plan(GATES);
    // `| true` closes stdout before orch prints its summary.
    Cmd::new("sh")
        .current_dir(db.path())
        .arg("-c")
        .arg(format!("'{}' run plan.yaml | true", orch_bin().display()))
        .env("DATABASE_URL", &db.url)
        .env("SLACK_WEBHOOK", slack_of(&server))
        .env_remove("EMAIL_WEBHOOK")
        .success();
    let d = db.deliveries().await;
    assert_eq!(d.len(), 2);
    for row in &d {
        assert_eq!(row.status, DeliveryStatus::Delivered, "{row:?}");
        assert_eq!(row.locked_until, None);
    }
    assert_eq!(received(&server, "/slack").await.len(), 2, "each sent once");
}

/// Issue: a delivery whose sender was killed mid-request (the row `pending`, held five
/// minutes ahead) was passed over in silence by `orch notify retry`, which exited 0.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_held_by_a_dead_sender_is_reported_not_skipped(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    // What a sender leaves when it is killed while its request hangs: the row claimed.
    let row = orch::store::delivery::insert(
        &store.db,
        orch::store::delivery::NewDelivery {
            task_id: None,
            run_id: "r".into(),
            event: "awaiting_approval".into(),
            target: "slack".into(),
            kind: "slack".into(),
            url_redacted: "https://hooks.slack.com".into(),
            payload: "{}".into(),
        },
    )
    .await
    .unwrap();
    db.orch()
        .args(["notify", "retry"])
        .code(6)
        .stdout_has(&format!("delivery {}: awaiting_approval", row.id))
        .stdout_has("held by another orch until ")
        .stderr_has("1 notification was not delivered");
    db.orch()
        .args(["notify", "retry", "--id", &row.id.to_string()])
        .code(5)
        .stderr_has(&format!(
            "delivery {} is held by another orch until ",
            row.id
        ));
}

/// Issue: `orch notify retry` printed the old receiver's address for a delivery it had just
/// sent to the one the environment names now.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_shows_where_it_really_sent(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let old = receiver(ResponseTemplate::new(500)).await;
    run_gates(&db, &["--only", "dx.integrate"], &slack_of(&old)).success();
    let new = receiver(ResponseTemplate::new(200)).await;
    orch(&db, &["notify", "retry"])
        .env("SLACK_WEBHOOK", slack_of(&new))
        .success()
        .stdout_has(&format!("({}): delivered", new.uri()))
        .stdout_lacks(&old.uri());
    assert_eq!(db.deliveries().await[0].url_redacted, new.uri());
}

/// The same, for real: `orch run` killed outright while its receiver hangs on the request.
/// The attempt in flight is counted, and `notify retry` reports the row (exit 6).
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_mid_request_leaves_its_attempt_counted(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let hangs = receiver(ResponseTemplate::new(200).set_delay(Duration::from_secs(60))).await;
    let running = run_gates(&db, &["--only", "dx.integrate"], &slack_of(&hangs))
        .env("ORCH_NOTIFY_TIMEOUT_MS", "60000")
        .spawn();
    let sent = crate::support::wait::eventually(
        600,
        Duration::from_millis(50),
        || received(&hangs, "/slack"),
        |r| !r.is_empty(),
    )
    .await;
    assert_eq!(sent.len(), 1, "the request is under way");
    running.kill();
    let d = db.deliveries().await;
    assert_eq!((d[0].status, d[0].attempts), (DeliveryStatus::Pending, 1));
    orch(&db, &["notify", "retry"])
        .code(6)
        .stdout_has("held by another orch until ");
}
