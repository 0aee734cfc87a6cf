//! `orch notify test`, and the `notify` block of a plan validated with locations.

use super::orch;
use crate::support::http::{bodies, free_port, ok_receiver};
use crate::support::{Cmd, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_prints_the_answer() {
    let db = TestDb::sqlite().await;
    let server = ok_receiver().await;
    let out = orch(&db, &["notify", "test", "--slack"])
        .env(
            "SLACK_WEBHOOK",
            format!("{}/hooks/secret-path", server.uri()),
        )
        .success();
    assert_eq!(
        out.stdout(),
        format!("slack ({}): HTTP 200: ok\n", server.uri())
    );
    let sent = bodies(&server, "/hooks/secret-path").await;
    assert!(
        sent[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Test message from orch")
    );
    assert!(!db.path().join(".orch").exists(), "no database needed");

    // Nothing configured: a usage error naming the variables.
    orch(&db, &["notify", "test"])
        .code(2)
        .stderr_has("`SLACK_WEBHOOK` and `EMAIL_WEBHOOK` are not set");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_closed_port_is_a_clean_connection_error() {
    let db = TestDb::sqlite().await;
    let port = free_port();
    let out = orch(&db, &["notify", "test", "--email"])
        .env(
            "EMAIL_WEBHOOK",
            format!("https://127.0.0.1:{port}/mail/k3y"),
        )
        .code(6);
    assert_eq!(
        out.stdout(),
        format!(
            "email (https://127.0.0.1:{port}): cannot connect: Connection refused (os error 111)\n"
        )
    );
    out.stderr_has("1 test message was not delivered")
        .stderr_lacks("panicked")
        .stderr_lacks("k3y");
}

#[test]
fn notify_blocks_are_validated_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "name: bad\nnotify:\n  slack:\n    url: https://hooks.slack.com/services/T0/B0/XYZ\n  ops:\n    on: [awaiting_approval, exploded]\n  email:\n    secret: ${S}\ntasks:\n  - task: a\n    shell: 'true'\n",
    )
    .unwrap();
    let err = Cmd::orch()
        .args(["plan", "validate"])
        .arg(&plan)
        .code(2)
        .stderr();
    let file = plan.display().to_string();
    assert!(
        err.contains(&format!(
            "{file}:4:10: notify target `slack`: `url` must be a `${{VAR}}` reference"
        )),
        "{err}"
    );
    assert!(
        !err.contains("T0/B0/XYZ"),
        "the literal URL is not repeated: {err}"
    );
    assert!(
        err.contains(&format!("{file}:6:5: notify target `ops` needs a `url`")),
        "{err}"
    );
    assert!(err.contains("unknown event `exploded`"), "{err}");
    assert!(
        err.contains("`secret` signs generic webhooks only"),
        "{err}"
    );
}
