//! A person at the pages, over plain HTTP: logging in with a token, keeping the session
//! cookie, reading a form's token off a page and posting forms as a browser would (form
//! bodies, this site's `Origin`), without following redirects so a test sees each one.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

pub struct Visitor {
    pub base: String,
    pub http: reqwest::Client,
    /// The session cookie (`name=value`), once logged in.
    pub cookie: Option<String>,
}

/// An answer: status, headers, body.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    pub fn set_cookie(&self) -> &str {
        self.headers
            .get(SET_COOKIE)
            .map_or("", |v| v.to_str().unwrap())
    }

    /// The value of the first `name="form_token"` field on the page.
    pub fn form_token(&self) -> Option<String> {
        let at = self.body.find("name=\"form_token\" value=\"")?;
        let rest = &self.body[at + "name=\"form_token\" value=\"".len()..];
        Some(rest[..rest.find('"')?].to_owned())
    }
}

impl Visitor {
    /// `base` is `http://127.0.0.1:PORT`.
    pub fn new(base: &str) -> Visitor {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Visitor {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn answer(resp: reqwest::Response) -> Page {
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    /// As a browser: it accepts HTML (a script's fetch does not say so), and sends the cookie.
    fn with_cookie(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let req = req.header("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
        match &self.cookie {
            Some(c) => req.header("cookie", c.as_str()),
            None => req,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        Visitor::answer(self.with_cookie(req).send().await.unwrap()).await
    }

    /// A form post from this site's own page (its `Origin`), fields form-encoded.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_from(path, fields, &self.base.clone()).await
    }

    /// The same from another origin (a hostile page).
    pub async fn post_from(&self, path: &str, fields: &[(&str, &str)], origin: &str) -> Page {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(fields));
        Visitor::answer(self.with_cookie(req).send().await.unwrap()).await
    }

    /// Logs in with `token`; keeps the cookie. Panics with the page when it is refused.
    pub async fn login(&mut self, token: &str) -> Page {
        let page = self
            .post("/login", &[("token", token), ("next", "/")])
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let cookie = page.set_cookie();
        let pair = cookie.split(';').next().unwrap_or("");
        assert!(
            pair.starts_with("orch_session=") || pair.starts_with("__Host-orch_session="),
            "no session cookie in `{cookie}`"
        );
        self.cookie = Some(pair.to_owned());
        page
    }

    /// Opens `path` and posts its form to `action` with `fields` and the page's form token.
    pub async fn submit(&self, path: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(path).await;
        let token = page
            .form_token()
            .unwrap_or_else(|| panic!("no form on {path}: {}", page.body));
        let mut all = vec![("form_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }
}

/// `a=1&b=x%20y`, as a browser encodes a form.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}
