//! Relay benchmark: `operation` broadcast through the gateway's Socket.io
//! relay, measured with raw Engine.IO v4 / Socket.io v5 clients over
//! WebSocket (no socket.io client library, so the client side is cheap).
//!
//! It starts the release gateway binary on a free loopback port with a
//! temporary data directory (or uses a running gateway, see below), sets up
//! the account `bench` through the HTTP API (key, `naming: uuid`,
//! `remotesAuth: anon`), then for every case connects N anonymous clients to
//! one fresh UUID subdomain, has each declare `present`, and has every client
//! send binary `operation` payloads closed-loop: a sender keeps at most
//! `window` messages that some other client has not yet received (the
//! `--ack all` policy of `shared/bench`). Each payload starts with a 16-byte
//! header (send time in µs since the run started, sender index, sequence
//! number), so receivers measure end-to-end latency, loss and reordering.
//!
//!     cargo build --release && cargo bench --bench relay
//!
//! Environment (all optional):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `GATEWAY_BIN` | `target/release/meld-gateway` | the gateway binary to start |
//! | `RELAY_BENCH_ORIGIN` | — | use a running gateway at this loopback origin (e.g. `http://127.0.0.1:3201`, also the Node reference) instead of starting one; needs `ROOT_KEY` (and `ROOT_ACCOUNT`, default `benchroot`); `GATEWAY_PID` for server CPU |
//! | `RELAY_BENCH_CLIENTS` | `2,20` | client counts, one case each |
//! | `RELAY_BENCH_SIZE` | `256` | payload sizes in bytes (≥ 16), one case each |
//! | `RELAY_BENCH_DURATION` | `5` | measured seconds per case |
//! | `RELAY_BENCH_WARMUP` | `1` | seconds sent before the window, not counted |
//! | `RELAY_BENCH_DRAIN` | `3` | seconds to wait for outstanding messages |
//! | `RELAY_BENCH_WINDOW` | max(8, 128/N) | unacknowledged messages per sender |
//! | `RELAY_BENCH_THREADS` | `1` | client runtime worker threads |
//! | `RELAY_BENCH_GATEWAY_LOG` | — | keep the started gateway's log here (else in the temp dir) |
//!
//! Columns: `missing` = messages a receiver never got (summed over
//! sender/receiver pairs, including receivers the server disconnected);
//! `gaps` = messages skipped on connections that stayed open to the end (a
//! silent loss: the server dropped them but kept the socket);
//! `disconnected` = clients whose socket the server closed (e.g. as too slow;
//! a large `RELAY_BENCH_WINDOW` provokes it).
//!
//! Server CPU is utime+stime of the gateway process from `/proc/<pid>/stat`
//! over the measured window; "µs/msg" divides it by the deliveries in the
//! window. Client CPU is this process's own.

use std::env;
use std::io::Write as _;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Notify};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, BoxError>;

const HEADER: usize = 16;
const ROOT_ACCOUNT: &str = "benchroot";
const ACCOUNT: &str = "bench";

fn err(msg: impl Into<String>) -> BoxError {
    msg.into().into()
}

// ---------------------------------------------------------------------------
// Parameters

