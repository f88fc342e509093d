//! The real accept loop (`listen::serve`) over the real gateway: connection
//! limits per IP, and a request body that stalls is cut off (408).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use meld_gateway::auth::AuthKey;
use meld_gateway::config::{Config, LimitsSettings, Settings};
use meld_gateway::listen::{ServeLimits, serve};
use meld_gateway::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

struct Running {
    addr: SocketAddr,
    _stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn start(limits: LimitsSettings) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        gateway: Some("ex.org".into()),
        data_path: Some(dir.path().to_owned()),
        limits,
        ..Default::default()
    };
    let config = Config::from_settings(settings).unwrap();
    let store = Store::temporary().unwrap();
    let gw = meld_gateway::server::build(&config, &store, AuthKey::generate("rootacc").unwrap()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let limits = ServeLimits { conns: gw.conns.clone(), body_timeout: config.limits.body_timeout };
    tokio::spawn(serve(listener, gw.app, None, limits, stopping));
    Running { addr, _stop: stop, _dir: dir }
}

/// A connection from the local address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Sends `request` and reads what comes back until the server closes or
/// `within` passes.
async fn exchange(stream: &mut TcpStream, request: &[u8], within: Duration) -> String {
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test]
async fn connections_over_the_per_ip_limit_are_closed_while_another_ip_is_served() {
    let gw = start(LimitsSettings { connections_per_ip: Some(2), ..Default::default() }).await;
    let mut first = connect_from("127.0.0.1", gw.addr).await;
    let mut second = connect_from("127.0.0.1", gw.addr).await;
    assert!(exchange(&mut first, HEALTHZ, Duration::from_secs(5)).await.starts_with("HTTP/1.1 200"));
    assert!(exchange(&mut second, HEALTHZ, Duration::from_secs(5)).await.starts_with("HTTP/1.1 200"));
    // The third from 127.0.0.1 is closed without an answer
    let mut third = connect_from("127.0.0.1", gw.addr).await;
    assert_eq!(exchange(&mut third, HEALTHZ, Duration::from_secs(5)).await, "");
    // Another IP is served
    let mut other = connect_from("127.0.0.2", gw.addr).await;
    assert!(exchange(&mut other, HEALTHZ, Duration::from_secs(5)).await.starts_with("HTTP/1.1 200"));
    // Once one closes, 127.0.0.1 is served again
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        let mut s = connect_from("127.0.0.1", gw.addr).await;
        if exchange(&mut s, HEALTHZ, Duration::from_secs(2)).await.starts_with("HTTP/1.1 200") {
            again = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "a slot freed by a closed connection is reused");
}

#[tokio::test]
async fn a_stalled_request_body_is_cut_off() {
    let gw = start(LimitsSettings { body_timeout_secs: Some(1), ..Default::default() }).await;
    let mut s = connect_from("127.0.0.1", gw.addr).await;
    let started = std::time::Instant::now();
    // Declares 100 bytes, sends 10, then nothing
    let head = b"POST /api/v1/user/someone/activation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: 100\r\n\r\n{\"email\":";
    let answer = exchange(&mut s, head, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "{took:?}");
}
