//! Real headless Chromium for the browser tests: Debian's `/usr/bin/chromedriver` started on a
//! free loopback port (its process group killed on drop), driven over WebDriver (fantoccini)
//! with Debian's `/usr/bin/chromium`. Nothing here ever downloads a browser: without those two
//! files a test prints that it skipped, and with `ORCH_TEST_REQUIRE_BROWSER=1` (as `.ci/run`
//! sets) that is a failure.
//!
//! ```ignore
//! let Some(browser) = Browser::start(Options::desktop()).await else { return };
//! browser.open(&server.url("/")).await;
//! browser.click_and_wait("a[href^='/tasks/']").await;
//! assert!(browser.text("#log").await.contains("done"));
//! ```

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::http::free_port;
use super::wait::eventually;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How the browser is started: window size and whether pages may run JavaScript.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub width: u32,
    pub height: u32,
    pub javascript: bool,
}

impl Options {
    /// A laptop's window, JavaScript on.
    pub fn desktop() -> Options {
        Options {
            width: 1280,
            height: 900,
            javascript: true,
        }
    }

    /// A phone's (375 px wide, the narrowest common one), JavaScript on.
    pub fn phone() -> Options {
        Options {
            width: 375,
            height: 812,
            javascript: true,
        }
    }

    /// The same size with JavaScript off, as a person who disabled it sees the pages.
    pub fn without_javascript(self) -> Options {
        Options {
            javascript: false,
            ..self
        }
    }
}

/// One Chromium session and the chromedriver behind it; both end when this is dropped.
pub struct Browser {
    client: Client,
    driver: Child,
    /// Chromium's profile and both programs' temporary files: nothing outlives the test.
    _scratch: TempDir,
}

/// Whether the browser tests can run here: `Some(reason)` when they cannot.
fn missing() -> Option<String> {
    [CHROMIUM, CHROMEDRIVER]
        .iter()
        .find(|p| !Path::new(p).exists())
        .map(|p| format!("{p} is missing (apt-get install chromium chromium-driver)"))
}

