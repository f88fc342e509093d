//! The accept loop: plain HTTP (behind a TLS-terminating proxy) or HTTPS/WSS
//! with rustls on the same single port, HTTP/1.1 with upgrades (Socket.io's
//! websockets), each request carrying its peer address (`ConnectInfo`), and a
//! graceful stop that lets open requests finish. Connections over the
//! per-IP or total limit are closed at once (`limits::Conns`); a client
//! that stalls sending its headers or its body is cut off (slowloris).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// A client that has not sent its request headers by then is dropped
/// (slowloris).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// What the accept loop holds connections to.
#[derive(Clone)]
pub struct ServeLimits {
    /// Open connections per IP and in total.
    pub conns: Arc<crate::limits::Conns>,
    /// Longest wait for a request body's next bytes.
    pub body_timeout: Duration,
}

/// A TLS handshake that takes longer is abandoned.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS acceptor for a PEM certificate chain and private key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the certificate chain {}", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no certificate in {}", cert.display());
    }
    let key =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("cannot read the private key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not make a TLS identity")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `stop` turns true, then waits for open
/// connections to finish (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ServeLimits,
    stop: watch::Receiver<bool>,
) {
    // Every connection task holds a receiver; all gone = all connections done
    let (alive_tx, alive_rx) = watch::channel(());
    let mut stopping = stop.clone();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: pause instead of spinning
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // (the guard `wait_for` returns is dropped inside, keeping this future Send)
            () = async { let _ = stopping.wait_for(|stopped| *stopped).await; } => break,
        };
        // Over a limit: closed before a byte is read (the refusal is
        // counted and logged, a line a second at most)
        let Ok(slot) = limits.conns.admit(peer.ip()) else {
            drop(tcp);
            continue;
        };
        let body_timeout = limits.body_timeout;
        // Small relay messages must not wait for Nagle's algorithm
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let app = app.clone();
        let tls = tls.clone();
        let (stop, alive) = (stop.clone(), alive_rx.clone());
        tokio::spawn(async move {
            let io: Box<dyn Io> = match tls {
                None => Box::new(tcp),
                Some(acceptor) => match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => Box::new(stream),
                    Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                },
            };
            connection(io, peer, app, body_timeout, stop).await;
            drop((alive, slot));
        });
    }
    drop(listener);
    drop(alive_rx);
    alive_tx.closed().await;
}

/// What a connection runs over: TCP, or TLS over TCP.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// Serves one connection; on stop, finishes its current request and closes.
async fn connection(
    io: Box<dyn Io>,
    peer: SocketAddr,
    app: Router,
    body_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let service = app.map_request(move |req: axum::http::Request<Incoming>| {
        // A body that makes no progress for `body_timeout` fails its read
        // (the handler answers 408, or the relay drops the poll)
        let mut req = req.map(|body| axum::body::Body::new(TimeoutBody::new(body_timeout, body)));
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
    let conn = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)).with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = async { let _ = stop.wait_for(|stopped| *stopped).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// The peer address of a request served by [`serve`].
pub fn peer(req: &axum::http::request::Parts) -> Option<SocketAddr> {
    req.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}
