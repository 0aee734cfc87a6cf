//! `orch serve` against a real server on an ephemeral loopback port, with a real HTTP client,
//! on SQLite and PostgreSQL.

use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::http::{ApiServer, Served, http_client};
use crate::support::{Backend, Cmd, TestDb};

fn new_task(status: &str) -> Value {
    json!({"task": "dx.integrate", "run_id": "nightly-1", "status": status})
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_examples_work_verbatim(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    // The real binary on an ephemeral port, announced on stderr.
    let server = Served::start(db.orch());
    let examples = [
        r#"curl -X POST http://localhost:8001/agents/tasks/ -H "Content-Type: application/json" -d '{"task": "seo.validate", "run_id": "nightly-2025-01-15", "status": "running", "started_at": "2025-01-15T02:30:00Z", "inputs": {"flags": ["--strict", "--dry-run"]}}'"#,
        r#"curl -X PATCH http://localhost:8001/agents/tasks/1 -H "Content-Type: application/json" -d '{"status": "succeeded", "finished_at": "2025-01-15T02:35:00Z", "duration_ms": 300000, "outputs_uri": "https://github.com/user/repo/pull/123"}'"#,
        r#"curl http://localhost:8001/agents/tasks/?run_id=nightly-2025-01-15"#,
        r#"curl http://localhost:8001/agents/tasks/?status=awaiting_approval"#,
    ];
    let mut outputs = Vec::new();
    for ex in examples {
        let cmd = format!(
            "{} -sS --fail-with-body",
            ex.replace(":8001", &format!(":{}", server.port))
        );
        outputs.push(Cmd::new("sh").arg("-c").arg(&cmd).success().stdout_json());
    }
    assert!(server.stop().success(), "graceful shutdown exits 0");

    assert_eq!(outputs[0]["id"], 1);
    assert_eq!(outputs[0]["status"], "running");
    assert_eq!(
        outputs[0]["inputs"],
        json!({"flags": ["--strict", "--dry-run"]})
    );
    assert_eq!(outputs[1]["status"], "succeeded");
    assert_eq!(outputs[1]["duration_ms"], 300000);
    assert_eq!(
        outputs[1]["outputs_uri"],
        "https://github.com/user/repo/pull/123"
    );
    assert_eq!(outputs[2].as_array().unwrap().len(), 1);
    assert_eq!(
        outputs[2][0], outputs[1],
        "list and patch agree field by field"
    );
    assert_eq!(outputs[3], json!([]));

    // The API and the CLI print the same JSON.
    let cli = db
        .orch()
        .args(["tasks", "show", "1", "--json"])
        .output()
        .stdout_json();
    assert_eq!(cli, outputs[1]);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_follow_the_rules(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = ApiServer::start(&db, None).await;
    let (code, row) = s
        .send(
            "POST",
            "/agents/tasks",
            Some(new_task("awaiting_approval")),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(
        row["approval_state"], "pending",
        "born waiting means pending"
    );
    let id = row["id"].as_i64().unwrap();

    for path in [
        format!("/agents/tasks/{id}"),
        format!("/agents/tasks/{id}/"),
    ] {
        let (code, got) = s.send("GET", &path, None, None).await;
        assert_eq!(code, StatusCode::OK, "{path}");
        assert_eq!(got, row);
    }
    let (code, _) = s.send("GET", "/agents/tasks/999999", None, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    // Leaving the gate only by a decision.
    let (code, err) = s
        .send(
            "PATCH",
            &format!("/agents/tasks/{id}"),
            Some(json!({"status": "succeeded"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["field"], "status");
    let (code, decided) = s
        .send(
            "POST",
            &format!("/agents/tasks/{id}/approve/"),
            Some(json!({"by": "alice", "note": "ok"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{decided}");
    assert_eq!(
        (decided["status"].as_str(), decided["approver"].as_str()),
        (Some("succeeded"), Some("alice"))
    );
    let (code, err) = s
        .send(
            "POST",
            &format!("/agents/tasks/{id}/reject"),
            Some(json!({"by": "bob"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("already approved by `alice`"),
        "{err}"
    );

    // The transition table holds for PATCH.
    let (_, queued) = s
        .send("POST", "/agents/tasks/", Some(new_task("queued")), None)
        .await;
    let qid = queued["id"].as_i64().unwrap();
    let (code, err) = s
        .send(
            "PATCH",
            &format!("/agents/tasks/{qid}"),
            Some(json!({"status": "succeeded"})),
            None,
        )
        .await;
    assert_eq!(
        (code, err["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
    );
    let (code, row) = s
        .send(
            "PATCH",
            &format!("/agents/tasks/{qid}"),
            Some(json!({"status": "running", "log_excerpt": "go"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        (row["status"].as_str(), row["log_excerpt"].as_str()),
        (Some("running"), Some("go"))
    );
    let (code, row) = s
        .send(
            "PATCH",
            &format!("/agents/tasks/{qid}"),
            Some(json!({"status": "awaiting_approval"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(row["approval_state"], "pending");
    let (code, _) = s
        .send(
            "POST",
            &format!("/agents/tasks/{id}/approve"),
            Some(json!({"by": "x"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "decided already");
    let (code, _) = s
        .send(
            "PATCH",
            "/agents/tasks/424242",
            Some(json!({"log_excerpt": "x"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    // Listing with filters, newest first.
    let (code, rows) = s
        .send(
            "GET",
            "/agents/tasks/?status=awaiting_approval&limit=10",
            None,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let (_, rows) = s
        .send("GET", "/agents/tasks?run_id=nightly-1", None, None)
        .await;
    let ids: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [qid, id]);

    let (code, body) = s.send("GET", "/healthz", None, None).await;
    assert_eq!((code, body), (StatusCode::OK, json!({"status": "ok"})));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_named_error(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = ApiServer::start(&db, None).await;
    let cases: Vec<(&str, &str, String, StatusCode, Option<&str>)> = vec![
        ("POST", "/agents/tasks", r#"{"task": "#.into(), StatusCode::BAD_REQUEST, None),
        ("POST", "/agents/tasks", "not json".into(), StatusCode::BAD_REQUEST, None),
        ("POST", "/agents/tasks", r#"{"task": 1, "run_id": "r", "status": "running"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("task")),
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "r", "status": "done"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("status")),
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "r", "status": "running", "colour": 1}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("colour")),
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "r", "status": "running", "approval_state": "approved"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("approval_state")),
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "r", "status": "running", "decided_at": "2025-01-01T00:00:00Z"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("decided_at")),
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "r", "status": "running", "started_at": "yesterday"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("started_at")),
        ("POST", "/agents/tasks", r#"{"task": "a b", "run_id": "r", "status": "running"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("task")),
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "..", "status": "running"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("run_id")),
        ("POST", "/agents/tasks", r#"{"run_id": "r", "status": "running"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, None),
        ("POST", "/agents/tasks", format!(r#"{{"task": "t", "run_id": "r", "status": "running", "log_excerpt": "{}"}}"#, "x".repeat(1024 * 1024 + 10)), StatusCode::PAYLOAD_TOO_LARGE, None),
        ("PATCH", "/agents/tasks/1", r#"{"approver": "me"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("approver")),
        ("PATCH", "/agents/tasks/1", r#"{"duration_ms": -5}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("duration_ms")),
        // The same on both databases: PostgreSQL cannot store a NUL, and answered 500.
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "r", "status": "running", "log_excerpt": "a\u0000b"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("log_excerpt")),
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "r", "status": "running", "inputs": {"k": ["x\u0000"]}}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("inputs")),
        ("PATCH", "/agents/tasks/1", r#"{"outputs_uri": "https://x/\u0000"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("outputs_uri")),
        // The document declares `inputs` an object (schemathesis stored `[null, null]`, and the
        // row then broke the response schema).
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "r", "status": "running", "inputs": [null, null]}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("inputs")),
        ("PATCH", "/agents/tasks/1", r#"{"inputs": 3}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("inputs")),
        ("GET", "/agents/tasks?run_id=%00", String::new(), StatusCode::UNPROCESSABLE_ENTITY, Some("run_id")),
        ("GET", "/agents/tasks?task=a%00", String::new(), StatusCode::UNPROCESSABLE_ENTITY, Some("task")),
        ("GET", "/agents/tasks?status=%00", String::new(), StatusCode::UNPROCESSABLE_ENTITY, Some("status")),
        ("GET", "/agents/tasks?limit=%00", String::new(), StatusCode::UNPROCESSABLE_ENTITY, Some("limit")),
        // The enum has no empty value (an empty filter once answered every row).
        ("GET", "/agents/tasks?status=", String::new(), StatusCode::UNPROCESSABLE_ENTITY, Some("status")),
        // An integral number written with a fraction is an integer (below); a fraction is not.
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "r", "status": "running", "duration_ms": 249.5}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("duration_ms")),
        ("PATCH", "/agents/tasks/1", r#"{"duration_ms": 1e30}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("duration_ms")),
        ("POST", "/agents/tasks/1/approve", r#"{"by": "a\u0000b"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("by")),
        // Years a calendar (and PostgreSQL) cannot hold, or that would sort first for ever.
        ("POST", "/agents/tasks", r#"{"task": "t", "run_id": "r", "status": "running", "started_at": "-4713-01-15T02:30:00Z"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("started_at")),
        ("PATCH", "/agents/tasks/1", r#"{"finished_at": "+99999-01-15T02:30:00Z"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("finished_at")),
        ("POST", "/agents/tasks/1/approve", r#"{"note": "no by"}"#.into(), StatusCode::UNPROCESSABLE_ENTITY, Some("by")),
        ("GET", "/agents/tasks?limit=0", String::new(), StatusCode::UNPROCESSABLE_ENTITY, Some("limit")),
        ("GET", "/agents/tasks?limit=1001", String::new(), StatusCode::UNPROCESSABLE_ENTITY, Some("limit")),
        ("GET", "/agents/tasks?status=done", String::new(), StatusCode::UNPROCESSABLE_ENTITY, Some("status")),
        ("GET", "/agents/tasks/abc", String::new(), StatusCode::NOT_FOUND, None),
        ("DELETE", "/agents/tasks/1", String::new(), StatusCode::METHOD_NOT_ALLOWED, None),
        ("GET", "/agents/no/such/endpoint", String::new(), StatusCode::NOT_FOUND, None),
    ];
    for (method, path, body, expected, field) in cases {
        let (code, err) = s.raw(method, path, &body).await;
        assert_eq!(
            code,
            expected,
            "{method} {path} {}: {err}",
            &body[..body.len().min(80)]
        );
        assert!(
            err["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{err}"
        );
        if let Some(f) = field {
            assert_eq!(
                err["field"],
                f,
                "{method} {path} {}: {err}",
                &body[..body.len().min(80)]
            );
        }
    }
    let (_, err) = s.raw("GET", "/agents/tasks?status=", "").await;
    assert!(
        err["error"].as_str().is_some_and(
            |e| e.contains("queued, running, succeeded, failed, awaiting_approval, skipped")
        ),
        "the allowed values are listed: {err}"
    );
    let (_, rows) = s.send("GET", "/agents/tasks", None, None).await;
    assert_eq!(rows, json!([]), "no bad request wrote a row");
}

/// JSON Schema counts `249.0` as an integer, so a client generating requests from the
/// document may send it (schemathesis did): it is stored as 249.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integral_numbers_written_with_a_fraction_are_integers(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = ApiServer::start(&db, None).await;
    let (code, row) = s
        .raw(
            "POST",
            "/agents/tasks",
            r#"{"task": "t", "run_id": "r", "status": "running", "duration_ms": 249.0}"#,
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{row}");
    assert_eq!(row["duration_ms"], json!(249));
    let id = row["id"].as_i64().unwrap();
    let (code, row) = s
        .raw(
            "PATCH",
            &format!("/agents/tasks/{id}"),
            r#"{"duration_ms": 2.5e2}"#,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{row}");
    assert_eq!(row["duration_ms"], json!(250));
    let (_, again) = s
        .send("GET", &format!("/agents/tasks/{id}"), None, None)
        .await;
    assert_eq!(again["duration_ms"], json!(250), "stored as an integer");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_token_when_there_is_one(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = ApiServer::start(&db, Some("t0k3n-for-tests")).await;
    for token in [None, Some("wrong")] {
        let (code, err) = s
            .send("POST", "/agents/tasks", Some(new_task("running")), token)
            .await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{err}");
    }
    let (code, _) = s.send("GET", "/agents/tasks", None, None).await;
    assert_eq!(code, StatusCode::OK, "reads stay open");
    let (_, rows) = s.send("GET", "/agents/tasks", None, None).await;
    assert_eq!(rows, json!([]), "nothing written without the token");
    let (code, row) = s
        .send(
            "POST",
            "/agents/tasks",
            Some(new_task("awaiting_approval")),
            Some("t0k3n-for-tests"),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let id = row["id"].as_i64().unwrap();
    let (code, _) = s
        .send(
            "POST",
            &format!("/agents/tasks/{id}/approve"),
            Some(json!({"by": "a"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = s
        .send(
            "PATCH",
            &format!("/agents/tasks/{id}"),
            Some(json!({"log_excerpt": "x"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = s
        .send(
            "POST",
            &format!("/agents/tasks/{id}/approve"),
            Some(json!({})),
            Some("t0k3n-for-tests"),
        )
        .await;
    // The admin token's decisions are recorded as `admin`.
    assert_eq!(code, StatusCode::OK);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let s = ApiServer::start(&db, None).await;
    let (code, doc) = s.send("GET", "/openapi.json", None, None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "the token scheme is declared"
    );
    // The NUL the handlers refuse is refused by the document too (schemathesis found it).
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("CreateTask", "log_excerpt"),
        ("PatchTask", "outputs_uri"),
        ("DecisionBody", "note"),
        ("DecisionBody", "by"),
    ] {
        let pattern = schemas[schema]["properties"][field]["pattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{schema}.{field} has no pattern: {}", schemas[schema]));
        assert!(
            pattern.contains(r"[^\u0000]"),
            "{schema}.{field}: {pattern}"
        );
    }
    // `inputs` too, at any depth: its keys, and every string and key inside (schemathesis
    // sent `{"a\u0000": 1}`, which the document called valid).
    for schema in ["CreateTask", "PatchTask"] {
        let inputs = &schemas[schema]["properties"]["inputs"];
        assert!(
            inputs["propertyNames"]["pattern"]
                .as_str()
                .is_some_and(|p| p.contains(r"[^\u0000]")),
            "{schema}.inputs: {inputs}"
        );
        let inner = inputs["additionalProperties"]["$ref"].as_str().unwrap();
        let inner = &schemas[inner.rsplit('/').next().unwrap()];
        let any_of = inner["anyOf"].as_array().unwrap();
        let string = any_of.iter().find(|s| s["type"] == "string").unwrap();
        assert!(string["pattern"].as_str().unwrap().contains(r"[^\u0000]"));
        let object = any_of.iter().find(|s| s["type"] == "object").unwrap();
        assert!(object["propertyNames"]["pattern"].is_string(), "{inner}");
    }
    // The names' pattern is the server's rule, `.` and `..` excluded (schemathesis sent `.`).
    for field in ["task", "run_id"] {
        let pattern = schemas["CreateTask"]["properties"][field]["pattern"]
            .as_str()
            .unwrap();
        let re = regex::Regex::new(pattern).unwrap();
        for name in [
            ".", "..", "...", ".a", "..a", "a.", "a..b", "-", "_", "x", "a b", "", "é",
        ] {
            assert_eq!(
                re.is_match(name),
                orch::plan::is_valid_name(name),
                "{field}: `{name}` against {pattern}"
            );
        }
    }
    // `by` is optional in the schema but required on an open server: the description says it.
    let by = schemas["DecisionBody"]["properties"]["by"]["description"]
        .as_str()
        .unwrap();
    assert!(
        by.contains("open server") && by.contains("required") && by.contains("422"),
        "{by}"
    );
    // The query parameters too: a NUL there is refused with 422 as in a body.
    let params = doc["paths"]["/agents/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap();
    for name in ["run_id", "task"] {
        let param = params.iter().find(|p| p["name"] == name).unwrap();
        assert!(
            param["schema"]["pattern"]
                .as_str()
                .is_some_and(|p| p.contains(r"[^\u0000]")),
            "?{name} declares no NUL pattern: {param}"
        );
    }
    let paths = doc["paths"].as_object().unwrap();
    let mut listed: Vec<String> = Vec::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            listed.push(format!("{} {path}", method.to_uppercase()));
            // Every route may meet a database that does not answer: the document says so.
            assert!(
                op["responses"].get("503").is_some(),
                "{method} {path} does not declare 503"
            );
        }
    }
    listed.sort();
    assert_eq!(
        listed,
        [
            "GET /agents/tasks",
            "GET /agents/tasks/{id}",
            "GET /healthz",
            "GET /metrics",
            "PATCH /agents/tasks/{id}",
            "POST /agents/tasks",
            "POST /agents/tasks/{id}/approve",
            "POST /agents/tasks/{id}/reject",
        ]
    );
    // Every documented route is served (a 404/405 would mean the document lies).
    for entry in &listed {
        let (method, path) = entry.split_once(' ').unwrap();
        let (code, _) = s.raw(method, &path.replace("{id}", "1"), "{}").await;
        assert!(
            code != StatusCode::METHOD_NOT_ALLOWED
                && (path.contains("{id}") || code != StatusCode::NOT_FOUND),
            "{entry}: {code}"
        );
    }
    assert!(doc["components"]["schemas"]["Task"]["properties"]["decided_at"].is_object());
}

#[tokio::test]
async fn serve_refuses_to_expose_writes_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    Cmd::orch_in(dir.path())
        .env_remove("ORCH_API_TOKEN")
        .args(["serve", "--bind", "0.0.0.0:0"])
        .code(2)
        .stderr_has("refusing to listen on 0.0.0.0:0 without a credential");
}

/// Issue: `--bind localhost:8001` was refused; a host name is resolved, and it is open
/// without a token only when every address it stands for is loopback.
#[tokio::test]
async fn serve_takes_a_host_name_and_refuses_a_bad_bind() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    Cmd::orch_in(dir.path())
        .args(["serve", "--bind", "not-an-address"])
        .code(2)
        .stderr_has("cannot listen on `not-an-address` (")
        .stderr_has("give `HOST:PORT`");
    let mut child = Cmd::orch_in(dir.path())
        .env_remove("ORCH_API_TOKEN")
        .args(["serve", "--bind", "localhost:0"])
        .into_std()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let base = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let answer = http_client()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    child.kill().ok();
    child.wait().ok();
    assert_eq!(answer.status(), StatusCode::OK, "{base}");
}
