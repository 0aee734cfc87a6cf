//! At a phone's width (375 px) no page scrolls sideways: long ids, URLs and logs wrap, and
//! wide tables scroll inside their own frame.

use super::Gated;
use crate::support::TestDb;
use crate::support::browser::{Browser, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_is_wider_than_a_phone() {
    let db = TestDb::sqlite().await;
    let Some(browser) = Browser::start(Options::phone()).await else {
        return;
    };
    let gated = Gated::start(&db).await;
    for url in gated.pages() {
        browser.open(&url).await;
        let width = browser.scroll_width().await;
        assert!(width <= 375, "{url} is {width} px wide at 375 px");
    }
    browser.close().await;
}
