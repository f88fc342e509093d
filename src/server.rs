//! Wires the gateway together: store, accounts, authority, relay and HTTP
//! on one port; runs until SIGTERM or Ctrl-C, then shuts down in order
//! (sockets closed, requests drained, store flushed).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use socketioxide::SocketIo;
use tokio::net::TcpListener;

use crate::accounts::{AccountStore, Activations};
use crate::auth::{AuthKey, Authority};
use crate::backup::{Backups, FollowSettings};
use crate::config::Config;
use crate::http::{ApiState, router};
use crate::relay::{Relay, RelayConfig};
use crate::rootkey::{self, Origin, RootPublicKey};
use crate::store::Store;

/// How long sockets and in-flight HTTP requests get to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// The assembled gateway: the HTTP router with the relay layered on it.
pub struct Gateway {
    /// Every HTTP route and `/socket.io/`.
    pub app: Router,
    /// The Socket.io handle (to close sockets at shutdown).
    pub io: SocketIo,
    /// The relay (for its counters).
    pub relay: Arc<Relay>,
    /// The backup clones (closed at shutdown).
    pub backups: Backups,
    /// Tells HTTP handlers the gateway is shutting down.
    pub stop: tokio::sync::watch::Sender<bool>,
    /// Open connections, counted by the accept loop against their limits.
    pub conns: Arc<crate::limits::Conns>,
}

/// Assembles the gateway over an open store (also used by tests).
pub fn build(config: &Config, store: &Store, root_key: AuthKey) -> anyhow::Result<Gateway> {
    let accounts = AccountStore::new(store)?;
    // The root account owns subdomains like any other (its key is configured)
    accounts.ensure_account(&root_key.app)?;
    let root_key_for_pair = root_key.clone();
    let authority = Authority::new(accounts.clone(), root_key, config.gateway.domain.clone())
        .with_guards(config.lockout, config.trusted_proxies.clone());
    let relay = Relay::new(authority.clone(), config.limits.relay);
    let relay_config = RelayConfig { max_buffered_packets: config.max_buffered_packets, messages: config.limits.relay };
    let conns = crate::limits::Conns::new(config.limits.connections);
    let (io_layer, io) = relay.layer(&relay_config);
    let backups = Backups::new(
        relay.clone(),
        store.clone(),
        accounts.clone(),
        config.gateway.domain.clone(),
        config.subdomain_cache_size,
        FollowSettings { queue_limit: config.update_queue_limit, lock_timeout: config.lock_timeout },
    );
    relay.set_opener(Arc::new(backups.clone()));
    crate::relay::spawn_rechecks(&relay, RECHECK_EVERY);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let state = ApiState {
        stopping,
        authority,
        accounts,
        gateway: Arc::new(config.gateway.clone()),
        relay: relay.clone(),
        backups: backups.clone(),
        activations: Activations::new(store)?,
        root_public: RootPublicKey::start(&config.data_path, config.root_key_pair.clone(), &root_key_for_pair)?,
        rotation_grace: config.rotation_grace,
        mailer: crate::mail::Mailer::from_config(config)?,
        metrics_public: config.metrics_public,
        web: crate::http::site::WebDir::new(config.web_dir.clone()),
        limits: Arc::new(crate::http::HttpLimits::new(&config.limits, conns.clone())),
        max_restore_bytes: config.max_restore_bytes,
    };
    Ok(Gateway { app: router(state).layer(io_layer), io, relay, backups, stop, conns })
}

/// How often every socket's admission is checked again even when no
/// credentials changed (a rotated key's grace period ends by itself).
const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs the gateway until a shutdown signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let data_path = config.data_path.clone();
    let root_key = config.root_key.clone();
    let (store, (root_key, origin)) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        rootkey::ensure_private_dir(&data_path)?;
        let store = Store::open(&data_path.join("db"))
            .with_context(|| format!("cannot open the database in {}", data_path.display()))?;
        Ok((store, rootkey::load_or_create(&data_path, root_key)?))
    })
    .await??;
    let trees = store.db().tree_names().len();
    tracing::info!(ms = started.elapsed().as_millis() as u64, trees, "storage opened");
    match &origin {
        Origin::Generated(path) => {
            // Shown once, on stdout, not in the logs
            println!("Generated the root key (account {:?}), stored in {} (mode 0600):", root_key.app, path.display());
            println!("  {}", root_key.reveal());
        }
        Origin::Stored(path) => tracing::info!(account = %root_key.app, file = %path.display(), "root key loaded"),
        Origin::Configured => tracing::info!(account = %root_key.app, "root key from configuration"),
    }

    if !config.gateway.usable_by_js_clones() {
        tracing::warn!(
            domain = %config.gateway.domain,
            "m-ld JS clones refuse domains whose last label is not 2-6 letters; set M_LD_GATEWAY_GATEWAY to a name like ex.org"
        );
    }
    let Gateway { app, io, relay, backups, stop: stop_tx, conns } = build(&config, &store, root_key)?;

    let tls = match &config.tls {
        Some((cert, key)) => Some(crate::listen::tls_acceptor(cert, key)?),
        None => None,
    };
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        address = %local, domain = %config.gateway.domain, origin = %config.gateway.origin,
        data = %config.data_path.display(), tls = tls.is_some(), startup_ms = started.elapsed().as_millis() as u64,
        "meld-gateway listening on {scheme}://{local}"
    );

    let mut stop_rx = stop_tx.subscribe();
    let closing_io = io.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
        tracing::info!("shutting down: closing sockets");
        // Long-lived sockets would keep the HTTP drain waiting; close them,
        // but never let a stuck socket hold the shutdown
        if tokio::time::timeout(DRAIN_TIMEOUT, closing_io.close()).await.is_err() {
            tracing::warn!("sockets still closing after {DRAIN_TIMEOUT:?}");
        }
    });
    let limits = crate::listen::ServeLimits { conns, body_timeout: config.limits.body_timeout };
    let served = crate::listen::serve(listener, app, tls, limits, stop_rx.clone());
    // The deadline runs from the signal, whatever the sockets do
    let drain_deadline = async move {
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    tokio::select! {
        () = served => {}
        () = drain_deadline => tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; stopping anyway"),
    }

    tracing::info!(open = backups.open_count(), "closing backup clones");
    if tokio::time::timeout(DRAIN_TIMEOUT * 3, backups.close_all()).await.is_err() {
        tracing::warn!("backup clones still closing; flushing anyway");
    }
    tracing::info!(relay = ?relay.stats.snapshot(), "flushing the store");
    tokio::task::spawn_blocking(move || store.flush()).await??;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
