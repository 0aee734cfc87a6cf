//! The pages in a real browser: headless Chromium (Debian's) driven over WebDriver against
//! the real `orch serve`, one browser per test (`support/browser.rs`). What an HTTP test cannot
//! see: that planted markup never runs or renders, that the pages work with JavaScript off,
//! that a running task's log follows live, the layout at a phone's width, an accessibility
//! check (axe-core), and the screenshots the README shows.
//!
//! `tests/browser/package.json` pins axe-core; `.ci/run` installs it with `npm ci` into
//! `tests/browser/node_modules` (gitignored). The tests only read it from there.

mod accessibility;
mod decide;
mod hostile;
mod link;
mod live_log;
mod no_javascript;
mod phone;
mod screenshots;

use crate::support::browser::Browser;
use crate::support::http::Served;
use crate::support::{TestDb, by_task};

/// A nightly run whose integration waits for a person: two checks, the gate, what it lets run.
pub const GATED: &str = r#"
name: nightly
tasks:
  - task: seo.validate
    shell: "echo 'checking 412 pages'; echo 'sitemap ok'; echo '0 broken links'"
  - task: code.review
    shell: "echo 'reviewing 3 pull requests'; seq 1 40 | sed 's/^/  ok: check /'; echo 'all checks passed'"
  - task: dx.integrate
    shell: "echo 'merged 3 branches into staging'; echo 'artifact sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e'; echo 'review https://github.com/acme/site/pull/9'"
    approval: on_output_uri
    depends_on: [seo.validate, code.review]
  - task: dx.deploy
    shell: "echo deployed"
    depends_on: [dx.integrate]
"#;

/// `GATED` run into `db` (the gate waits) and served: the server, the run id, and the ids of
/// the gate and of `code.review` (a task with a log).
pub struct Gated {
    pub server: Served,
    pub run_id: String,
    pub gate: i64,
    pub review: i64,
}

impl Gated {
    pub async fn start(db: &TestDb) -> Gated {
        db.run(GATED)
            .args(["--run-id", "nightly-2026-12-02"])
            .success();
        let rows = db.rows().await;
        let gate = by_task(&rows, "dx.integrate");
        Gated {
            server: Served::start(db.orch()),
            run_id: gate.run_id.clone(),
            gate: gate.id,
            review: by_task(&rows, "code.review").id,
        }
    }

    /// The inbox, the runs page, the run and two task pages (the gate, a finished task).
    pub fn pages(&self) -> Vec<String> {
        vec![
            self.server.url("/"),
            self.server.url("/runs"),
            self.server.url(&format!("/runs/{}", self.run_id)),
            self.server.url(&format!("/tasks/{}", self.gate)),
            self.server.url(&format!("/tasks/{}", self.review)),
        ]
    }
}

/// A user `user` with a `decide` token; the token.
pub fn token(db: &TestDb, user: &str) -> String {
    db.orch().args(["users", "add", user]).success();
    db.orch()
        .args(["tokens", "create", "--user", user, "--scope", "decide"])
        .success()
        .stdout()
        .trim()
        .to_owned()
}

/// Logs in on `/login` through the form, as a person does.
pub async fn log_in(browser: &Browser, gated: &Gated, token: &str) {
    log_in_at(browser, &gated.server, token).await;
}

/// Logs in to `server` with `token` on its login page.
pub async fn log_in_at(browser: &Browser, server: &Served, token: &str) {
    browser.open(&server.url("/login")).await;
    browser.fill("#token", token).await;
    browser
        .click_and_wait("main form button[type=submit]")
        .await;
}
