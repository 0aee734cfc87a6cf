//! axe-core (pinned in tests/browser/package.json) finds no serious or critical violation on
//! any page: contrast, labels, landmarks, names of links and controls.

use serde_json::Value;

use super::{Gated, log_in, token};
use crate::support::TestDb;
use crate::support::browser::{Browser, Options, node_module};

/// axe's violations of impact `serious` or `critical` on the loaded page, one line each.
async fn serious_violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser.eval(axe).await;
    let result = browser
        .client()
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
                .then(r => done(r.violations), e => done(String(e)));",
            vec![],
        )
        .await
        .unwrap();
    let Value::Array(violations) = result else {
        panic!("axe failed: {result}");
    };
    violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| {
            let targets: Vec<String> = v["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["target"].to_string())
                .collect();
            format!(
                "{} ({}): {} at {}",
                v["id"],
                v["impact"],
                v["help"],
                targets.join(", ")
            )
        })
        .collect()
}

/// A one-click link to gate `id` for `ana`, as a notification would carry: its path.
async fn planted_link(db: &TestDb, id: i64) -> String {
    let store = db.store().await;
    let row = orch::store::query::get_task(&store.db, id).await.unwrap();
    let expires_at = orch::store::now() + chrono::Duration::hours(1);
    let verdict = orch::store::approval_link::Verdict::Approve;
    let token = crate::support::links::plant(&store.db, &row, "ana", verdict, expires_at).await;
    format!("/links/{token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_has_a_serious_accessibility_violation() {
    let db = TestDb::sqlite().await;
    let Some(axe) = node_module("axe-core/axe.min.js") else {
        return;
    };
    let axe = std::fs::read_to_string(axe).unwrap();
    let gated = Gated::start(&db).await;
    let ana = token(&db, "ana");
    let mut pages = gated.pages();
    pages.push(gated.server.url("/tasks/999"));
    pages.push(gated.server.url("/login"));
    pages.push(gated.server.url(&format!("/links/{}", "0".repeat(64))));
    pages.push(gated.server.url(&planted_link(&db, gated.gate).await));
    let gate = gated.server.url(&format!("/tasks/{}", gated.gate));
    let mut found = Vec::new();
    for options in [Options::desktop(), Options::phone()] {
        let Some(browser) = Browser::start(options).await else {
            return;
        };
        for url in &pages {
            browser.open(url).await;
            for v in serious_violations(&browser, &axe).await {
                found.push(format!("{url} at {} px: {v}", options.width));
            }
        }
        // Logged in: the header's account part and the task page's forms.
        log_in(&browser, &gated, &ana).await;
        browser.open(&gate).await;
        assert!(
            browser.count("form.decide").await == 1,
            "the forms are on the page"
        );
        for v in serious_violations(&browser, &axe).await {
            found.push(format!("{gate} logged in at {} px: {v}", options.width));
        }
        browser.close().await;
    }
    assert!(found.is_empty(), "axe found:\n{}", found.join("\n"));
}
