//! Users, tokens and the API's use of them: per-user bearer tokens, scopes, `by` refused when
//! it names someone else, revoked and expired tokens refused at once; on both databases.

use orch::store::TaskStatus;
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::json;

use crate::support::http::ApiServer;
use crate::support::{Backend, TestDb, query_strings, seed_task};

fn token(db: &TestDb, user: &str, scope: &str, expires: &str) -> String {
    db.orch()
        .args([
            "tokens",
            "create",
            "--user",
            user,
            "--scope",
            scope,
            "--expires",
            expires,
        ])
        .success()
        .stdout()
        .trim()
        .to_owned()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_tokens_are_listed_without_secrets(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch()
        .args(["users", "add", "ana", "--group", "leads", "--group", "ops"])
        .success();
    let dup = db.orch().args(["users", "add", "ana"]).code(5);
    assert!(
        dup.stderr().contains("a user `ana` exists already"),
        "{}",
        dup.stderr()
    );
    let users = db
        .orch()
        .args(["users", "list", "--json"])
        .success()
        .stdout_json();
    assert_eq!(users[0]["name"], "ana");
    assert_eq!(users[0]["groups"], json!(["leads", "ops"]));

    let secret = token(&db, "ana", "read", "90d");
    assert!(secret.starts_with("orch_"), "{secret}");
    db.orch()
        .args(["tokens", "create", "--user", "bob"])
        .code(4);
    // Only the digest is stored.
    let store = db.store().await;
    let hashes = query_strings(&store, "SELECT token_hash FROM orch_api_tokens").await;
    assert_eq!(hashes, vec![orch::identity::token::digest(&secret)]);
    for args in [&["tokens", "list"][..], &["tokens", "list", "--json"]] {
        let out = db.orch().args(args).success().stdout();
        assert!(!out.contains(&secret) && !out.contains(&hashes[0]), "{out}");
        assert!(out.contains("ana") && out.contains("read"), "{out}");
    }
    assert!(
        db.orch()
            .args(["tokens", "revoke", "1"])
            .success()
            .stdout()
            .contains("revoked token 1")
    );
    assert!(
        db.orch()
            .args(["tokens", "revoke", "1"])
            .success()
            .stdout()
            .contains("revoked already")
    );
    db.orch().args(["tokens", "revoke", "99"]).code(4);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_recorded_under_the_tokens_user(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    db.orch().args(["users", "add", "rob"]).success();
    let reader = token(&db, "rob", "read", "90d");
    let decider = token(&db, "ana", "decide", "never");
    let store = db.store().await;
    let gate = seed_task(&store, "gate", "r1", TaskStatus::AwaitingApproval, None).await;
    let s = ApiServer::start(&db, Some("admin-secret")).await;
    let approve = format!("/agents/tasks/{}/approve", gate.id);

    // With a token in the database, writes need a credential; reads on loopback stay open.
    let (code, _) = s
        .send("POST", &approve, Some(json!({"by": "ana"})), None)
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = s.send("GET", "/agents/tasks", None, None).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = s.send("GET", "/agents/tasks", None, Some(&reader)).await;
    assert_eq!(code, StatusCode::OK);

    // A read token can neither decide nor create.
    let (code, err) = s
        .send("POST", &approve, Some(json!({})), Some(&reader))
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("scope `read`"),
        "{err}"
    );
    let (code, _) = s
        .send(
            "POST",
            "/agents/tasks",
            Some(json!({"task": "t", "run_id": "r", "status": "running"})),
            Some(&decider),
        )
        .await;
    assert_eq!(
        code,
        StatusCode::FORBIDDEN,
        "a decide token cannot create rows"
    );

    // `by` naming someone else: 403, and nothing written.
    let (code, err) = s
        .send("POST", &approve, Some(json!({"by": "rob"})), Some(&decider))
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{err}");
    assert_eq!(err["field"], "by");
    let still = query_strings(
        &store,
        &format!("SELECT status FROM agents_tasks WHERE id = {}", gate.id),
    )
    .await;
    assert_eq!(still, vec!["awaiting_approval"]);

    // `by` left out: the token's user.
    let (code, row) = s
        .send(
            "POST",
            &approve,
            Some(json!({"note": "ok"})),
            Some(&decider),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{row}");
    assert_eq!(row["approver"], "ana");

    // The admin token decides as `admin`, and may create rows.
    let gate2 = seed_task(&store, "gate2", "r1", TaskStatus::AwaitingApproval, None).await;
    let (code, row) = s
        .send(
            "POST",
            &format!("/agents/tasks/{}/reject", gate2.id),
            Some(json!({})),
            Some("admin-secret"),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{row}");
    assert_eq!(row["approver"], "admin");
    let (code, _) = s
        .send(
            "POST",
            "/agents/tasks",
            Some(json!({"task": "t", "run_id": "r", "status": "running"})),
            Some("admin-secret"),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);

    // Revoked: 401 at once, saying so. Unknown: 401 too.
    db.orch().args(["tokens", "revoke", "2"]).success();
    let (code, err) = s.send("GET", "/agents/tasks", None, Some(&decider)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(err["error"].as_str().unwrap().contains("revoked"), "{err}");
    let (code, err) = s
        .send("GET", "/agents/tasks", None, Some("orch_nope"))
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(err["error"].as_str().unwrap().contains("unknown"), "{err}");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_gets_401(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    let t = token(&db, "ana", "decide", "1s");
    let store = db.store().await;
    // Expire it by the row rather than by waiting.
    let past = "2000-01-01T00:00:00+00:00";
    use sea_orm::ConnectionTrait;
    store
        .db
        .execute_unprepared(&format!("UPDATE orch_api_tokens SET expires_at = '{past}'"))
        .await
        .unwrap();
    let s = ApiServer::start(&db, None).await;
    let (code, err) = s.send("GET", "/agents/tasks", None, Some(&t)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(err["error"].as_str().unwrap().contains("expired"), "{err}");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_header_counts_only_from_the_trusted_proxy(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    // A token exists, so nothing is open: only a credential lets a decision through.
    token(&db, "ana", "read", "90d");
    let store = db.store().await;
    let http = crate::support::http::http_client();
    for (range, trusted) in [("127.0.0.1/32", true), ("10.0.0.0/8", false)] {
        let gate = seed_task(&store, "gate", range, TaskStatus::AwaitingApproval, None).await;
        let server = crate::support::http::Served::start_with(
            db.orch(),
            &[
                "--trusted-user-header",
                "X-Forwarded-User",
                "--trusted-proxy",
                range,
            ],
        );
        let approve = |who: &str| {
            http.post(server.url(&format!("/agents/tasks/{}/approve", gate.id)))
                .header("x-forwarded-user", who)
                .json(&json!({}))
                .send()
        };
        let resp = approve("ana").await.unwrap();
        let code = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap();
        if trusted {
            assert_eq!(code, StatusCode::OK, "{body}");
            assert_eq!(body["approver"], "ana");
            let other = approve("mallory").await.unwrap();
            assert_eq!(other.status(), StatusCode::FORBIDDEN, "not an orch user");
            // A disabled user is refused too, and told so rather than to be added.
            db.orch().args(["users", "disable", "ana"]).success();
            let disabled = approve("ana").await.unwrap();
            assert_eq!(disabled.status(), StatusCode::FORBIDDEN);
            let body: serde_json::Value = disabled.json().await.unwrap();
            assert!(
                body["error"].as_str().unwrap().contains("disabled"),
                "{body}"
            );
            db.orch().args(["users", "enable", "ana"]).success();
            server.stop();
        } else {
            assert_eq!(code, StatusCode::UNAUTHORIZED, "{body}");
            let log = server.stop_and_log();
            assert!(
                log.contains("ignored the `x-forwarded-user` header from 127.0.0.1"),
                "{log}"
            );
        }
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_beyond_loopback_need_a_token(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    let reader = token(&db, "ana", "read", "90d");
    let s = ApiServer::start_as(&db, None, true).await;
    let (code, err) = s.send("GET", "/agents/tasks", None, None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{err}");
    let (code, _) = s.send("GET", "/agents/tasks", None, Some(&reader)).await;
    assert_eq!(code, StatusCode::OK);
    // The pages follow the same rule: a page without a credential sends the person to the
    // login page (followed here), a bad token is refused with a page saying why; the embedded
    // assets stay open.
    let page = |path: &str, bearer: Option<&str>| {
        let mut req = s
            .http
            .get(format!("{}{path}", s.base))
            .header("accept", "text/html");
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        async move {
            let resp = req.send().await.unwrap();
            (
                resp.status(),
                resp.url().path().to_owned(),
                resp.text().await.unwrap(),
            )
        }
    };
    let (code, at, body) = page("/runs", None).await;
    assert_eq!((code, at.as_str()), (StatusCode::OK, "/login"), "{body}");
    assert!(body.contains("orch tokens create"), "{body}");
    let (code, _, body) = page("/runs", Some("orch_nonsense")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(body.contains("unknown"), "{body}");
    let (code, _, _) = page("/assets/orch.css", None).await;
    assert_eq!(code, StatusCode::OK);
    let (code, _, body) = page("/", Some(&reader)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

/// What a browser can be tricked into sending is refused before anything is written: a write
/// from another site (its `Origin`), a body not labelled JSON (a cross-site form or `no-cors`
/// fetch), and on a loopback server a foreign `Host` (DNS rebinding).
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_a_browser_was_tricked_into_are_refused(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let gate = seed_task(&store, "gate", "r1", TaskStatus::AwaitingApproval, None).await;
    let s = ApiServer::start(&db, None).await;
    let url = format!("{}/agents/tasks/{}/approve", s.base, gate.id);
    let body = r#"{"by": "alice"}"#;
    let cases = [
        (
            s.http
                .post(&url)
                .header("origin", "https://evil.example")
                .header("content-type", "application/json")
                .body(body),
            StatusCode::FORBIDDEN,
        ),
        (
            s.http
                .post(&url)
                .header("sec-fetch-site", "cross-site")
                .header("content-type", "application/json")
                .body(body),
            StatusCode::FORBIDDEN,
        ),
        (
            s.http
                .post(&url)
                .header("content-type", "text/plain;charset=UTF-8")
                .body(body),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            s.http.post(&url).body(body),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            s.http
                .post(&url)
                .header("host", "rebound.evil.example:8001")
                .header("content-type", "application/json")
                .body(body),
            StatusCode::FORBIDDEN,
        ),
        (
            s.http
                .get(format!("{}/agents/tasks", s.base))
                .header("host", "rebound.evil.example"),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (req, expected) in cases {
        let resp = req.send().await.unwrap();
        let code = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(code, expected, "{text}");
    }
    let row = db
        .rows()
        .await
        .into_iter()
        .find(|r| r.id == gate.id)
        .unwrap();
    assert_eq!(
        row.status,
        TaskStatus::AwaitingApproval,
        "nothing was decided"
    );
    // The same request from this server's own origin, labelled JSON, goes through.
    let origin = s.base.clone();
    let resp = s
        .http
        .post(&url)
        .header("origin", origin)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
}

/// Once a token was issued, the loopback server stays closed: the last token revoked (or
/// expired) does not reopen writes to anyone who names themselves in `by`.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_last_token_does_not_reopen_the_api(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    token(&db, "ana", "decide", "90d");
    db.orch().args(["tokens", "revoke", "1"]).success();
    let store = db.store().await;
    let gate = seed_task(&store, "gate", "r1", TaskStatus::AwaitingApproval, None).await;
    let s = ApiServer::start(&db, None).await;
    let (code, body) = s
        .send(
            "POST",
            &format!("/agents/tasks/{}/approve", gate.id),
            Some(json!({"by": "anyone"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{body}");
}

/// Names that would blur identities, and token lifetimes that are typos, are refused (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blurred_names_and_impossible_lifetimes_are_refused() {
    let db = TestDb::sqlite().await;
    db.orch()
        .args(["users", "add", "admin"])
        .code(2)
        .stderr_has("admin token");
    db.orch().args(["users", "add", "a b"]).code(2);
    db.orch().args(["users", "add", "ana"]).success();
    for bad in ["0s", "1000000y"] {
        db.orch()
            .args(["tokens", "create", "--user", "ana", "--expires", bad])
            .code(2);
    }
}

/// `last_used_at` is written when it is a minute old (or unset), not on every request: a
/// value seeded just now stays as it is through a request, an old one is refreshed.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_used_is_written_at_most_once_a_minute(#[case] backend: Backend) {
    use orch::store::entity::orch_api_token::{Column, Entity};
    use sea_orm::sea_query::Expr;
    use sea_orm::{EntityTrait, QueryFilter};
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    let t = token(&db, "ana", "read", "90d");
    let store = db.store().await;
    let seed = |at: chrono::DateTime<chrono::Utc>| {
        Entity::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(at))
            .filter(sea_orm::ColumnTrait::eq(&Column::Id, 1))
            .exec(&store.db)
    };
    let last_used = || async {
        Entity::find_by_id(1)
            .one(&store.db)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };
    let s = ApiServer::start(&db, None).await;

    // Whole seconds: both databases hold them exactly.
    let recent = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 1, 0).unwrap();
    seed(recent).await.unwrap();
    let (code, _) = s.send("GET", "/agents/tasks", None, Some(&t)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        last_used().await,
        Some(recent),
        "a recent value is left alone"
    );

    let old = chrono::DateTime::from_timestamp(946_684_800, 0).unwrap(); // 2000-01-01
    seed(old).await.unwrap();
    let (code, _) = s.send("GET", "/agents/tasks", None, Some(&t)).await;
    assert_eq!(code, StatusCode::OK);
    let refreshed = last_used().await.unwrap();
    assert!(
        refreshed >= recent,
        "an old value is refreshed: {refreshed}"
    );
}

/// `orch users disable` refuses the user's tokens at once (401), `enable` lets them in again;
/// both are shown by `users list`, and an unknown name exits 4.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_users_tokens_are_refused_until_enabled(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    let t = token(&db, "ana", "decide", "90d");
    let s = ApiServer::start(&db, None).await;
    let (code, _) = s.send("GET", "/agents/tasks", None, Some(&t)).await;
    assert_eq!(code, StatusCode::OK);

    db.orch()
        .args(["users", "disable", "ana"])
        .success()
        .stdout_has("disabled user `ana`");
    let (code, err) = s.send("GET", "/agents/tasks", None, Some(&t)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "{err}");
    assert!(err["error"].as_str().unwrap().contains("disabled"), "{err}");
    db.orch()
        .args(["users", "disable", "ana"])
        .success()
        .stdout_has("was disabled already");
    let listed = db.orch().args(["users", "list"]).success().stdout();
    assert!(listed.contains("DISABLED"), "{listed}");
    let row = db
        .orch()
        .args(["users", "list", "--json"])
        .success()
        .stdout_json();
    assert!(row[0]["disabled_at"].is_string(), "{row}");
    // No new token for them while disabled: it could never be used.
    let refused = db
        .orch()
        .args(["tokens", "create", "--user", "ana"])
        .code(5);
    assert!(
        refused.stderr().contains("orch users enable ana"),
        "{}",
        refused.stderr()
    );

    db.orch()
        .args(["users", "enable", "ana"])
        .success()
        .stdout_has("enabled user `ana`");
    let (code, err) = s.send("GET", "/agents/tasks", None, Some(&t)).await;
    assert_eq!(code, StatusCode::OK, "{err}");
    db.orch()
        .args(["users", "enable", "ana"])
        .success()
        .stdout_has("is not disabled");
    let row = db
        .orch()
        .args(["users", "list", "--json"])
        .success()
        .stdout_json();
    assert_eq!(row[0]["disabled_at"], json!(null), "{row}");

    for verb in ["disable", "enable"] {
        db.orch()
            .args(["users", verb, "bob"])
            .code(4)
            .stderr_has("no user `bob`");
    }
}
