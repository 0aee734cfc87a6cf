//! `orch serve`: the REST API, refusing to listen beyond loopback without a token, and the
//! approvals sweeper beside it.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};

use crate::api::auth::ApiToken;
use crate::api::{AppState, serve};
use crate::cli::ServeArgs;
use crate::config::Config;
use crate::error::{Error, Result, code};
use crate::identity::session::FormKey;
use crate::store::connect::{Pool, Schema};

pub async fn run(mut config: Config, args: ServeArgs) -> Result<i32> {
    // `--public-url` given on the command line is also where this server's notifications
    // (the sweeper's reminders, decisions taken here) point their one-click links.
    if let Some(url) = &args.public_url {
        config.public_url = Some(url.clone());
    }
    let token = load_token(&config, &args)?;
    let addrs = resolve_bind(&args.bind).await?;
    // A name may stand for several addresses: open only when every one is loopback. With
    // `--public-url`, people reach it through a proxy (often on this host, so the bind is
    // loopback): nothing is open then either, and `Host` is the public name.
    let public = !addrs.iter().all(|a| a.ip().is_loopback()) || args.public_url.is_some();
    init_logging();
    // Warnings and notes from the library (migrations, notifications, recovery) go to the
    // same log.
    crate::warning::install(crate::warning::to_log);
    let store = super::open_store(&config, Schema::Migrate, Pool::Serve).await?;
    // Beyond loopback every request needs a credential: refuse to start when none exists
    // (neither the admin token nor an active user token), as nothing could be used.
    if public
        && token.is_none()
        && args.trusted_user_header.is_none()
        && !crate::store::tokens::any_active(&store.db).await?
    {
        return Err(Error::UnsafeBind { bind: args.bind });
    }
    let listener = tokio::net::TcpListener::bind(&addrs[..])
        .await
        .map_err(|source| Error::Io {
            context: format!("cannot listen on {}", args.bind),
            source,
        })?;
    let addr = listener.local_addr().map_err(Error::from)?;
    tracing::info!(
        "orch serve listening on http://{addr} ({}; writes {})",
        store.target,
        if token.is_some() || public {
            "need a bearer token"
        } else {
            "open on loopback until a token exists"
        }
    );
    let state = AppState {
        store,
        token: token.map(Arc::new),
        // Behind a trusted proxy on the same host the bind is loopback, yet requests come
        // from people: nothing is open without a credential then.
        public: public || args.trusted_user_header.is_some(),
        trusted: args.trusted_user_header.clone().map(|header| {
            Arc::new(crate::api::auth::TrustedProxy {
                header,
                nets: args.trusted_proxy.clone(),
            })
        }),
        config: Arc::new(config),
        form_key: Arc::new(FormKey::generate().map_err(Error::from)?),
        secure_cookies: args.public_url.as_ref().is_some_and(|u| u.https),
        public_origin: args.public_url.as_ref().map(|u| u.origin.clone()),
    };
    // Reminders, escalations and `approval_timeout` on time, beside the API; ended with it.
    let sweeper = (!args.no_sweep).then(|| {
        tokio::spawn(crate::sweep::run_loop(
            state.store.clone(),
            state.config.clone(),
            args.sweep_every,
        ))
    });
    let served = serve(listener, state, shutdown_signal()).await;
    if let Some(s) = sweeper {
        s.abort();
    }
    served.map_err(|source| Error::Io {
        context: "the server stopped".to_owned(),
        source,
    })?;
    tracing::info!("orch serve stopped");
    Ok(code::SUCCESS)
}

/// `--bind` resolved: an address as it is, a host name through the system's resolver.
async fn resolve_bind(bind: &str) -> Result<Vec<SocketAddr>> {
    let bad = |detail: String| Error::BadBind {
        bind: bind.to_owned(),
        detail,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(bind)
        .await
        .map_err(|e| bad(e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(bad("the name has no address".to_owned()));
    }
    Ok(addrs)
}

fn load_token(config: &Config, args: &ServeArgs) -> Result<Option<ApiToken>> {
    let raw = match &args.token_file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|source| Error::Io {
            context: format!("cannot read token file `{}`", path.display()),
            source,
        })?),
        None => config.api_token.as_ref().map(|t| t.0.clone()),
    };
    Ok(raw
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .map(|t| ApiToken::new(&t)))
}

fn init_logging() {
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Ctrl-C or SIGTERM: stop accepting, let in-flight requests finish.
async fn shutdown_signal() {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {},
        _ = term.recv() => {},
    }
}
