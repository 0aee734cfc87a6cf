//! The screenshots the README shows: the inbox with a gate waiting, that gate's task page and
//! its run's page,
//! at a phone's and a desktop's width. Taken on every run (each checked to be a PNG of the
//! window's width); written to `docs/screenshots/` only with `ORCH_SCREENSHOTS=1`
//! (docs/WEB.md says how to refresh them).

use std::path::Path;

use super::{Gated, log_in, token};
use crate::support::TestDb;
use crate::support::browser::{Browser, Options};

/// The width a PNG says it has (its IHDR chunk), after checking it is a PNG.
fn png_width(png: &[u8]) -> u32 {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    u32::from_be_bytes(png[16..20].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_inbox_a_task_page_and_a_run_page() {
    let db = TestDb::sqlite().await;
    let gated = Gated::start(&db).await;
    let ana = token(&db, "ana");
    let write = std::env::var("ORCH_SCREENSHOTS").as_deref() == Ok("1");
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    for (size, options) in [("phone", Options::phone()), ("desktop", Options::desktop())] {
        let Some(browser) = Browser::start(options).await else {
            return;
        };
        // As the person who decides sees them: signed in, with the task page's forms.
        log_in(&browser, &gated, &ana).await;
        let pages = [
            ("inbox", gated.server.url("/")),
            ("task", gated.server.url(&format!("/tasks/{}", gated.gate))),
            ("run", gated.server.url(&format!("/runs/{}", gated.run_id))),
        ];
        for (page, url) in pages {
            browser.open(&url).await;
            let png = browser.screenshot().await;
            assert_eq!(png_width(&png), options.width, "{page} at {size}");
            if write {
                std::fs::create_dir_all(&folder).unwrap();
                std::fs::write(folder.join(format!("{page}-{size}.png")), &png).unwrap();
            }
        }
        browser.close().await;
    }
}
