//! What the pages' handlers share: the store, the configuration (decisions notify), the
//! admin token's digest (logging in with it) and whether cookies are TLS-only.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::config::Config;
use crate::store::Store;

#[derive(Clone)]
pub struct Site {
    pub store: Store,
    pub config: Arc<Config>,
    /// `ORCH_API_TOKEN`'s digest, when the server has one.
    pub admin_digest: Option<Arc<str>>,
    /// `--public-url` is https: the session cookie is `Secure`.
    pub secure_cookies: bool,
}

impl FromRef<Site> for Store {
    fn from_ref(site: &Site) -> Store {
        site.store.clone()
    }
}