struct Params {
    clients: Vec<usize>,
    sizes: Vec<usize>,
    duration: Duration,
    warmup: Duration,
    drain: Duration,
    window: Option<u64>,
    threads: usize,
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    env::var(name).unwrap_or_else(|_| default.into()).split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

fn env_secs(name: &str, default: f64) -> Duration {
    let s = env::var(name).ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(default);
    Duration::from_secs_f64(s.max(0.0))
}

impl Params {
    fn from_env() -> Self {
        Params {
            clients: env_list("RELAY_BENCH_CLIENTS", "2,20"),
            sizes: env_list("RELAY_BENCH_SIZE", "256").into_iter().map(|s| s.max(HEADER)).collect(),
            duration: env_secs("RELAY_BENCH_DURATION", 5.0),
            warmup: env_secs("RELAY_BENCH_WARMUP", 1.0),
            drain: env_secs("RELAY_BENCH_DRAIN", 3.0),
            window: env::var("RELAY_BENCH_WINDOW").ok().and_then(|s| s.parse().ok()),
            threads: env::var("RELAY_BENCH_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or(1).max(1),
        }
    }
}

// ---------------------------------------------------------------------------
// The gateway under test

struct Gateway {
    origin: String,
    root_account: String,
    root_key: String,
    pid: Option<u32>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Gateway {
    fn start() -> Result<Self> {
        let bin = env::var("GATEWAY_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/meld-gateway"));
        if !bin.exists() {
            return Err(err(format!("{} not found: run `cargo build --release` or set GATEWAY_BIN", bin.display())));
        }
        let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = tempfile::tempdir()?;
        // benchroot.<keyid>:<secret>, like the brief's example key
        let secret: String = (0..74).map(|i| (b'a' + ((i * 7 + port as usize) % 16) as u8) as char).collect();
        let root_key = format!("{ROOT_ACCOUNT}.abcdef:{secret}");
        let log_path =
            env::var("RELAY_BENCH_GATEWAY_LOG").map(PathBuf::from).unwrap_or_else(|_| dir.path().join("gateway.log"));
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(&bin)
            .arg("serve")
            .env("M_LD_GATEWAY_GATEWAY", "ex.org")
            .env("M_LD_GATEWAY_AUTH__KEY", &root_key)
            .env("M_LD_GATEWAY_DATA_PATH", dir.path().join("data"))
            .env("M_LD_GATEWAY_ADDRESS__HOST", "127.0.0.1")
            .env("M_LD_GATEWAY_ADDRESS__PORT", port.to_string())
            .env("LOG_LEVEL", env::var("LOG_LEVEL").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        eprintln!("# started {} (pid {}) on 127.0.0.1:{port}, log {}", bin.display(), child.id(), log_path.display());
        Ok(Gateway {
            origin: format!("http://127.0.0.1:{port}"),
            root_account: ROOT_ACCOUNT.into(),
            root_key,
            pid: Some(child.id()),
            child: Some(child),
            _dir: Some(dir),
        })
    }

    fn external(origin: String) -> Result<Self> {
        let host = origin.trim_start_matches("http://").split(['/', ':']).next().unwrap_or("");
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(err("RELAY_BENCH_ORIGIN must be a loopback http origin"));
        }
        let root_key = env::var("ROOT_KEY").map_err(|_| err("ROOT_KEY is required with RELAY_BENCH_ORIGIN"))?;
        Ok(Gateway {
            origin: origin.trim_end_matches('/').to_string(),
            root_account: env::var("ROOT_ACCOUNT").unwrap_or_else(|_| ROOT_ACCOUNT.into()),
            root_key,
            pid: env::var("GATEWAY_PID").ok().and_then(|p| p.parse().ok()),
            child: None,
            _dir: None,
        })
    }