/// Skips (returns `true` after saying so) when `what` is missing, unless
/// `ORCH_TEST_REQUIRE_BROWSER=1` makes that a failure.
fn skip(what: Option<String>) -> bool {
    let Some(reason) = what else { return false };
    if std::env::var("ORCH_TEST_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("ORCH_TEST_REQUIRE_BROWSER=1 but {reason}");
    }
    eprintln!("skipped: {reason}");
    true
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with `options`, or `None` (after saying
    /// so) when they are not installed. A browser test starts with
    /// `let Some(browser) = Browser::start(Options::desktop()).await else { return };`.
    pub async fn start(options: Options) -> Option<Browser> {
        if skip(missing()) {
            return None;
        }
        // The free port may be taken before chromedriver binds it: then it exits, and a new
        // port is tried.
        let mut exits = Vec::new();
        for _ in 0..3 {
            match Browser::launch(options).await {
                Ok(browser) => return Some(browser),
                Err(exited) => exits.push(exited),
            }
        }
        panic!("chromedriver exited at start, three times: {exits:?}");
    }

    /// One try: chromedriver on a free port, then a session; `Err` when chromedriver exited
    /// before a session could be made.
    async fn launch(options: Options) -> Result<Browser, String> {
        let port = free_port();
        let scratch = tempfile::tempdir().unwrap();
        let (profile, tmp) = (scratch.path().join("profile"), scratch.path().join("tmp"));
        std::fs::create_dir(&tmp).unwrap();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            // Its temporary folders and Chromium's inside ours, gone with it even after a kill.
            .env("TMPDIR", &tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // A group of its own: Chromium and its helpers join it, and drop kills the group.
            .process_group(0)
            .spawn()
            .unwrap();
        let caps = capabilities(options, &profile);
        let url = format!("http://127.0.0.1:{port}");
        // chromedriver takes a moment to listen: retry the connection (bounded).
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let browser = Browser {
                        client,
                        driver,
                        _scratch: scratch,
                    };
                    browser.resize(options.width, options.height).await;
                    return Ok(browser);
                }
                Err(e) => last = Some(e),
            }
            if let Ok(Some(status)) = driver.try_wait() {
                return Err(format!("{status} (port {port}; last error: {last:?})"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        kill_group(&mut driver);
        panic!("no WebDriver session on {url}: {last:?}");
    }

    /// The WebDriver client, for whatever the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `url` and waits until the page has loaded.
    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Sets the viewport (what a page lays out in, and a screenshot shows) to `width` ×
    /// `height` CSS pixels: the window is made larger by what its frame takes, then checked.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
        let inner = self
            .eval("return [window.innerWidth, window.innerHeight]")
            .await;
        let frame = |i: usize, asked: u32| {
            u32::try_from(inner[i].as_u64().unwrap()).map_or(0, |got| asked.saturating_sub(got))
        };
        let (w, h) = (width + frame(0, width), height + frame(1, height));
        self.client.set_window_size(w, h).await.unwrap();
        let inner = self
            .eval("return [window.innerWidth, window.innerHeight]")
            .await;
        assert_eq!(inner, json!([width, height]), "the viewport's size");
    }

    /// The first element matching the CSS selector `css` (a failure names the selector).
    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(found) => found,
            Err(e) => panic!("no element matches `{css}` on {}: {e}", self.url().await),
        }
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The page's visible text.
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    /// The address shown in the location bar.
    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// Types `value` into the form field matching `css` (cleared first).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks the element matching `css` (a link, a submit button) and waits until the page
    /// it leads to has replaced this one. Works with JavaScript off: it watches this page's
    /// root element go stale, not a script.
    pub async fn click_and_wait(&self, css: &str) {
        let root = self.find("html").await;
        self.find(css).await.click().await.unwrap();
        let gone = eventually(
            200,
            Duration::from_millis(50),
            || async { root.tag_name().await },
            |r| matches!(r, Err(e) if e.is_stale_element_reference() || e.is_no_such_element()),
        )
        .await;
        assert!(gone.is_err(), "clicking `{css}` loaded no new page");
        // The new document is there once its root answers.
        let _ = self.client.wait().for_element(Locator::Css("body")).await;
    }

    /// Runs `script` in the page (`return …` gives a value back).
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Fails when the page opened an alert, confirm or prompt (a planted script ran).
    pub async fn assert_no_dialog(&self) {
        match self.client.get_alert_text().await {
            Err(e) if e.is_no_such_alert() => {}
            Ok(text) => panic!("a dialog opened on {}: {text:?}", self.url().await),
            Err(e) => panic!("asking for a dialog: {e}"),
        }
    }

    /// Polls (up to ~10 s) until the text of `css` contains `needle`; returns the last text,
    /// for the caller to assert on (a timeout shows what the page had).
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        eventually(
            100,
            Duration::from_millis(100),
            || async { self.text(css).await },
            |t| t.contains(needle),
        )
        .await
    }

    /// The page's width as laid out: wider than the viewport means a sideways scroll.
    pub async fn scroll_width(&self) -> u64 {
        self.eval("return document.documentElement.scrollWidth")
            .await
            .as_u64()
            .unwrap()
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.unwrap()
    }

    /// Ends the session (Chromium quits), then chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        kill_group(&mut self.driver);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// SIGKILL to chromedriver's process group (it, Chromium and Chromium's helpers), then reaps
/// chromedriver.
fn kill_group(driver: &mut Child) {
    let pgid = nix::unistd::Pid::from_raw(driver.id() as i32);
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = driver.wait();
}

/// What the new session asks chromedriver for: Debian's Chromium, headless, with what it needs
/// in a container and nothing that reaches the network on its own.
fn capabilities(options: Options, profile: &Path) -> Capabilities {
    let mut prefs = serde_json::Map::new();
    if !options.javascript {
        // 2 = block: the setting a person's "Don't allow sites to use JavaScript" stores.
        prefs.insert(
            "profile.managed_default_content_settings.javascript".into(),
            json!(2),
        );
    }
    let caps = json!({
        "browserName": "chrome",
        // A dialog stays open for `assert_no_dialog` to see, rather than being dismissed.
        "unhandledPromptBehavior": "ignore",
        // A page or script that hangs fails the test in bounded time (the defaults are
        // minutes).
        "timeouts": {"pageLoad": 30_000, "script": 30_000, "implicit": 0},
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                // Nothing else that reaches out either (the network here is closed).
                "--disable-quic",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                format!("--window-size={},{}", options.width, options.height),
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": prefs,
        },
    });
    match caps {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// `tests/browser/node_modules/…`, installed by `.ci/run` (`npm ci` in `tests/browser`).
pub fn node_module(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules")
        .join(rel);
    if skip((!path.exists()).then(|| {
        format!(
            "{} is missing (run `npm ci` in tests/browser)",
            path.display()
        )
    })) {
        return None;
    }
    Some(path)
}
