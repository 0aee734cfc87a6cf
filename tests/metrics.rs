//! `orch metrics` and `GET /metrics`: the values come from the rows, on both databases;
//! promtool finds nothing to say about the text; a real Prometheus scrapes `orch serve`.

use std::time::Duration;

use orch::store::delivery::{NewDelivery, insert};
use rstest::rstest;
use sea_orm::ConnectionTrait;

use crate::support::http::{ApiServer, Served, free_port, http_client};
use crate::support::wait::eventually;
use crate::support::{Backend, Cmd, TestDb, by_task};

/// build succeeds, lint fails, the gate waits for a decision.
const NIGHTLY: &str = r#"
name: nightly
tasks:
  - task: build
    run: ["true"]
  - task: lint
    run: ["false"]
  - task: gate
    run: ["true"]
    approval: always
"#;

/// The value of the sample whose name and labels are exactly `series` (`name{a="b"}`).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample `{series}` in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// The nightly plan run once, and one webhook delivery still pending.
async fn nightly(db: &TestDb) {
    db.run(NIGHTLY).code(1);
    let gate = by_task(&db.rows().await, "gate").clone();
    insert(
        &db.store().await.db,
        NewDelivery {
            task_id: Some(gate.id),
            run_id: gate.run_id,
            event: "awaiting_approval".into(),
            target: "slack".into(),
            kind: "slack".into(),
            url_redacted: "https://hooks.slack.com".into(),
            payload: "{}".into(),
        },
    )
    .await
    .unwrap();
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_rows_as_they_are(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    nightly(&db).await;
    let rows = db.rows().await;
    let text = db.orch().arg("metrics").success().stdout();
    assert_eq!(sample(&text, r#"orch_tasks{status="succeeded"}"#), 1.0);
    assert_eq!(sample(&text, r#"orch_tasks{status="failed"}"#), 1.0);
    assert_eq!(
        sample(&text, r#"orch_tasks{status="awaiting_approval"}"#),
        1.0
    );
    assert_eq!(sample(&text, r#"orch_tasks{status="queued"}"#), 0.0);
    assert_eq!(sample(&text, "orch_approvals_pending"), 1.0);
    assert!(sample(&text, "orch_approval_oldest_pending_age_seconds") >= 0.0);
    // The gate has no `approval_timeout` nor `escalate`: it may wait as long as it takes.
    assert_eq!(
        sample(&text, r#"orch_approvals_overdue{plan="nightly"}"#),
        0.0
    );
    let build = by_task(&rows, "build");
    assert_eq!(
        sample(
            &text,
            r#"orch_task_last_success_timestamp_seconds{plan="nightly",task="build"}"#
        ),
        build.finished_at.unwrap().timestamp_micros() as f64 / 1e6
    );
    let lint = by_task(&rows, "lint");
    assert_eq!(
        sample(
            &text,
            r#"orch_task_last_duration_seconds{plan="nightly",task="lint"}"#
        ),
        lint.duration_ms.unwrap() as f64 / 1000.0
    );
    // lint never succeeded: no success time for it.
    assert!(
        !text.contains(r#"orch_task_last_success_timestamp_seconds{plan="nightly",task="lint"}"#)
    );
    assert_eq!(
        sample(&text, r#"orch_webhook_deliveries{status="pending"}"#),
        1.0
    );
    assert_eq!(
        sample(&text, r#"orch_webhook_deliveries{status="delivered"}"#),
        0.0
    );
    assert!(sample(&text, "orch_webhook_oldest_undelivered_age_seconds") >= 0.0);
    assert_eq!(
        sample(
            &text,
            &format!(
                r#"orch_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );
    // Never a run id or a task id in a label.
    assert!(!text.contains(&build.run_id), "{text}");

    // A second run: the gauges follow the rows.
    db.orch()
        .args(["approve", &by_task(&rows, "gate").id.to_string()])
        .success();
    let text = db.orch().arg("metrics").success().stdout();
    assert_eq!(sample(&text, "orch_approvals_pending"), 0.0);
    assert_eq!(
        sample(&text, "orch_approval_oldest_pending_age_seconds"),
        0.0
    );
    assert_eq!(sample(&text, r#"orch_tasks{status="succeeded"}"#), 2.0);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_metrics_with_the_same_text_and_its_content_type(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    nightly(&db).await;
    let served = Served::start(db.orch());
    let resp = http_client()
        .get(served.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert_eq!(sample(&text, "orch_approvals_pending"), 1.0);
    // Unknown methods answer in JSON, as every API path does.
    let resp = http_client()
        .post(served.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn metrics_beyond_loopback_need_a_read_token() {
    let db = TestDb::sqlite().await;
    let server = ApiServer::start_as(&db, Some("admin-secret"), true).await;
    let (status, _) = server.send("GET", "/metrics", None, None).await;
    assert_eq!(status, 401);
    let (status, body) = server
        .send("GET", "/metrics", None, Some("admin-secret"))
        .await;
    assert_eq!(status, 200);
    assert!(body.as_str().unwrap().contains("orch_approvals_pending 0"));
}

/// Whether promtool must be there (CI); without it, and not required, a test says it skipped.
fn tool(path: &str) -> Option<&str> {
    if std::path::Path::new(path).exists() {
        return Some(path);
    }
    if std::env::var("ORCH_TEST_REQUIRE_PROMETHEUS").as_deref() == Ok("1") {
        panic!("ORCH_TEST_REQUIRE_PROMETHEUS=1 but {path} is missing: apt-get install prometheus");
    }
    eprintln!("skipped: {path} is missing (Debian's `prometheus` package)");
    None
}

#[tokio::test]
async fn promtool_finds_nothing_to_say_about_the_metrics() {
    let Some(promtool) = tool("/usr/bin/promtool") else {
        return;
    };
    let db = TestDb::sqlite().await;
    nightly(&db).await;
    let text = db.orch().arg("metrics").success().stdout();
    std::fs::write(db.path().join("orch.prom"), &text).unwrap();
    let out = Cmd::new("sh")
        .args(["-c", &format!("{promtool} check metrics < orch.prom")])
        .current_dir(db.path())
        .success();
    assert_eq!(out.stdout(), "", "{text}");
    assert_eq!(out.stderr(), "", "{text}");
}

/// The shipped alert rules load, and their unit tests (each rule firing and not) pass.
#[test]
fn the_shipped_alert_rules_pass_their_promtool_tests() {
    let Some(promtool) = tool("/usr/bin/promtool") else {
        return;
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus");
    for args in [
        ["check", "rules", "orch.rules.yml"],
        ["test", "rules", "orch.rules.test.yml"],
    ] {
        let out = std::process::Command::new(promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_orch_serve() {
    let Some(prometheus) = tool("/usr/bin/prometheus") else {
        return;
    };
    let db = TestDb::sqlite().await;
    nightly(&db).await;
    let served = Served::start(db.orch());
    let port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: orch\n    \
         static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        served.port
    );
    std::fs::write(db.path().join("prometheus.yml"), config).unwrap();
    let server = Cmd::new(prometheus)
        .arg("--config.file=prometheus.yml")
        .arg(format!(
            "--storage.tsdb.path={}",
            db.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .current_dir(db.path())
        .spawn();
    let http = http_client();
    let query = |q: &'static str| {
        let http = http.clone();
        async move {
            let encoded: String = q
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            let url = format!("http://127.0.0.1:{port}/api/v1/query?query={encoded}");
            match http.get(url).send().await {
                Ok(r) => r.json::<serde_json::Value>().await.unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            }
        }
    };
    let value = |v: &serde_json::Value| {
        v["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned)
    };
    let pending = eventually(
        120,
        Duration::from_millis(500),
        || query("orch_approvals_pending"),
        |v| value(v).is_some(),
    )
    .await;
    let duration = query(r#"orch_task_last_duration_seconds{plan="nightly",task="lint"}"#).await;
    server.kill();
    assert_eq!(value(&pending).as_deref(), Some("1"), "{pending}");
    let lint = by_task(&db.rows().await, "lint").duration_ms.unwrap() as f64 / 1000.0;
    let got: f64 = value(&duration)
        .unwrap_or_else(|| panic!("{duration}"))
        .parse()
        .unwrap();
    assert_eq!(got, lint);
}

/// Every `orch_task_transitions_total` sample, as `plan/task/status` and value, sorted (a
/// family writes its series in no set order).
fn transitions(text: &str) -> Vec<(String, f64)> {
    let mut found: Vec<(String, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("orch_task_transitions_total{"))
        .map(|l| {
            let (labels, value) = l.split_once("} ").unwrap();
            let get = |k: &str| {
                let start = labels.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
                labels[start..].split('"').next().unwrap().to_owned()
            };
            let key = format!("{}/{}/{}", get("plan"), get("task"), get("status"));
            (key, value.trim().parse().unwrap())
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn counted(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// The counters count each end once, through every path (a run's batches, a decision either
/// way), and neither `orch prune` nor a migration down and up again lowers them.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transition_counters_never_go_down(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(NIGHTLY).code(1);
    let gate = by_task(&db.rows().await, "gate").id.to_string();
    db.orch().args(["approve", &gate]).success();
    db.run(NIGHTLY).code(1);
    let rows = db.rows().await;
    let gate = rows
        .iter()
        .filter(|r| r.task == "gate")
        .map(|r| r.id)
        .max()
        .unwrap();
    db.orch()
        .args(["reject", &gate.to_string(), "--note", "no"])
        .success();
    let expected = counted(&[
        ("nightly/build/succeeded", 2.0),
        ("nightly/gate/failed", 1.0),
        ("nightly/gate/succeeded", 1.0),
        ("nightly/lint/failed", 2.0),
    ]);
    let text = db.orch().arg("metrics").success().stdout();
    assert!(
        text.contains("# TYPE orch_task_transitions_total counter"),
        "{text}"
    );
    assert_eq!(transitions(&text), expected, "{text}");

    // Both runs made old, then pruned: the rows go, the counters stay.
    let store = db.store().await;
    let old = "'2026-01-01T00:00:00Z'";
    for sql in [
        format!("UPDATE agents_runs SET started_at = {old}, finished_at = {old}"),
        format!("UPDATE agents_tasks SET started_at = {old}, finished_at = {old}"),
    ] {
        store.db.execute_unprepared(&sql).await.unwrap();
    }
    db.orch()
        .args(["prune", "--older-than", "30d", "--include-pending"])
        .success()
        .stdout_has("pruned 2 run(s)");
    assert!(db.rows().await.is_empty());
    let text = db.orch().arg("metrics").success().stdout();
    assert_eq!(sample(&text, r#"orch_tasks{status="succeeded"}"#), 0.0);
    assert_eq!(transitions(&text), expected, "{text}");

    // A third run counts on from there.
    db.run(NIGHTLY).code(1);
    let text = db.orch().arg("metrics").success().stdout();
    let mut more = expected.clone();
    more[0].1 = 3.0;
    more[3].1 = 3.0;
    assert_eq!(transitions(&text), more, "{text}");
}

/// Upgrading fills the counts from the rows already there, rather than starting them at 0.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counters_migration_counts_the_history_present(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(NIGHTLY).code(1);
    db.orch()
        .args(["migrate", "down", "--steps", "1"])
        .success();
    // Recorded while the table and its triggers were gone.
    db.run(NIGHTLY).code(1);
    db.orch().args(["migrate", "up"]).success();
    let text = db.orch().arg("metrics").success().stdout();
    assert_eq!(
        transitions(&text),
        counted(&[
            ("nightly/build/succeeded", 2.0),
            ("nightly/lint/failed", 2.0)
        ]),
        "{text}"
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_past_their_escalation_or_timeout_count_as_overdue(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    // No sweeper runs: the timeout is not enforced, and the gauge shows it.
    let plan = r#"
name: slow
notify:
  oncall:
    url: ${ONCALL_URL}
tasks:
  - task: escalated
    run: ["true"]
    approval: {escalate: {after: 1s, notify: [oncall]}}
  - task: timed
    run: ["true"]
    approval_timeout: 1s
    approval: always
  - task: patient
    run: ["true"]
    approval: {remind: [1h]}
"#;
    db.run(plan).success();
    let text = eventually(
        100,
        Duration::from_millis(100),
        || async { db.orch().arg("metrics").success().stdout() },
        |t| sample(t, r#"orch_approvals_overdue{plan="slow"}"#) == 2.0,
    )
    .await;
    assert_eq!(sample(&text, r#"orch_approvals_overdue{plan="slow"}"#), 2.0);
    // Deciding one takes it out.
    let rows = db.rows().await;
    db.orch()
        .args(["approve", &by_task(&rows, "escalated").id.to_string()])
        .success();
    let text = db.orch().arg("metrics").success().stdout();
    // `approve` recovered first: the timed-out gate was rejected, the patient one waits.
    assert_eq!(sample(&text, r#"orch_approvals_overdue{plan="slow"}"#), 0.0);
    assert_eq!(sample(&text, "orch_approvals_pending"), 1.0);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_show_by_status_and_their_hosts_heartbeat_age(#[case] backend: Backend) {
    use orch::store::workers::{NewWorker, draining, register, stopped};
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let worker = |id: &'static str| NewWorker {
        id,
        labels: &[],
        queues: &[],
        slots: 4,
    };
    for id in ["a:1:x", "a:2:y", "b:3:z", "c:4:w", "d:5:v"] {
        register(&store.db, &worker(id)).await.unwrap();
    }
    // Host a: one worker killed five minutes ago, one restarted and fresh. Host b: silent for
    // five minutes. c drains; d stopped cleanly (left out).
    let set = |id: &str, host: &str, age_s: i64| {
        let at = chrono::Utc::now() - chrono::Duration::seconds(age_s);
        format!(
            "UPDATE orch_workers SET host = '{host}', heartbeat_at = '{}' WHERE id = '{id}'",
            orch::format::time::timestamp(&at)
        )
    };
    for sql in [
        set("a:1:x", "a", 300),
        set("a:2:y", "a", 1),
        set("b:3:z", "b", 300),
        set("c:4:w", "c", 1),
        set("d:5:v", "d", 1),
    ] {
        store.db.execute_unprepared(&sql).await.unwrap();
    }
    draining(&store.db, "c:4:w", chrono::Utc::now())
        .await
        .unwrap();
    stopped(&store.db, "d:5:v", chrono::Utc::now())
        .await
        .unwrap();
    let text = db.orch().arg("metrics").success().stdout();
    assert_eq!(sample(&text, r#"orch_workers{status="up"}"#), 3.0);
    assert_eq!(sample(&text, r#"orch_workers{status="draining"}"#), 1.0);
    let age = |host: &str| {
        sample(
            &text,
            &format!(r#"orch_worker_heartbeat_age_seconds{{host="{host}"}}"#),
        )
    };
    assert!(age("a") < 60.0, "host a has a fresh worker: {text}");
    assert!((290.0..400.0).contains(&age("b")), "{text}");
    assert!(age("c") < 60.0);
    assert!(
        !text.contains(r#"host="d""#),
        "a stopped worker is left out: {text}"
    );
}