    fn host_port(&self) -> String {
        self.origin.trim_start_matches("http://").trim_end_matches('/').to_string()
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait()?
            {
                return Err(err(format!("gateway exited during start-up: {status}")));
            }
            if let Ok((status, _)) = http(&self.host_port(), "GET", "/healthz", None, None).await
                && status < 500
            {
                return Ok(());
            }
            if let Ok((status, _)) = http(&self.host_port(), "GET", "/api/v1/context", None, None).await
                && status < 500
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(err("gateway did not answer within 20 s"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // SIGTERM first, for an orderly shutdown; SIGKILL after 5 s
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// utime+stime of a process in seconds.
fn proc_cpu_s(pid: &str, tck: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" that ends the command name: state is field 3
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / tck)
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

// ---------------------------------------------------------------------------
// Minimal HTTP/1.1 client (loopback, Connection: close)

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

async fn http(
    host_port: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Result<(u16, String)> {
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(host_port)).await??;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n");
    if let Some(auth) = auth {
        req += &format!("Authorization: {auth}\r\n");
    }
    if !body.is_empty() {
        req += "Content-Type: application/json\r\n";
    }
    req += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
    stream.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf)).await??;
    let text = String::from_utf8_lossy(&buf);
    let (head, rest) = text.split_once("\r\n\r\n").ok_or_else(|| err("malformed HTTP response"))?;
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| err("no HTTP status"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out += &rest[..n];
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Account `bench`: a key, UUID naming, anonymous (and key) remotes auth;
/// returns the gateway's domain name.
async fn setup(gw: &Gateway) -> Result<String> {
    let hp = gw.host_port();
    let root = basic(&gw.root_account, &gw.root_key);
    let (status, body) = http(&hp, "POST", &format!("/api/v1/user/{ACCOUNT}/key"), Some(&root), None).await?;
    if status != 200 {
        return Err(err(format!("POST key: {status} {body}")));
    }
    let v: serde_json::Value = serde_json::from_str(&body)?;
    let key = v["auth"]["key"].as_str().ok_or_else(|| err(format!("no key in {body}")))?.to_string();
    let auth = basic(ACCOUNT, &key);
    for patch in [
        serde_json::json!({"@insert": {"naming": "uuid", "remotesAuth": "anon"}}),
        serde_json::json!({"@insert": {"remotesAuth": "key"}}),
    ] {
        let (status, body) = http(&hp, "PATCH", &format!("/api/v1/user/{ACCOUNT}"), Some(&auth), Some(&patch)).await?;
        if !(200..300).contains(&status) {
            return Err(err(format!("PATCH account: {status} {body}")));
        }
    }
    let (status, body) = http(&hp, "POST", &format!("/api/v1/domain/{ACCOUNT}"), None, None).await?;
    if status != 200 {
        return Err(err(format!("POST domain: {status} {body}")));
    }
    let v: serde_json::Value = serde_json::from_str(&body)?;
    let domain = v["@domain"].as_str().ok_or_else(|| err(format!("no @domain in {body}")))?;
    let suffix = format!(".{ACCOUNT}.");
    let at = domain.find(&suffix).ok_or_else(|| err(format!("unexpected UUID domain {domain}")))?;
    Ok(domain[at + suffix.len()..].to_string())
}

fn cuid_name() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut s = String::from("c");
    for _ in 0..24 {
        s.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    s
}

// ---------------------------------------------------------------------------
// Raw Socket.io client

/// Shared per-case state: who has received what from whom.
struct Shared {
    n: usize,
    start: Instant,
    /// µs since `start`: the measured window
    win_from: AtomicU64,
    win_to: AtomicU64,
    /// received[sender * n + receiver]: messages received from sender
    received: Vec<AtomicU64>,
    /// sent[sender]
    sent: Vec<AtomicU64>,
    /// Wakes sender s when one of its messages is received
    wake: Vec<Notify>,
    stop: AtomicBool,
    /// Ends the receivers after the drain
    done: Notify,
    /// Receivers whose socket the server closed: no longer waited for
    gone: Vec<AtomicBool>,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
    /// Messages of sender s that some receiver has not got yet.
    fn in_flight(&self, s: usize) -> u64 {
        let sent = self.sent[s].load(Ordering::Acquire);
        let min = (0..self.n)
            .filter(|r| *r != s && !self.gone[*r].load(Ordering::Acquire))
            .map(|r| self.received[s * self.n + r].load(Ordering::Acquire))
            .min()
            .unwrap_or(sent);
        sent.saturating_sub(min)
    }
}

/// What one receiver saw.
#[derive(Default)]
struct RecvStats {
    lat_us: Vec<u32>,
    delivered_in_window: u64,
    reordered: u64,
    /// Messages skipped (sequence jumped) on a live connection: silent loss
    gaps: u64,
    /// Whether the server closed this client's socket
    disconnected: bool,
    malformed: u64,
    /// Messages received by this client, per sender
    per_sender: Vec<u64>,
    last_seq: Vec<Option<u32>>,
    presence_len: usize,
}

struct Client {
    sink: Arc<Mutex<SplitSink<Ws, Message>>>,
    stream: SplitStream<Ws>,
}

async fn connect_client(host_port: &str, id: &str, domain: &str) -> Result<(Client, usize)> {
    let url = format!(
        "ws://{host_port}/socket.io/?EIO=4&transport=websocket&%40id={}&%40domain={}",
        urlenc(id),
        urlenc(domain)
    );
    let (ws, _) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(url)).await??;
    let _ = set_nodelay(&ws);
    let (mut sink, mut stream) = ws.split();
    let mut presence = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut sent_connect = false;
    loop {
        let msg = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| err("handshake timed out"))?
            .ok_or_else(|| err("socket closed during handshake"))??;
        let Message::Text(t) = msg else { continue };
        let t = t.as_str();
        if t.starts_with('0') && !sent_connect {
            sink.send(Message::text("40")).await?;
            sent_connect = true;
        } else if t == "2" {
            sink.send(Message::text("3")).await?;
        } else if t.starts_with("40") {
            sink.send(Message::text(r#"42["present",true]"#)).await?;
        } else if t.starts_with("44") {
            return Err(err(format!("connect refused: {t}")));
        } else if let Some(n) = presence_len(t) {
            presence = Some(n);
        }
        if sent_connect && presence.is_some() {
            break;
        }
    }
    Ok((Client { sink: Arc::new(Mutex::new(sink)), stream }, presence.unwrap_or(0)))
}

fn set_nodelay(ws: &Ws) -> std::io::Result<()> {
    match ws.get_ref() {
        MaybeTlsStream::Plain(s) => s.set_nodelay(true),
        _ => Ok(()),
    }
}

fn urlenc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `42["presence",[...]]` → the list's length.
fn presence_len(t: &str) -> Option<usize> {
    let json = t.strip_prefix("42")?;
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    if v.get(0)?.as_str()? != "presence" {
        return None;
    }
    Some(v.get(1)?.as_array()?.len())
}

async fn receive_loop(
    me: usize,
    mut stream: SplitStream<Ws>,
    sink: Arc<Mutex<SplitSink<Ws, Message>>>,
    shared: Arc<Shared>,
    mut presence_len_now: usize,
) -> RecvStats {
    let n = shared.n;
    let mut st = RecvStats { per_sender: vec![0; n], last_seq: vec![None; n], ..Default::default() };
    let mut expect_binary = false;
    let done = shared.done.notified();
    tokio::pin!(done);
    loop {
        let next = tokio::select! {
            biased;
            m = stream.next() => m,
            _ = &mut done => {
                st.presence_len = presence_len_now;
                return st;
            }
        };
        let Some(Ok(msg)) = next else { break };
        match msg {
            Message::Text(t) => {
                let t = t.as_str();
                if t == "2" {
                    let _ = sink.lock().await.send(Message::text("3")).await;
                } else if t.starts_with("451-[\"operation\"") {
                    expect_binary = true;
                } else if let Some(len) = presence_len(t) {
                    presence_len_now = len;
                } else if t.starts_with("41") || t.starts_with('1') {
                    break;
                }
            }
            Message::Binary(b) => {
                if !expect_binary || b.len() < HEADER {
                    st.malformed += 1;
                    continue;
                }
                expect_binary = false;
                let now = shared.now_us();
                let sent_us = u64::from_le_bytes(b[0..8].try_into().unwrap_or_default());
                let from = u32::from_le_bytes(b[8..12].try_into().unwrap_or_default()) as usize;
                let seq = u32::from_le_bytes(b[12..16].try_into().unwrap_or_default());
                if from >= n || from == me {
                    st.malformed += 1;
                    continue;
                }
                match st.last_seq[from] {
                    Some(last) if seq <= last => st.reordered += 1,
                    Some(last) if seq > last + 1 => st.gaps += u64::from(seq - last - 1),
                    None if seq > 0 => st.gaps += u64::from(seq),
                    _ => {}
                }
                st.last_seq[from] = Some(st.last_seq[from].map_or(seq, |l| l.max(seq)));
                st.per_sender[from] += 1;
                shared.received[from * n + me].store(st.per_sender[from], Ordering::Release);
                shared.wake[from].notify_one();
                let (wf, wt) = (shared.win_from.load(Ordering::Relaxed), shared.win_to.load(Ordering::Relaxed));
                if now >= wf && now < wt {
                    st.delivered_in_window += 1;
                }
                if sent_us >= wf && sent_us < wt {
                    st.lat_us.push(now.saturating_sub(sent_us).min(u32::MAX as u64) as u32);
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    // The server closed the socket before the run ended
    eprintln!("# client {me}: disconnected by the server");
    st.disconnected = true;
    shared.gone[me].store(true, Ordering::Release);
    for w in &shared.wake {
        w.notify_one();
    }
    st.presence_len = presence_len_now;
    st
}

async fn send_loop(me: usize, sink: Arc<Mutex<SplitSink<Ws, Message>>>, shared: Arc<Shared>, size: usize, window: u64) {
    let mut filler = vec![0u8; size];
    for (i, b) in filler.iter_mut().enumerate().skip(HEADER) {
        *b = (i % 251) as u8;
    }
    let header = Message::text(r#"451-["operation",{"_placeholder":true,"num":0}]"#);
    let mut seq: u32 = 0;
    while !shared.stop.load(Ordering::Acquire) {
        let wake = shared.wake[me].notified();
        let room = window.saturating_sub(shared.in_flight(me));
        if room == 0 {
            let _ = tokio::time::timeout(Duration::from_millis(50), wake).await;
            continue;
        }
        let mut sink = sink.lock().await;
        for _ in 0..room {
            let mut payload = filler.clone();
            payload[0..8].copy_from_slice(&shared.now_us().to_le_bytes());
            payload[8..12].copy_from_slice(&(me as u32).to_le_bytes());
            payload[12..16].copy_from_slice(&seq.to_le_bytes());
            seq = seq.wrapping_add(1);
            if sink.feed(header.clone()).await.is_err() || sink.feed(Message::binary(payload)).await.is_err() {
                return;
            }
            shared.sent[me].fetch_add(1, Ordering::AcqRel);
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// One case

struct CaseResult {
    clients: usize,
    size: usize,
    window: u64,
    delivered_per_s: f64,
    sent_per_s: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    missing: u64,
    reordered: u64,
    gaps: u64,
    disconnected: usize,
    malformed: u64,
    presence_ok: bool,
    server_cpu_pct: Option<f64>,
    server_us_per_msg: Option<f64>,
    client_cpu_pct: Option<f64>,
}

async fn run_case(gw: &Gateway, gw_domain: &str, p: &Params, n: usize, size: usize, tck: f64) -> Result<CaseResult> {
    let hp = gw.host_port();
    let domain = format!("{}.{ACCOUNT}.{gw_domain}", cuid_name());
    let window = p.window.unwrap_or_else(|| (128 / n as u64).max(8));
    let shared = Arc::new(Shared {
        n,
        start: Instant::now(),
        win_from: AtomicU64::new(u64::MAX),
        win_to: AtomicU64::new(u64::MAX),
        received: (0..n * n).map(|_| AtomicU64::new(0)).collect(),
        sent: (0..n).map(|_| AtomicU64::new(0)).collect(),
        wake: (0..n).map(|_| Notify::new()).collect(),
        stop: AtomicBool::new(false),
        done: Notify::new(),
        gone: (0..n).map(|_| AtomicBool::new(false)).collect(),
    });
    // Connect everyone, each present; then wait for presence lists of n
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let (c, len) = connect_client(&hp, &format!("bench-{i}"), &domain).await?;
        clients.push((c, len));
    }
    let mut streams = Vec::new();
    let mut sinks = Vec::new();
    for (i, (c, _)) in clients.into_iter().enumerate() {
        sinks.push(c.sink.clone());
        streams.push((i, c.stream, c.sink));
    }
    // Wait until every client's latest presence list has n ids
    let mut settled = Vec::new();
    for (i, mut stream, sink) in streams {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut len = 0;
        while len != n {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    if t.as_str() == "2" {
                        sink.lock().await.send(Message::text("3")).await?;
                    } else if let Some(l) = presence_len(t.as_str()) {
                        len = l;
                    }
                }
                Ok(Some(Ok(_))) => {}
                Ok(_) => return Err(err(format!("client {i} closed before presence settled"))),
                Err(_) => return Err(err(format!("client {i}: presence list stuck at {len} of {n}"))),
            }
        }
        settled.push((i, stream, sink, len));
    }
    let receivers: Vec<_> = settled
        .into_iter()
        .map(|(i, stream, sink, len)| tokio::spawn(receive_loop(i, stream, sink, shared.clone(), len)))
        .collect();
    let senders: Vec<_> = sinks
        .iter()
        .enumerate()
        .map(|(i, sink)| tokio::spawn(send_loop(i, sink.clone(), shared.clone(), size, window)))
        .collect();

    tokio::time::sleep(p.warmup).await;
    let from = shared.now_us();
    shared.win_to.store(from + p.duration.as_micros() as u64, Ordering::Relaxed);
    shared.win_from.store(from, Ordering::Relaxed);
    let pid = gw.pid.map(|p| p.to_string());
    let srv0 = pid.as_deref().and_then(|p| proc_cpu_s(p, tck));
    let cli0 = proc_cpu_s("self", tck);
    let sent0: u64 = shared.sent.iter().map(|s| s.load(Ordering::Acquire)).sum();
    let t0 = Instant::now();
    tokio::time::sleep(p.duration).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let srv1 = pid.as_deref().and_then(|p| proc_cpu_s(p, tck));
    let cli1 = proc_cpu_s("self", tck);
    let sent1: u64 = shared.sent.iter().map(|s| s.load(Ordering::Acquire)).sum();
    // Stop sending, then drain outstanding messages
    shared.stop.store(true, Ordering::Release);
    for s in senders {
        let _ = s.await;
    }
    let drain_until = Instant::now() + p.drain;
    while Instant::now() < drain_until && (0..n).any(|s| shared.in_flight(s) > 0) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.done.notify_waiters();
    let mut lat = Vec::new();
    let (mut delivered, mut reordered, mut malformed, mut missing) = (0u64, 0u64, 0u64, 0u64);
    let (mut gaps, mut disconnected) = (0u64, 0usize);
    let mut presence_ok = true;
    for r in receivers {
        let st = r.await?;
        lat.extend_from_slice(&st.lat_us);
        delivered += st.delivered_in_window;
        reordered += st.reordered;
        if !st.disconnected {
            gaps += st.gaps;
        }
        disconnected += usize::from(st.disconnected);
        malformed += st.malformed;
        presence_ok &= st.presence_len == n;
    }
    for s in 0..n {
        let sent = shared.sent[s].load(Ordering::Acquire);
        for r in (0..n).filter(|r| *r != s) {
            missing += sent.saturating_sub(shared.received[s * n + r].load(Ordering::Acquire));
        }
    }
    // Close politely: Socket.io disconnect, then WebSocket close
    for sink in &sinks {
        let mut sink = sink.lock().await;
        let _ = sink.send(Message::text("41")).await;
        let _ = sink.close().await;
    }
    lat.sort_unstable();
    let pct = |q: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let i = ((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i] as f64 / 1000.0
    };
    let server_cpu = match (srv0, srv1) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok(CaseResult {
        clients: n,
        size,
        window,
        delivered_per_s: delivered as f64 / elapsed,
        sent_per_s: (sent1 - sent0) as f64 / elapsed,
        p50: pct(0.50),
        p95: pct(0.95),
        p99: pct(0.99),
        max: lat.last().map_or(f64::NAN, |v| *v as f64 / 1000.0),
        missing,
        reordered,
        gaps,
        disconnected,
        malformed,
        presence_ok,
        server_cpu_pct: server_cpu.map(|c| 100.0 * c / elapsed),
        server_us_per_msg: server_cpu.filter(|_| delivered > 0).map(|c| c * 1e6 / delivered as f64),
        client_cpu_pct: match (cli0, cli1) {
            (Some(a), Some(b)) => Some(100.0 * (b - a) / elapsed),
            _ => None,
        },
    })
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.prec$}"))
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; a list-only run (`--list`) does nothing
    if env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let p = Params::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(p.threads).enable_all().build()?;
    rt.block_on(async {
        let mut gw = match env::var("RELAY_BENCH_ORIGIN") {
            Ok(origin) => Gateway::external(origin)?,
            Err(_) => Gateway::start()?,
        };
        gw.wait_ready().await?;
        let gw_domain = setup(&gw).await?;
        let tck = clk_tck();
        eprintln!(
            "# relay bench: {} (gateway domain {gw_domain}), {:.0} s warm-up + {:.0} s per case, {} client thread(s)",
            gw.origin,
            p.warmup.as_secs_f64(),
            p.duration.as_secs_f64(),
            p.threads
        );
        let mut results = Vec::new();
        for &n in &p.clients {
            for &size in &p.sizes {
                match run_case(&gw, &gw_domain, &p, n, size, tck).await {
                    Ok(r) => {
                        eprintln!(
                            "# {} clients x {} B: {:.0} delivered/s, p50 {:.2} ms, missing {}",
                            r.clients, r.size, r.delivered_per_s, r.p50, r.missing
                        );
                        results.push(r);
                    }
                    Err(e) => eprintln!("# {n} clients x {size} B: FAILED: {e}"),
                }
            }
        }
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "\n| clients | size B | window | delivered msg/s | sent msg/s | p50 / p95 / p99 / max ms | missing | gaps | reordered | disconnected | server CPU % | server µs/msg | client CPU % | presence |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")?;
        for r in &results {
            writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.0} | {:.2} / {:.2} / {:.2} / {:.2} | {} | {} | {}{} | {} | {} | {} | {} | {} |",
                r.clients,
                r.size,
                r.window,
                r.delivered_per_s,
                r.sent_per_s,
                r.p50,
                r.p95,
                r.p99,
                r.max,
                r.missing,
                r.gaps,
                r.reordered,
                if r.malformed > 0 { format!(" ({} malformed)", r.malformed) } else { String::new() },
                r.disconnected,
                opt(r.server_cpu_pct, 0),
                opt(r.server_us_per_msg, 2),
                opt(r.client_cpu_pct, 0),
                if r.presence_ok { "ok" } else { "STALE" },
            )?;
        }
        let failed = p.clients.len() * p.sizes.len() - results.len();
        if failed > 0 {
            return Err(err(format!("{failed} case(s) failed")));
        }
        Ok(())
    })
}
