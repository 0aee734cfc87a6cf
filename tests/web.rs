//! The web pages served by `orch serve` beside the API: what each page shows, escaping of
//! hostile rows, HTML 404s beside the API's JSON ones, security headers, assets, log ranges,
//! and keyset pagination of the runs page, on SQLite and PostgreSQL.

use reqwest::StatusCode;
use rstest::rstest;

use crate::support::http::{Served, http_client};
use chrono::TimeZone;

use crate::support::{Backend, TestDb, at, by_task};

const HOSTILE: &str = r#"
name: hostile
tasks:
  - task: build
    shell: "echo '<script>document.title=\"pwned\"</script>'; seq 1 20000"
  - task: gate
    shell: "echo 'review https://github.com/acme/site/pull/9'"
    approval: on_output_uri
    depends_on: [build]
  - task: deploy
    shell: "echo deployed"
    depends_on: [gate]
"#;

async fn get(url: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp = http_client().get(url).send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_the_waiting_gate_escaped_with_headers(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(HOSTILE).success();
    let rows = db.rows().await;
    let gate = by_task(&rows, "gate");
    let build = by_task(&rows, "build");
    let server = Served::start(db.orch());

    // The inbox: the waiting gate, its outputs as a link, then the latest runs.
    let (status, headers, inbox) = get(&server.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("referrer-policy"));
    assert!(
        inbox.contains(&format!("href=\"/tasks/{}\"", gate.id)),
        "{inbox}"
    );
    assert!(inbox.contains("href=\"https://github.com/acme/site/pull/9\""));
    assert!(inbox.contains(&gate.run_id));
    assert!(inbox.contains("orch approve ID"));

    // The run page lists every task; the task page shows the escaped excerpt and the log.
    let (status, _, run) = get(&server.url(&format!("/runs/{}", gate.run_id))).await;
    assert_eq!(status, StatusCode::OK);
    for t in ["build", "gate", "deploy"] {
        assert!(run.contains(&format!(">{t}</a>")), "{run}");
    }
    let (status, _, task) = get(&server.url(&format!("/tasks/{}", build.id))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!task.contains("<script>document"), "planted script escaped");
    assert!(
        task.contains("&#60;script&#62;") || task.contains("&lt;script&gt;"),
        "{task}"
    );
    // The tail first: the last line is there, the first is not; an earlier range is linked.
    assert!(task.contains("20000"));
    assert!(
        task.contains(&format!("/tasks/{}?from=", build.id)),
        "earlier link"
    );
    let (_, _, head) = get(&server.url(&format!("/tasks/{}?from=0", build.id))).await;
    assert!(head.contains("&#60;script&#62;") || head.contains("&lt;script&gt;"));
    // The log's range alone, for the follower: plain text with its end offset.
    let (status, headers, text) =
        get(&server.url(&format!("/tasks/{}/log?from=0", build.id))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(text.starts_with("<script>"), "raw text is text/plain");
    assert_eq!(
        headers["x-log-end"].to_str().unwrap(),
        text.len().to_string()
    );

    // The gate's page says where the decision will go.
    let (_, _, gate_page) = get(&server.url(&format!("/tasks/{}", gate.id))).await;
    assert!(gate_page.contains(&format!("orch approve {}", gate.id)));

    // Assets are embedded, typed and cached.
    let (status, headers, _) = get(&server.url("/assets/orch.css")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let (status, headers, _) = get(&server.url("/assets/orch.js")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // The runs page lists the run.
    let (status, _, runs) = get(&server.url("/runs")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(runs.contains(&gate.run_id));
    assert!(server.stop().success());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_get_an_html_404_and_api_paths_stay_json(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let server = Served::start(db.orch());
    for path in [
        "/runs/a%22b%3Cscript%3E",
        "/tasks/999",
        "/tasks/x%22y",
        "/nowhere",
    ] {
        let (status, headers, body) = get(&server.url(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(headers.contains_key("content-security-policy"), "{path}");
        assert!(body.contains("<h1>Not found</h1>"), "{path}: {body}");
        assert!(!body.contains("<script>"), "{path}: {body}");
    }
    for path in ["/agents/nowhere", "/agents/tasks/999"] {
        let (status, headers, _) = get(&server.url(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
    }
    assert!(server.stop().success());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runs_page_pages_by_keyset(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let plan = "name: many\ntasks:\n  - task: a\n    shell: \"true\"\n";
    for i in 0..53 {
        db.run(plan)
            .args(["--run-id", &format!("r-{i:03}")])
            .success();
    }
    let server = Served::start(db.orch());
    let (_, _, first) = get(&server.url("/runs?plan=many")).await;
    assert!(
        first.contains(">r-052<") && !first.contains(">r-002<"),
        "{first}"
    );
    let next = first
        .split("before=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("an older-runs link")
        .to_owned();
    let (_, _, second) = get(&server.url(&format!("/runs?plan=many&before={next}"))).await;
    assert!(
        second.contains(">r-000<") && second.contains(">r-002<"),
        "{second}"
    );
    assert!(
        !second.contains(">r-052<") && !second.contains(">r-003<"),
        "{second}"
    );
    assert!(!second.contains("Older runs"));
    assert!(server.stop().success());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runs_page_counts_times_and_filters_runs(#[case] backend: Backend) {
    use orch::store::{agents_run, agents_task};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let mixed = "name: mixed\ntasks:\n  - task: a\n    shell: \"exit 1\"\n  - task: b\n    shell: \"true\"\n  - task: c\n    shell: \"true\"\n";
    let fine = "name: fine\ntasks:\n  - task: a\n    shell: \"true\"\n";
    db.run(mixed).args(["--run-id", "r-mixed"]).output();
    db.run(fine).args(["--run-id", "r-old"]).success();
    db.run(fine).args(["--run-id", "r-fine"]).success();

    // Known times: r-fine's tasks ran 10:00 to 10:01:30 on the test day; r-old began in 2020.
    let store = db.raw_store().await;
    agents_task::Entity::update_many()
        .col_expr(agents_task::Column::StartedAt, Expr::value(at(10, 0)))
        .col_expr(
            agents_task::Column::FinishedAt,
            Expr::value(at(10, 1) + chrono::Duration::seconds(30)),
        )
        .filter(agents_task::Column::RunId.eq("r-fine"))
        .exec(&store.db)
        .await
        .unwrap();
    let old = chrono::Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5).unwrap();
    agents_run::Entity::update_many()
        .col_expr(agents_run::Column::StartedAt, Expr::value(old))
        .filter(agents_run::Column::RunId.eq("r-old"))
        .exec(&store.db)
        .await
        .unwrap();
    store.db.close().await.ok();

    let server = Served::start(db.orch());
    let (status, _, all) = get(&server.url("/runs")).await;
    assert_eq!(status, StatusCode::OK);
    for run in ["r-mixed", "r-old", "r-fine"] {
        assert!(all.contains(&format!(">{run}<")), "{all}");
    }
    assert!(
        all.contains("2 succeeded, 1 failed"),
        "counts per status: {all}"
    );
    assert!(
        all.contains(&cell("Duration", "1m 30s")),
        "first start to last finish: {all}"
    );

    // A run having any task in the status.
    let (_, _, failed) = get(&server.url("/runs?status=failed")).await;
    assert!(failed.contains(">r-mixed<"), "{failed}");
    assert!(
        !failed.contains(">r-fine<") && !failed.contains(">r-old<"),
        "{failed}"
    );
    assert!(
        failed.contains("<option value=\"failed\" selected>"),
        "{failed}"
    );
    let (_, _, succeeded) = get(&server.url("/runs?status=succeeded")).await;
    for run in ["r-mixed", "r-old", "r-fine"] {
        assert!(succeeded.contains(&format!(">{run}<")), "{succeeded}");
    }

    // Runs started on or after a day; the filters combine.
    let (_, _, recent) = get(&server.url("/runs?since=2021-01-01")).await;
    assert!(
        recent.contains(">r-fine<") && recent.contains(">r-mixed<"),
        "{recent}"
    );
    assert!(!recent.contains(">r-old<"), "{recent}");
    assert!(recent.contains("value=\"2021-01-01\""), "{recent}");
    let (_, _, both) = get(&server.url("/runs?plan=fine&since=2020-01-02&status=")).await;
    assert!(
        both.contains(">r-fine<") && both.contains(">r-old<"),
        "{both}"
    );
    assert!(!both.contains(">r-mixed<"), "{both}");
    let (_, _, none) = get(&server.url("/runs?since=2020-01-03&plan=fine&status=skipped")).await;
    assert!(!none.contains(">r-"), "{none}");

    // A filter that cannot be read is a 400 page that says why.
    let (status, headers, body) = get(&server.url("/runs?status=bogus")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(headers.contains_key("content-security-policy"));
    assert!(
        body.contains("`bogus` is not a status; use one of"),
        "{body}"
    );
    let (status, _, body) = get(&server.url("/runs?since=%3Cb%3Eyesterday")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("give the day as YYYY-MM-DD"), "{body}");
    assert!(!body.contains("<b>yesterday"), "escaped: {body}");
    assert!(server.stop().success());
}

const CHAIN: &str = r#"
name: chain
tasks:
  - task: build
    shell: "true"
  - task: gate
    shell: "echo 'review https://github.com/acme/site/pull/9'"
    approval: always
    depends_on: [build]
  - task: deploy
    shell: "true"
    depends_on: [gate]
  - task: announce
    shell: "true"
    depends_on: [deploy]
  - task: unrelated
    shell: "true"
"#;

/// `<td data-label="LABEL">VALUE</td>` as the cards' markup has it.
fn cell(label: &str, value: &str) -> String {
    format!("<td data-label=\"{label}\">{value}</td>")
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_says_what_approving_lets_run_and_when_it_cannot_tell(#[case] backend: Backend) {
    use orch::store::agents_run;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(CHAIN).args(["--run-id", "r-good"]).success();
    db.run(CHAIN).args(["--run-id", "r-bad"]).success();
    // One run's saved plan no longer parses; a gate planted by another tool has no run row,
    // and a name no plan would allow.
    let store = db.store().await;
    agents_run::Entity::update_many()
        .col_expr(agents_run::Column::PlanText, Expr::value("tasks: [ {"))
        .filter(agents_run::Column::RunId.eq("r-bad"))
        .exec(&store.db)
        .await
        .unwrap();
    let planted = crate::support::seed_task(
        &store,
        "<script>x</script>",
        "r\"planted",
        orch::store::TaskStatus::AwaitingApproval,
        None,
    )
    .await;
    store.db.close().await.ok();

    let server = Served::start(db.orch());
    let (status, _, inbox) = get(&server.url("/")).await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    assert!(
        inbox.contains(&cell("Lets run", "deploy; then announce")),
        "direct, then transitive, by name: {inbox}"
    );
    assert!(!inbox.contains("unrelated"), "{inbox}");
    assert!(
        inbox.contains("unknown: (plan saved with run r-bad):"),
        "an unreadable plan is said on its row: {inbox}"
    );
    assert!(
        inbox.contains("unknown: no plan is saved with run `r&#34;planted`")
            || inbox.contains("unknown: no plan is saved with run `r&quot;planted`"),
        "{inbox}"
    );
    assert!(
        !inbox.contains("<script>x"),
        "planted name escaped: {inbox}"
    );
    assert!(inbox.contains(&format!("href=\"/tasks/{}\"", planted.id)));
    // Its run page is served too, saying why it shows no dependencies.
    let (status, _, run) = get(&server.url("/runs/r%22planted")).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert!(
        run.contains("Dependencies unknown: no plan is saved"),
        "{run}"
    );
    assert!(!run.contains("<script>x"), "{run}");
    assert!(server.stop().success());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_page_shows_dependencies_previous_durations_and_decisions(
    #[case] backend: Backend,
) {
    use orch::store::agents_task;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(CHAIN).args(["--run-id", "r-1"]).success();
    db.run(CHAIN).args(["--run-id", "r-2"]).success();
    let store = db.store().await;
    for (run, ms) in [("r-1", 900), ("r-2", 1234)] {
        agents_task::Entity::update_many()
            .col_expr(agents_task::Column::DurationMs, Expr::value(ms))
            .filter(agents_task::Column::RunId.eq(run))
            .filter(agents_task::Column::Task.eq("build"))
            .exec(&store.db)
            .await
            .unwrap();
    }
    store.db.close().await.ok();
    let rows = db.rows().await;
    let gate = rows
        .iter()
        .find(|r| r.run_id == "r-2" && r.task == "gate")
        .unwrap();
    let note = "<script>alert(1)</script> ship it";
    db.orch()
        .args(["approve", &gate.id.to_string(), "--note", note])
        .success();

    let server = Served::start(db.orch());
    let (status, _, page) = get(&server.url("/runs/r-2")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("1.2s (prev 900 ms)"),
        "against the previous run of the plan: {page}"
    );
    assert!(page.contains("href=\"/runs/r-1\""), "{page}");
    assert!(page.contains(&cell("Depends on", "gate")), "{page}");
    assert!(page.contains(&cell("Depends on", "")), "build has none");
    assert!(page.contains("approved by tester at "), "{page}");
    assert!(page.contains("ship it"), "the note: {page}");
    assert!(!page.contains("<script>alert"), "the note escaped: {page}");
    // The first run has nothing before it.
    let (_, _, first) = get(&server.url("/runs/r-1")).await;
    assert!(
        first.contains(">900 ms<") && !first.contains("(prev"),
        "{first}"
    );

    // Still going (deploy waits for a resume): the page polls its rows, which the endpoint
    // gives as JSON under the same read rule.
    assert!(
        page.contains("data-poll=\"/runs/r-2/tasks\""),
        "live while a task is not final: {page}"
    );
    let resp = http_client()
        .get(server.url("/runs/r-2/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["live"], true);
    let gate_cells = body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == gate.id)
        .unwrap();
    assert_eq!(gate_cells["status"], "succeeded");
    assert_eq!(
        gate_cells["note"], note,
        "raw in JSON: the script sets text"
    );
    let (status, _, _) = get(&server.url("/runs/nope/tasks")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Once every task is final, nothing polls.
    db.orch().args(["resume", "r-2"]).success();
    let (_, _, done) = get(&server.url("/runs/r-2")).await;
    assert!(!done.contains("data-poll"), "{done}");
    let (_, _, body) = get(&server.url("/runs/r-2/tasks")).await;
    assert!(body.contains("\"live\":false"), "{body}");
    assert!(server.stop().success());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_or_unreadable_parameter_is_a_400_page_never_a_500(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(CHAIN).args(["--run-id", "r-1"]).success();
    let server = Served::start(db.orch());
    for path in [
        "/runs?plan=%00",
        "/runs?plan=a%00b&status=failed",
        "/runs?before=2026-01-01T00:00:00Z%7Cr%00",
        "/runs?plan=%FF",
        "/runs?plan=a&plan=b",
        "/runs/%00",
        "/runs/r%00/tasks",
        "/tasks/1?from=x",
        "/tasks/1?from=%00",
        "/tasks/1/log?from=-1",
    ] {
        let (status, headers, body) = get(&server.url(path)).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{path}: {status} {body}"
        );
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(headers.contains_key("content-security-policy"), "{path}");
    }
    let (_, _, body) = get(&server.url("/runs?plan=%00")).await;
    assert!(body.contains("holds a NUL"), "{body}");
    let (_, _, body) = get(&server.url("/tasks/1?from=x")).await;
    assert!(body.contains("from: invalid digit"), "{body}");
    assert!(server.stop().success());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_whose_names_leave_the_log_folder_reads_no_file(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    // What `<log_dir>/<run_id>/<task>.log` would reach from the names below.
    std::fs::create_dir_all(db.path().join(".orch/logs")).unwrap();
    std::fs::write(db.path().join(".orch/secret.log"), "TOPSECRET").unwrap();
    let server = Served::start(db.orch());

    // The API refuses such names when a row is created...
    let resp = http_client()
        .post(server.url("/agents/tasks"))
        .json(&serde_json::json!({"task": "secret", "run_id": "..", "status": "succeeded"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // ...but another tool writing the table directly does not ask it.
    let store = db.store().await;
    let succeeded = orch::store::TaskStatus::Succeeded;
    let started = Some(at(10, 0));
    let up = crate::support::seed_task(&store, "secret", "..", succeeded, started).await;
    let slash = crate::support::seed_task(&store, "../../secret", "r", succeeded, started).await;
    store.db.close().await.ok();

    for row in [&up, &slash] {
        let (status, _, page) = get(&server.url(&format!("/tasks/{}", row.id))).await;
        assert_eq!(status, StatusCode::OK, "the row is shown: {page}");
        assert!(!page.contains("TOPSECRET"), "{page}");
        assert!(page.contains("no log is read for run"), "{page}");
        let (status, _, text) = get(&server.url(&format!("/tasks/{}/log?from=0", row.id))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
        assert!(!text.contains("TOPSECRET"), "{text}");
    }
    db.orch()
        .args(["logs", &up.id.to_string()])
        .code(4)
        .stderr_has("no log is read for run `..`")
        .stdout_lacks("TOPSECRET");
    assert!(server.stop().success());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_become_labelled_cards_on_a_phone_and_live_updates_say_when_they_stop(
    #[case] backend: Backend,
) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(CHAIN).args(["--run-id", "r-1"]).success();
    let server = Served::start(db.orch());
    for path in ["/", "/runs", "/runs/r-1"] {
        let (_, _, page) = get(&server.url(path)).await;
        let tables = page.matches("<table").count();
        assert!(tables > 0, "{path}");
        assert_eq!(
            page.matches("<table class=\"cards\"").count(),
            tables,
            "{path}"
        );
        assert_eq!(
            page.matches("<td").count(),
            page.matches("<td data-label=\"").count(),
            "every cell labelled on {path}: {page}"
        );
    }
    let (_, _, css) = get(&server.url("/assets/orch.css")).await;
    assert!(css.contains("content:attr(data-label)"), "{css}");
    assert!(!css.contains("min-width:44rem"), "no sideways scrolling");
    let (_, _, js) = get(&server.url("/assets/orch.js")).await;
    assert!(js.contains("!r.ok") && js.contains("live updates stopped: reload"));
    assert!(server.stop().success());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_live_rows_follow_the_pages_read_rule(#[case] backend: Backend) {
    use crate::support::http::ApiServer;

    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(CHAIN).args(["--run-id", "r-1"]).success();
    db.orch().args(["users", "add", "ana"]).success();
    let reader = db
        .orch()
        .args(["tokens", "create", "--user", "ana", "--scope", "read"])
        .success()
        .stdout()
        .trim()
        .to_owned();
    // As a server listening beyond loopback: reading needs a credential.
    let s = ApiServer::start_as(&db, None, true).await;
    let url = format!("{}/runs/r-1/tasks", s.base);
    let refused = s.http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = s
        .http
        .get(&url)
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["tasks"].as_array().unwrap().len(), 5, "{body}");
}
