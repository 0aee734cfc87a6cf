//! Real HTTP on loopback: webhook receivers (wiremock) and what they got, the API served in
//! this process, and `orch serve` as a process of its own.

use std::io::{BufRead, BufReader};
use std::process::{ChildStderr, ExitStatus, Stdio};
use std::sync::Arc;

use nix::sys::signal::Signal;
use orch::api::auth::ApiToken;
use orch::api::{AppState, serve};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::db::TestDb;
use super::process::Cmd;

/// A receiver that gives every POST `answer`.
pub async fn receiver(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    mount(&server, answer).await;
    server
}

/// The same on a given port (one that was free, see `free_port`).
pub async fn receiver_on(port: u16, answer: ResponseTemplate) -> MockServer {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = MockServer::builder().listener(listener).start().await;
    mount(&server, answer).await;
    server
}

async fn mount(server: &MockServer, answer: ResponseTemplate) {
    Mock::given(method("POST"))
        .respond_with(answer)
        .mount(server)
        .await;
}

/// A receiver that answers every POST 200 `ok`.
pub async fn ok_receiver() -> MockServer {
    receiver(ResponseTemplate::new(200).set_body_string("ok")).await
}

/// A receiver that answers `failure` to the first `times` requests, then 200.
pub async fn fails_then_succeeds(failure: ResponseTemplate, times: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(failure)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// Requests received on the path `at`, in arrival order.
pub async fn received(server: &MockServer, at: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == at)
        .collect()
}

/// Bodies received on the path `at`, as JSON, in arrival order.
pub async fn bodies(server: &MockServer, at: &str) -> Vec<Value> {
    received(server, at)
        .await
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// A loopback port with nothing listening on it (free when this returns).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// An HTTP client (with the crypto provider orch itself installs at start-up).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The API served in this process on 127.0.0.1:0; stops when dropped.
pub struct ApiServer {
    pub base: String,
    pub http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl ApiServer {
    /// Serves `db`, with writes needing `token` when there is one.
    pub async fn start(db: &TestDb, token: Option<&str>) -> ApiServer {
        ApiServer::start_as(db, token, false).await
    }

    /// The same, as a server listening beyond loopback would behave (`public`), though it
    /// listens on 127.0.0.1.
    pub async fn start_as(db: &TestDb, token: Option<&str>, public: bool) -> ApiServer {
        let http = http_client();
        let store = db.store().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        let state = AppState {
            store,
            token: token.map(|t| Arc::new(ApiToken::new(t))),
            public,
            trusted: None,
            config: Arc::new(orch::config::Config::from_env(None, Default::default()).unwrap()),
            form_key: Arc::new(orch::identity::session::FormKey::generate().unwrap()),
            secure_cookies: false,
            public_origin: None,
        };
        tokio::spawn(serve(listener, state, async {
            let _ = rx.await;
        }));
        ApiServer {
            base,
            http,
            _stop: tx,
        }
    }

    /// `method path` with an optional JSON body and bearer token; the answer's status and body
    /// (JSON, or the text as a JSON string).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    /// The same with a body sent as it is, labelled JSON.
    pub async fn raw(&self, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        answer(resp).await
    }
}

async fn answer(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `orch serve --bind 127.0.0.1:0` as a process of its own, once it says where it listens.
/// Killed when dropped; `stop` ends it the graceful way.
pub struct Served {
    /// The port it announced.
    pub port: String,
    child: std::process::Child,
    /// Kept open: a server writing to a closed stderr would fail.
    _stderr: BufReader<ChildStderr>,
}

impl Served {
    /// Starts `orch` (from `db.orch()`, with any environment) as `orch serve`.
    pub fn start(orch: Cmd) -> Served {
        Served::start_with(orch, &[])
    }

    /// The same with more `orch serve` options.
    pub fn start_with(orch: Cmd, options: &[&str]) -> Served {
        let mut child = orch
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(options)
            .into_std()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let port = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited");
            if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        Served {
            port,
            child,
            _stderr: stderr,
        }
    }

    /// The server's process id (lease owners name it: `host:pid:random`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGTERM, then waits for it to exit.
    pub fn stop(mut self) -> ExitStatus {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            Signal::SIGTERM,
        );
        self.child.wait().unwrap()
    }

    /// SIGTERM, then what the server logged after its first line.
    pub fn stop_and_log(mut self) -> String {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            Signal::SIGTERM,
        );
        self.child.wait().unwrap();
        let mut log = String::new();
        let _ = std::io::Read::read_to_string(&mut self._stderr, &mut log);
        log
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
