//! Who is looking at a page: worked out once per request by the server's read check (a
//! session cookie, a bearer token, the trusted proxy's header, or nobody on an open
//! loopback server) and handed to the pages in the request's extensions.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::identity::{Principal, Scope, Via};

/// The person reading a page.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub principal: Principal,
    /// The token this viewer's forms carry; `None` when they have no forms (a script's
    /// bearer token, or nobody).
    pub form_token: Option<String>,
}

impl Viewer {
    /// Nobody in particular: reads only. What a page sees when the check put no viewer.
    pub fn anonymous() -> Viewer {
        Viewer {
            principal: Principal {
                user: None,
                scope: Scope::Read,
                via: Via::LoopbackOpen,
            },
            form_token: None,
        }
    }

    pub fn name(&self) -> Option<&str> {
        self.principal.user.as_deref()
    }

    /// Whether the page offers this viewer the Approve and Reject forms: a named person
    /// whose credential allows deciding, with a form token.
    pub fn may_decide(&self) -> bool {
        self.principal.user.is_some()
            && self.principal.scope.allows(Scope::Decide)
            && self.form_token.is_some()
    }

    /// Logged in to the pages (so a Log out button makes sense).
    pub fn has_session(&self) -> bool {
        matches!(self.principal.via, Via::Session { .. })
    }

    /// What the header of every page shows about the viewer.
    pub fn nav(&self) -> Nav {
        Nav {
            known: true,
            user: self.principal.user.clone(),
            logout_token: self
                .has_session()
                .then(|| self.form_token.clone())
                .flatten(),
            proxied: self.principal.via == Via::TrustedProxy,
        }
    }
}

/// The header's account part: who is signed in, and the Log out form's token.
#[derive(Clone, Debug, Default)]
pub struct Nav {
    /// False on error pages, which are built without knowing who is looking: they show no
    /// account part rather than a wrong one.
    pub known: bool,
    pub user: Option<String>,
    pub logout_token: Option<String>,
    /// Named by the SSO proxy: logging out is the proxy's business.
    pub proxied: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Viewer>()
            .cloned()
            .unwrap_or_else(Viewer::anonymous))
    }
}
