//! Logging in to the pages: a token opens a session (cookie HttpOnly, SameSite=Strict,
//! Secure behind https, only a digest stored), logout ends it, a session ends with its token,
//! its user or its expiry, and beyond loopback reading needs a login that returns the person
//! where they were; on both databases.

use reqwest::StatusCode;
use rstest::rstest;
use sea_orm::ConnectionTrait;

use crate::support::http::Served;
use crate::support::pages::Visitor;
use crate::support::{Backend, TestDb, query_strings};

fn token(db: &TestDb, user: &str, scope: &str) -> String {
    db.orch()
        .args(["tokens", "create", "--user", user, "--scope", scope])
        .success()
        .stdout()
        .trim()
        .to_owned()
}

/// A server that counts as beyond loopback (a trusted proxy is configured, at an address no
/// test request comes from), so reading needs a credential.
fn public_server(db: &TestDb) -> Served {
    Served::start_with(
        db.orch(),
        &[
            "--trusted-user-header",
            "X-Remote-User",
            "--trusted-proxy",
            "192.0.2.1/32",
        ],
    )
}

async fn exec(db: &TestDb, sql: &str) {
    db.store().await.db.execute_unprepared(sql).await.unwrap();
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_opens_a_session_and_logout_ends_it(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    let secret = token(&db, "ana", "decide");
    let server = Served::start(db.orch());
    let mut ana = Visitor::new(&server.url(""));

    let login = ana.login(&secret).await;
    assert_eq!(login.location(), "/");
    let cookie = login.set_cookie();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    // Only the digest of the cookie's secret is stored.
    let stored = query_strings(&db.store().await, "SELECT session_hash FROM orch_sessions").await;
    let value = ana.cookie.clone().unwrap();
    let value = value.trim_start_matches("orch_session=");
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], value);
    assert!(!stored[0].contains(value.trim_start_matches("orch_")));

    let inbox = ana.get("/").await;
    assert!(
        inbox.body.contains("Signed in as <strong>ana</strong>"),
        "{}",
        inbox.body
    );
    assert!(inbox.body.contains("action=\"/logout\""), "{}", inbox.body);
    // A page holding a form token is kept by no cache.
    assert_eq!(inbox.headers["cache-control"], "no-store");

    // Logout needs the form's token; without it nothing ends.
    let forged = ana.post("/logout", &[("form_token", "0")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(ana.get("/").await.body.contains("Signed in as"));

    let out = ana.submit("/", "/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/login?why=logged-out");
    assert!(
        out.set_cookie().contains("Max-Age=0"),
        "{}",
        out.set_cookie()
    );
    let revoked = query_strings(
        &db.store().await,
        "SELECT CASE WHEN revoked_at IS NULL THEN 'live' ELSE 'ended' END FROM orch_sessions",
    )
    .await;
    assert_eq!(revoked, ["ended"]);
    // The copied cookie no longer names anyone: the page reads as nobody's.
    let after = ana.get("/").await;
    assert!(!after.body.contains("Signed in as"), "{}", after.body);
    assert!(after.set_cookie().contains("Max-Age=0"));
    let page = ana.get("/login?why=logged-out").await;
    assert!(page.body.contains("you have logged out"), "{}", page.body);
    // Logging out again with the dead cookie just drops it; `GET /logout` is a 405 page.
    let again = ana.post("/logout", &[("form_token", "0")]).await;
    assert_eq!(again.location(), "/login?why=logged-out", "{}", again.body);
    let get = ana.get("/logout").await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(get.body.contains("<html"), "{}", get.body);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_refused_with_its_reason(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    let revoked = token(&db, "ana", "decide");
    db.orch().args(["tokens", "revoke", "1"]).success();
    let server = Served::start(db.orch());
    let v = Visitor::new(&server.url(""));
    for (token, status, says) in [
        ("orch_unknown", StatusCode::UNAUTHORIZED, "unknown"),
        (revoked.as_str(), StatusCode::UNAUTHORIZED, "revoked"),
        ("   ", StatusCode::UNPROCESSABLE_ENTITY, "paste your token"),
    ] {
        let page = v.post("/login", &[("token", token), ("next", "/")]).await;
        assert_eq!(page.status, status, "{token}: {}", page.body);
        assert!(page.body.contains(says), "{token}: {}", page.body);
        assert!(page.set_cookie().is_empty(), "no session for {token}");
        // The token typed is not echoed back into the page.
        assert!(!page.body.contains("orch_unknown"));
    }
    let none = query_strings(&db.store().await, "SELECT session_hash FROM orch_sessions").await;
    assert!(none.is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_loopback_reading_needs_a_login_that_returns_the_person(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    let secret = token(&db, "ana", "read");
    let server = public_server(&db);
    let mut ana = Visitor::new(&server.url(""));

    let away = ana.get("/runs?plan=nightly").await;
    assert_eq!(away.status, StatusCode::SEE_OTHER);
    assert_eq!(
        away.location(),
        "/login?next=/runs%3Fplan%3Dnightly&why=needed"
    );
    // The login page itself, and the assets it needs, are open.
    let login = ana.get(away.location()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login.body.contains("log in to see this page"),
        "{}",
        login.body
    );
    assert!(
        login.body.contains("value=\"/runs?plan=nightly\""),
        "{}",
        login.body
    );
    assert_eq!(ana.get("/assets/orch.css").await.status, StatusCode::OK);

    // Logging in sends the person back where they were going; another site is never a target.
    let back = ana
        .post(
            "/login",
            &[("token", &secret), ("next", "/runs?plan=nightly")],
        )
        .await;
    assert_eq!(back.location(), "/runs?plan=nightly");
    let abroad = ana
        .post("/login", &[("token", &secret), ("next", "//evil.example/")])
        .await;
    assert_eq!(abroad.location(), "/");
    ana.login(&secret).await;
    assert_eq!(ana.get("/runs?plan=nightly").await.status, StatusCode::OK);

    // A link followed from another site arrives without the SameSite=Strict cookie: the
    // server answers with a page that reloads itself from this site, so the cookie comes.
    let from_slack = ana
        .http
        .get(server.url("/runs"))
        .header("accept", "text/html")
        .header("sec-fetch-site", "cross-site")
        // A load balancer's affinity cookie does come along; the session's does not.
        .header("cookie", "AWSALBCORS=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(from_slack.status(), StatusCode::OK);
    let html = from_slack.text().await.unwrap();
    assert!(
        html.contains("http-equiv=\"refresh\" content=\"0; url=/runs\""),
        "{html}"
    );
    assert!(
        !html.contains("<table"),
        "the bounce shows nothing of the page: {html}"
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_with_its_token_its_user_or_its_expiry(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    db.orch().args(["users", "add", "bob"]).success();
    db.orch().args(["users", "add", "cy"]).success();
    let (a, b, c) = (
        token(&db, "ana", "read"),
        token(&db, "bob", "read"),
        token(&db, "cy", "read"),
    );
    let server = public_server(&db);
    let mut ana = Visitor::new(&server.url(""));
    let mut bob = Visitor::new(&server.url(""));
    let mut cy = Visitor::new(&server.url(""));
    ana.login(&a).await;
    bob.login(&b).await;
    cy.login(&c).await;
    for v in [&ana, &bob, &cy] {
        assert_eq!(v.get("/runs").await.status, StatusCode::OK);
    }

    db.orch().args(["tokens", "revoke", "1"]).success();
    exec(
        &db,
        "UPDATE orch_users SET disabled_at = created_at WHERE name = 'bob'",
    )
    .await;
    exec(
        &db,
        "UPDATE orch_sessions SET expires_at = '2000-01-01T00:00:00+00:00' WHERE user_name = 'cy'",
    )
    .await;
    for (v, why) in [(&ana, "credential"), (&bob, "credential"), (&cy, "expired")] {
        let page = v.get("/runs").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{why}");
        assert_eq!(page.location(), format!("/login?next=/runs&why={why}"));
        assert!(
            page.set_cookie().contains("Max-Age=0"),
            "the dead cookie is dropped"
        );
    }
    let said = cy.get("/login?next=/runs&why=expired").await;
    assert!(
        said.body.contains("your session has expired"),
        "{}",
        said.body
    );
    // A word the server never sends shows nothing: `why` is not a way to put text on a page.
    let odd = cy.get("/login?why=%3Cb%3Ezqxv").await;
    assert!(!odd.body.contains("zqxv"), "{}", odd.body);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_public_url_makes_the_cookie_secure(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    let secret = token(&db, "ana", "decide");
    let server = Served::start_with(db.orch(), &["--public-url", "https://orch.example.com"]);
    let v = Visitor::new(&server.url(""));
    // Posted from the public origin (a TLS proxy in front rewrote `Host`): accepted.
    let page = v
        .post_from(
            "/login",
            &[("token", &secret), ("next", "/")],
            "https://orch.example.com",
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let cookie = page.set_cookie();
    assert!(cookie.starts_with("__Host-orch_session="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    // With a public URL the server counts as reachable by people, even on a loopback bind
    // (a proxy on this host): reading needs a login, and the public name is a valid `Host`.
    let bare = v
        .http
        .get(server.url("/runs"))
        .header("accept", "text/html")
        .header("host", "orch.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::SEE_OTHER);
    let to = bare.headers()["location"].to_str().unwrap();
    assert!(to.starts_with("/login?next=/runs"), "{to}");
    // The plain-HTTP cookie name does not count behind https.
    let plain = v
        .http
        .get(server.url("/runs"))
        .header("accept", "text/html")
        .header("cookie", "orch_session=whatever")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::SEE_OTHER);

    for (bad, says) in [
        ("orch.example.com", "is not a URL"),
        ("ftp://orch.example.com", "not http or https"),
        ("https://orch.example.com/orch", "leave out the path"),
    ] {
        let out = db.orch().args(["serve", "--public-url", bad]).code(2);
        assert!(out.stderr().contains(says), "{bad}: {}", out.stderr());
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_login_ends_when_the_admin_token_changes(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let first = public_server_with(&db, "first-admin-token");
    let mut admin = Visitor::new(&first.url(""));
    admin.login("first-admin-token").await;
    let page = admin.get("/runs").await;
    assert!(
        page.body.contains("Signed in as <strong>admin</strong>"),
        "{}",
        page.body
    );
    // What is stored is bound to the session's secret: not the admin token's plain digest,
    // from which a copy of the database would let anyone guess a token a person chose.
    let stored = query_strings(
        &db.store().await,
        "SELECT admin_token_hash FROM orch_sessions",
    )
    .await;
    assert_eq!(stored.len(), 1);
    assert_ne!(
        stored[0],
        orch::identity::token::digest("first-admin-token")
    );
    first.stop();

    let second = public_server_with(&db, "second-admin-token");
    admin.base = second.url("");
    let page = admin.get("/runs").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/login?next=/runs&why=credential");
}

fn public_server_with(db: &TestDb, admin_token: &str) -> Served {
    Served::start_with(
        db.orch().env("ORCH_API_TOKEN", admin_token),
        &[
            "--trusted-user-header",
            "X-Remote-User",
            "--trusted-proxy",
            "192.0.2.1/32",
        ],
    )
}
