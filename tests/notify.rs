//! Notifications against real HTTP receivers on loopback (wiremock): the exact seed
//! payloads, retries, timeouts, refusals, `Retry-After`, signatures checked with the
//! documented recipe, redaction, and nothing lost when the receiver is down — on both
//! databases, through the real binary.

use std::process::Output;
use std::time::Duration;

use orch::store::delivery::{DeliveryFilter, list};
use orch::store::webhook_delivery::{self, DeliveryStatus};
use orch::store::{TaskStatus, agents_task};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{TestDb, both_backends, stderr, stdout};

/// Runs a prepared orch command off the async threads (the receivers live on them).
async fn output(mut cmd: assert_cmd::Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// `orch ARGS` with quick retries, in the test's scratch folder.
fn orch(db: &TestDb, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = db.orch();
    cmd.args(args)
        .env("ORCH_NOTIFY_BACKOFF_MS", "50")
        .env("ORCH_NOTIFY_TIMEOUT_MS", "3000");
    cmd
}

async fn ok_receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    server
}

/// A receiver that answers `failure` to the first `times` requests, then 200.
async fn fails_then_succeeds(failure: ResponseTemplate, times: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(failure)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// Bodies received on `at`, as JSON, in arrival order.
async fn bodies(server: &MockServer, at: &str) -> Vec<Value> {
    received(server, at)
        .await
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn received(server: &MockServer, at: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == at)
        .collect()
}

async fn deliveries(db: &TestDb) -> Vec<webhook_delivery::Model> {
    let store = db.store().await;
    let mut rows = list(
        &store.db,
        &DeliveryFilter {
            limit: 1000,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    rows.reverse();
    rows
}

fn by_task<'a>(rows: &'a [agents_task::Model], name: &str) -> &'a agents_task::Model {
    rows.iter().find(|r| r.task == name).unwrap()
}

const GATES: &str = r#"
name: gates
tasks:
  - task: seo.validate
    shell: "echo 'opened https://github.com/user/repo/pull/123'"
    approval: on_output_uri
  - task: dx.integrate
    shell: "echo integrated"
    approval: always
"#;

both_backends!(
    awaiting_approval_sends_the_exact_seed_payloads,
    |db: TestDb| async move {
        let server = ok_receiver().await;
        // The environment alone is enough: the plan has no `notify` block.
        let mut cmd = orch(&db, &["run", db.plan(GATES)]);
        cmd.env("SLACK_WEBHOOK", format!("{}/slack/T0/B0/XYZ", server.uri()))
            .env("EMAIL_WEBHOOK", format!("{}/email", server.uri()));
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

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
        let d = deliveries(&db).await;
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
        let list = output(orch(&db, &["notify", "list"])).await;
        for text in [stdout(&out), stderr(&out), stdout(&list)] {
            assert!(!text.contains("T0/B0/XYZ"), "{text}");
        }
        assert!(stdout(&list).contains("delivered"), "{}", stdout(&list));
    }
);

both_backends!(
    opted_in_events_reach_their_targets,
    |db: TestDb| async move {
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
        let mut cmd = orch(&db, &["run", db.plan(plan)]);
        cmd.env("SLACK_WEBHOOK", format!("{}/slack", server.uri()))
            .env("EMAIL_WEBHOOK", format!("{}/email", server.uri()));
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
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
);

both_backends!(
    a_decision_notifies_the_runs_saved_targets,
    |db: TestDb| async move {
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
        let mut cmd = orch(&db, &["run", db.plan(plan)]);
        cmd.env("EMAIL_WEBHOOK", &email_url)
            .env("AUDIT_HOOK", &audit_url);
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            received(&server, "/email").await.is_empty(),
            "no gate event asked for"
        );
        let rows = db.rows().await;
        let (a, b) = (by_task(&rows, "a"), by_task(&rows, "b"));

        // Approve from elsewhere: no plan file, the same variables.
        std::fs::remove_file(db.path().join("plan.yaml")).unwrap();
        let mut cmd = orch(
            &db,
            &[
                "approve",
                &a.id.to_string(),
                "--by",
                "alice",
                "--note",
                "looks good",
            ],
        );
        cmd.env("EMAIL_WEBHOOK", &email_url)
            .env("AUDIT_HOOK", &audit_url);
        let out = output(cmd).await;
        assert!(out.status.success(), "{}", stderr(&out));
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
        let mut child = db
            .orch_std()
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("EMAIL_WEBHOOK", &email_url)
            .env("AUDIT_HOOK", &audit_url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
        let port = loop {
            let mut line = String::new();
            assert!(std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0);
            if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let resp = reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{port}/agents/tasks/{}/reject",
                b.id
            ))
            .json(&json!({"by": "bob", "note": "not now"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        // The answer does not wait for the webhooks: wait for them here.
        let mut email = Vec::new();
        for _ in 0..100 {
            email = bodies(&server, "/email").await;
            if email.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(email.len(), 2, "{email:?}");
        assert_eq!(email[1]["event"], "rejected");
        assert_eq!(email[1]["status"], "failed");
        assert_eq!(email[1]["approver"], "bob");
        assert_eq!(email[1]["note"], "not now");
    }
);

both_backends!(
    a_500_is_retried_until_it_succeeds,
    |db: TestDb| async move {
        let server = fails_then_succeeds(ResponseTemplate::new(500), 2).await;
        let mut cmd = orch(&db, &["run", db.plan(GATES), "--only", "dx.integrate"]);
        cmd.env("SLACK_WEBHOOK", format!("{}/slack", server.uri()));
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(received(&server, "/slack").await.len(), 3);
        let d = deliveries(&db).await;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].status, DeliveryStatus::Delivered);
        assert_eq!((d[0].attempts, d[0].last_status), (3, Some(200)));
        assert_eq!(d[0].last_error, None);
    }
);

both_backends!(
    a_timeout_is_retried_then_kept_without_failing_the_run,
    |db: TestDb| async move {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let mut cmd = orch(&db, &["run", db.plan(GATES), "--only", "dx.integrate"]);
        cmd.env("SLACK_WEBHOOK", format!("{}/slack", server.uri()))
            .env("ORCH_NOTIFY_TIMEOUT_MS", "300");
        let out = output(cmd).await;
        // Waiting for a person is not a failure, and neither is a lost webhook.
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("1 notification of run "),
            "{}",
            stderr(&out)
        );
        assert_eq!(received(&server, "/slack").await.len(), 3);
        let d = deliveries(&db).await;
        assert_eq!(d[0].status, DeliveryStatus::Pending);
        assert_eq!((d[0].attempts, d[0].last_status), (3, None));
        assert_eq!(d[0].last_error.as_deref(), Some("no answer within 300ms"));
        assert_eq!(d[0].locked_until, None, "released for `orch notify retry`");
        assert_eq!(db.rows().await[0].status, TaskStatus::AwaitingApproval);
    }
);

both_backends!(a_4xx_is_not_retried, |db: TestDb| async move {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no_service"))
        .mount(&server)
        .await;
    let mut cmd = orch(&db, &["run", db.plan(GATES), "--only", "dx.integrate"]);
    cmd.env("SLACK_WEBHOOK", format!("{}/slack", server.uri()));
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(received(&server, "/slack").await.len(), 1);
    let d = deliveries(&db).await;
    assert_eq!(d[0].status, DeliveryStatus::Failed);
    assert_eq!((d[0].attempts, d[0].last_status), (1, Some(404)));
    assert_eq!(d[0].last_error.as_deref(), Some("HTTP 404: no_service"));
    let failed = output(orch(&db, &["notify", "list", "--failed", "--json"])).await;
    let listed: Value = serde_json::from_slice(&failed.stdout).unwrap();
    assert_eq!(listed[0]["status"], "failed");
    assert!(
        listed[0]["payload"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Task dx.integrate")
    );
});

both_backends!(
    a_429_waits_as_long_as_retry_after_says,
    |db: TestDb| async move {
        let failure = ResponseTemplate::new(429).insert_header("retry-after", "1");
        let server = fails_then_succeeds(failure, 1).await;
        let mut cmd = orch(&db, &["run", db.plan(GATES), "--only", "dx.integrate"]);
        // A backoff far longer than the wait: only `Retry-After: 1` lets the second attempt
        // happen before orch stops waiting.
        cmd.env("SLACK_WEBHOOK", format!("{}/slack", server.uri()))
            .env("ORCH_NOTIFY_BACKOFF_MS", "600000")
            .env("ORCH_NOTIFY_WAIT_MS", "20000");
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let d = deliveries(&db).await;
        assert_eq!(d[0].status, DeliveryStatus::Delivered, "{:?}", d[0]);
        assert_eq!((d[0].attempts, d[0].last_status), (2, Some(200)));
    }
);

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

both_backends!(
    signed_webhooks_verify_with_the_documented_recipe,
    |db: TestDb| async move {
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
        let mut cmd = orch(&db, &["run", db.plan(plan)]);
        cmd.env("OPS_HOOK_URL", format!("{}/ops", server.uri()))
            .env("OPS_HOOK_SIGNING", secret);
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
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

        let d = deliveries(&db).await;
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
);

both_backends!(
    payloads_rows_and_output_are_redacted,
    |db: TestDb| async move {
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
        let mut cmd = orch(&db, &["run", db.plan(plan)]);
        cmd.env("API_TOKEN", "tok-1234567890")
            .env("SLACK_WEBHOOK", &hook)
            .env("EMAIL_WEBHOOK", format!("{}/email", server.uri()))
            .env("OPS_URL", format!("{}/ops-path-9f8e7d", server.uri()))
            .env("OPS_SIGNING", "sig-secret-42");
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
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
        let list = output(orch(&db, &["notify", "list", "--json"])).await;
        let mut texts: Vec<String> = requests
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        texts.extend(deliveries(&db).await.into_iter().map(|d| format!("{d:?}")));
        texts.extend([stdout(&out), stderr(&out), stdout(&list), stderr(&list)]);
        for text in &texts {
            for s in secrets {
                assert!(!text.contains(s), "`{s}` leaked: {text}");
            }
        }
    }
);

both_backends!(
    a_receiver_down_for_the_whole_run_loses_nothing,
    |db: TestDb| async move {
        // A port with nothing listening, then a receiver on that very port.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/slack");
        let mut cmd = orch(&db, &["run", db.plan(GATES)]);
        cmd.env("SLACK_WEBHOOK", &url);
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("2 notifications of run ")
                && stderr(&out).contains("`orch notify retry`"),
            "{}",
            stderr(&out)
        );
        let d = deliveries(&db).await;
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
        let pending = output(orch(&db, &["notify", "list", "--failed", "--json"])).await;
        assert_eq!(
            serde_json::from_slice::<Value>(&pending.stdout)
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            2
        );

        // Without the variable, a retry says why and keeps the rows.
        let out = output(orch(&db, &["notify", "retry"])).await;
        assert_eq!(out.status.code(), Some(6), "{}", stdout(&out));
        assert!(
            stdout(&out).contains("`SLACK_WEBHOOK` is not set"),
            "{}",
            stdout(&out)
        );

        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let server = MockServer::builder().listener(listener).start().await;
        Mock::given(method("POST"))
            .and(path("/slack"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let mut cmd = orch(&db, &["notify", "retry"]);
        cmd.env("SLACK_WEBHOOK", &url);
        let out = output(cmd).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        assert_eq!(
            stdout(&out).matches(": delivered (HTTP 200").count(),
            2,
            "{}",
            stdout(&out)
        );
        let slack = bodies(&server, "/slack").await;
        assert_eq!(slack.len(), 2);
        assert!(slack.iter().any(|b| {
            b["text"]
                .as_str()
                .unwrap()
                .starts_with("Task seo.validate awaiting approval: https://")
        }));
        for row in deliveries(&db).await {
            assert_eq!(row.status, DeliveryStatus::Delivered);
            assert_eq!(row.attempts, 4);
        }
        let again = output(orch(&db, &["notify", "retry"])).await;
        assert!(
            stdout(&again).contains("nothing to retry"),
            "{}",
            stdout(&again)
        );
    }
);

both_backends!(
    later_commands_sweep_deliveries_a_minute_old,
    |db: TestDb| async move {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/slack");
        let mut cmd = orch(&db, &["run", db.plan(GATES), "--only", "seo.validate"]);
        cmd.env("SLACK_WEBHOOK", &url);
        assert_eq!(output(cmd).await.status.code(), Some(0));
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let server = MockServer::builder().listener(listener).start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;

        // Fresh: a decision leaves it to whoever recorded it.
        let gate = db.rows().await[0].id;
        let mut cmd = orch(&db, &["approve", &gate.to_string()]);
        cmd.env("SLACK_WEBHOOK", &url);
        assert!(output(cmd).await.status.success());
        assert!(bodies(&server, "/slack").await.is_empty());

        // A minute old: the next run sends it again, alongside its own.
        let store = db.store().await;
        use sea_orm::ConnectionTrait;
        let old = match db.backend {
            crate::support::Backend::Postgres => "now() - interval '2 minutes'".to_owned(),
            crate::support::Backend::Sqlite => format!(
                "'{}'",
                orch::store::json::timestamp(&(chrono::Utc::now() - chrono::Duration::minutes(2)))
            ),
        };
        store
            .db
            .execute_unprepared(&format!("UPDATE webhook_deliveries SET created_at = {old}"))
            .await
            .unwrap();
        let mut cmd = orch(&db, &["run", db.plan(GATES), "--only", "dx.integrate"]);
        cmd.env("SLACK_WEBHOOK", &url);
        assert_eq!(output(cmd).await.status.code(), Some(0));
        let texts: Vec<String> = bodies(&server, "/slack")
            .await
            .iter()
            .map(|b| b["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts.iter().any(|t| t.starts_with("Task seo.validate")));
        assert!(texts.iter().any(|t| t.starts_with("Task dx.integrate")));
        assert!(
            deliveries(&db)
                .await
                .iter()
                .all(|d| d.status == DeliveryStatus::Delivered)
        );
    }
);

both_backends!(
    a_closed_stdout_does_not_cut_deliveries_off,
    |db: TestDb| async move {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(300)))
            .mount(&server)
            .await;
        db.plan(GATES);
        // `| true` closes stdout before orch prints its summary.
        let mut cmd = assert_cmd::Command::new("sh");
        cmd.current_dir(db.path())
            .arg("-c")
            .arg(format!(
                "'{}' run plan.yaml | true",
                crate::support::orch_bin().display()
            ))
            .env("DATABASE_URL", &db.url)
            .env("SLACK_WEBHOOK", format!("{}/slack", server.uri()))
            .env_remove("EMAIL_WEBHOOK");
        let out = output(cmd).await;
        assert!(out.status.success(), "{}", stderr(&out));
        let d = deliveries(&db).await;
        assert_eq!(d.len(), 2);
        for row in &d {
            assert_eq!(row.status, DeliveryStatus::Delivered, "{row:?}");
            assert_eq!(row.locked_until, None);
        }
        assert_eq!(received(&server, "/slack").await.len(), 2, "each sent once");
    }
);

both_backends!(
    deliveries_are_given_up_after_twelve_attempts_or_without_a_target,
    |db: TestDb| async move {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        let url = format!("{}/slack", server.uri());
        let mut cmd = orch(&db, &["run", db.plan(GATES)]);
        cmd.env("SLACK_WEBHOOK", &url);
        assert_eq!(output(cmd).await.status.code(), Some(0));
        let d = deliveries(&db).await;
        assert!(
            d.iter()
                .all(|r| r.attempts == 3 && r.status == DeliveryStatus::Pending)
        );

        // One has been tried ten times already; the other's run forgot its target.
        let store = db.store().await;
        use sea_orm::ConnectionTrait;
        store
            .db
            .execute_unprepared(&format!(
                "UPDATE webhook_deliveries SET attempts = 10 WHERE id = {}",
                d[0].id
            ))
            .await
            .unwrap();
        store
            .db
            .execute_unprepared(&format!(
                "UPDATE webhook_deliveries SET target = 'gone' WHERE id = {}",
                d[1].id
            ))
            .await
            .unwrap();
        let mut cmd = orch(&db, &["notify", "retry"]);
        cmd.env("SLACK_WEBHOOK", &url);
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(6), "{}", stdout(&out));
        let d = deliveries(&db).await;
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
        let mut cmd = orch(&db, &["notify", "retry", "--id", &d[0].id.to_string()]);
        cmd.env("SLACK_WEBHOOK", &url);
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(6));
        assert_eq!(deliveries(&db).await[0].attempts, 13);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_prints_the_answer() {
    let db = TestDb::new(crate::support::Backend::Sqlite).await.unwrap();
    let server = ok_receiver().await;
    let mut cmd = orch(&db, &["notify", "test", "--slack"]);
    cmd.env(
        "SLACK_WEBHOOK",
        format!("{}/hooks/secret-path", server.uri()),
    );
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
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
    let out = output(orch(&db, &["notify", "test"])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`SLACK_WEBHOOK` and `EMAIL_WEBHOOK` are not set"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_closed_port_is_a_clean_connection_error() {
    let db = TestDb::new(crate::support::Backend::Sqlite).await.unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = orch(&db, &["notify", "test", "--email"]);
    cmd.env(
        "EMAIL_WEBHOOK",
        format!("https://127.0.0.1:{port}/mail/k3y"),
    );
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "email (https://127.0.0.1:{port}): cannot connect: Connection refused (os error 111)\n"
        )
    );
    assert!(
        stderr(&out).contains("1 test message was not delivered"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked") && !stderr(&out).contains("k3y"));
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
    let out = assert_cmd::Command::new(crate::support::orch_bin())
        .args(["plan", "validate"])
        .arg(&plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
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
