//! Generic webhooks are signed so that the recipe in docs/ORCHESTRATION.md verifies them, and
//! no secret (a token, a webhook URL, a signing key) reaches a payload, a row or the terminal.

use rstest::rstest;
use serde_json::Value;

use super::orch;
use crate::support::http::{bodies, ok_receiver, received, receiver};
use crate::support::{Backend, TestDb};

/// The verification recipe from docs/ORCHESTRATION.md, as a receiver would paste it.
fn documented_recipe() -> String {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/ORCHESTRATION.md"
    ))
    .unwrap();
    let start = docs
        .find("```python\n# verify an orch webhook")
        .expect("the recipe block in docs/ORCHESTRATION.md");
    let code = &docs[start + "```python\n".len()..];
    code[..code.find("```").unwrap()].to_owned()
}

/// Runs the recipe's `verify` on what a receiver got; prints True or False.
fn verify_with_recipe(secret: &str, ts: &str, sig: &str, body: &[u8]) -> String {
    use std::io::Write;
    let script = format!(
        "{}\nimport os, sys\nprint(verify(os.environ['SECRET'].encode(), os.environ['TS'], \
         os.environ['SIG'], sys.stdin.buffer.read()))\n",
        documented_recipe()
    );
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("SECRET", secret)
        .env("TS", ts)
        .env("SIG", sig)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_verify_with_the_documented_recipe(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = ok_receiver().await;
    let plan = r#"
name: signed
notify:
  ops:
    url: ${OPS_HOOK_URL}
    secret: ${OPS_HOOK_SIGNING}
    on: [awaiting_approval, run_finished]
tasks:
  - task: gate
    shell: "echo waiting"
    approval: always
"#;
    let secret = "whsec-3f9a8b7c6d5e";
    orch(&db, &["run", db.plan(plan)])
        .env("OPS_HOOK_URL", format!("{}/ops", server.uri()))
        .env("OPS_HOOK_SIGNING", secret)
        .success();
    let mut got = received(&server, "/ops").await;
    assert_eq!(got.len(), 2);
    // In delivery order (they go out side by side).
    got.sort_by_key(|r| {
        r.headers["x-orch-delivery"]
            .to_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    });
    let gate = &db.rows().await[0];
    let envelope: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(envelope["event"], "awaiting_approval");
    assert_eq!(envelope["run_id"], gate.run_id);
    assert_eq!(envelope["task"]["id"], gate.id);
    assert_eq!(envelope["task"]["status"], "awaiting_approval");
    assert_eq!(envelope["run"], Value::Null);
    let finished: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(finished["event"], "run_finished");
    assert_eq!(finished["task"], Value::Null);
    assert_eq!(finished["run"]["counts"]["awaiting_approval"], 1);

    let d = db.deliveries().await;
    for (req, row) in got.iter().zip(&d) {
        let header = |n: &str| req.headers[n].to_str().unwrap().to_owned();
        assert_eq!(header("x-orch-event"), row.event);
        assert_eq!(header("x-orch-delivery"), row.id.to_string());
        let (ts, sig) = (header("x-orch-timestamp"), header("x-orch-signature"));
        assert_eq!(verify_with_recipe(secret, &ts, &sig, &req.body), "True");
        // A changed body, a wrong secret, or a replay from long ago are refused.
        let mut forged = req.body.clone();
        forged.push(b' ');
        assert_eq!(verify_with_recipe(secret, &ts, &sig, &forged), "False");
        assert_eq!(verify_with_recipe("other", &ts, &sig, &req.body), "False");
        let old = (ts.parse::<i64>().unwrap() - 3600).to_string();
        let old_sig = orch::notify::sign::signature(secret, old.parse().unwrap(), &req.body);
        assert_eq!(
            verify_with_recipe(secret, &old, &old_sig, &req.body),
            "False"
        );
    }
    // The secret is nowhere: not in the payload rows, not in the saved run.
    let store = db.store().await;
    let run = orch::store::query::get_run(&store.db, &gate.run_id)
        .await
        .unwrap();
    let saved = run.record.unwrap().notify.unwrap();
    assert!(saved.contains("${OPS_HOOK_SIGNING}"), "{saved}");
    assert!(
        !saved.contains(secret) && !saved.contains("/ops"),
        "{saved}"
    );
    for row in &d {
        assert!(!row.payload.contains(secret));
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_rows_and_output_are_redacted(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = ok_receiver().await;
    let hook = format!("{}/services/T1/B2/c3d4e5f6", server.uri());
    // The task prints a token, the webhook URL itself and the signing secret.
    let plan = r#"
name: leaky
notify:
  email: {}
  ops:
    url: ${OPS_URL}
    secret: ${OPS_SIGNING}
tasks:
  - task: leak
    shell: 'echo "token $API_TOKEN hook $SLACK_WEBHOOK ops $OPS_URL sig $OPS_SIGNING"; echo "see https://github.com/a/b/pull/5?t=$API_TOKEN"'
    approval: always
"#;
    let out = orch(&db, &["run", db.plan(plan)])
        .env("API_TOKEN", "tok-1234567890")
        .env("SLACK_WEBHOOK", &hook)
        .env("EMAIL_WEBHOOK", format!("{}/email", server.uri()))
        .env("OPS_URL", format!("{}/ops-path-9f8e7d", server.uri()))
        .env("OPS_SIGNING", "sig-secret-42")
        .success();
    let secrets = [
        "tok-1234567890",
        "T1/B2/c3d4e5f6",
        "ops-path-9f8e7d",
        "sig-secret-42",
    ];
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3, "slack, email and ops");
    let email = bodies(&server, "/email").await;
    assert_eq!(
        email[0]["log_excerpt"],
        "token *** hook *** ops *** sig ***\nsee https://github.com/a/b/pull/5?t=***"
    );
    let list = orch(&db, &["notify", "list", "--json"]).output();
    let mut texts: Vec<String> = requests
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    texts.extend(db.deliveries().await.into_iter().map(|d| format!("{d:?}")));
    texts.extend([out.stdout(), out.stderr(), list.stdout(), list.stderr()]);
    for text in &texts {
        for s in secrets {
            assert!(!text.contains(s), "`{s}` leaked: {text}");
        }
    }
}

/// Issue: a receiver whose error echoes the request path put the Slack credential (the path)
/// in `last_error`, shown by `notify list` and `notify test`, though the full URL was masked.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_echoing_the_path_does_not_leak_it(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let path = "/services/T0/B0/slackcredXYZ";
    let echo = format!("error for path {path} (also %2Fservices%2FT0%2FB0%2FslackcredXYZ)");
    let server = receiver(wiremock::ResponseTemplate::new(400).set_body_string(echo)).await;
    let slack = format!("{}{path}", server.uri());
    super::run_gates(&db, &["--only", "dx.integrate"], &slack).success();
    let stored = db.deliveries().await[0].last_error.clone().unwrap();
    assert!(stored.contains("error for path ***"), "{stored}");
    let listed = orch(&db, &["notify", "list", "--json"]).success().stdout();
    let tested = orch(&db, &["notify", "test", "--slack"])
        .env("SLACK_WEBHOOK", &slack)
        .code(6);
    for text in [stored, listed, tested.stdout(), tested.stderr()] {
        assert!(!text.contains("slackcredXYZ"), "{text}");
    }
}
