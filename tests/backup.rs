//! Backup export and restore through the real router: a round trip between
//! two gateways gives a byte-identical dataset; who may export and restore;
//! and every kind of damaged or unsuitable backup is refused with nothing
//! stored (no subdomain record, no tree of its dataset).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use meld_gateway::accounts::AccountStore;
use meld_gateway::backup::archive::{FORMAT, Header, VERSION, Writer};
use meld_gateway::config::Settings;
use meld_gateway::store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

mod common;
use common::basic;

struct Gw {
    app: axum::Router,
    root: String,
    accounts: AccountStore,
    store: Store,
    _dir: tempfile::TempDir,
}

fn gateway(settings: Settings) -> Gw {
    let gw = common::gateway(settings);
    Gw { app: gw.app, root: gw.root, accounts: AccountStore::new(&gw.store).unwrap(), store: gw.store, _dir: gw.dir }
}

impl Gw {
    async fn call(&self, method: &str, path: &str, auth: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>, String) {
        let req = Request::builder().method(method).uri(path).header(header::AUTHORIZATION, auth);
        let res = self.app.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
        let status = res.status();
        let kind = res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 26).await.unwrap();
        (status, bytes.to_vec(), kind)
    }

    async fn json(&self, method: &str, path: &str, auth: &str, body: &str) -> (StatusCode, Value) {
        let (status, bytes, _) = self.call(method, path, auth, body.as_bytes().to_vec()).await;
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn root_auth(&self) -> String {
        basic("rootacc", &self.root)
    }

    async fn create_account(&self, name: &str) -> String {
        let (status, body) = self.json("POST", &format!("/api/v1/user/{name}/key"), &self.root_auth(), "").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        basic(name, body["auth"]["key"].as_str().unwrap())
    }

    /// Everything in the subdomain, as the Clone API describes it.
    async fn all(&self, auth: &str, name: &str) -> Vec<Value> {
        let q = "%7B%22%40describe%22%3A%22%3Fs%22%2C%22%40where%22%3A%7B%22%40id%22%3A%22%3Fs%22%7D%7D";
        let (status, bytes, _) =
            self.call("GET", &format!("/api/v1/domain/acc/{name}/state?q={q}"), auth, vec![]).await;
        assert_eq!(status, StatusCode::OK);
        let mut all: Vec<Value> =
            std::str::from_utf8(&bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        all.sort_by_key(|s| s["@id"].to_string());
        all
    }

    /// Nothing of subdomain `acc/name` is stored: no record, not in the
    /// account's list, no data in any tree of its dataset (an empty root
    /// tree may stay, see `Staged::abandon`).
    fn assert_nothing_of(&self, name: &str) {
        assert!(self.accounts.subdomain("acc", name).unwrap().is_none(), "{name}: record stored");
        assert!(!self.accounts.get("acc").unwrap().unwrap().subdomains.contains(&name.to_owned()));
        let prefix = format!("clone/acc/{name}/");
        let trees: Vec<String> = (self.store.db().tree_names().iter())
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .filter(|t| t.starts_with(&prefix))
            .filter(|t| *t != format!("{prefix}root") || !self.store.db().open_tree(t).unwrap().is_empty())
            .collect();
        assert!(trees.is_empty(), "{name}: trees left {trees:?}");
    }
}

/// Account `acc` with subdomain `notes` holding 60 subjects (three writes).
async fn source() -> (Gw, String) {
    let gw = gateway(Settings::default());
    let auth = gw.create_account("acc").await;
    let (status, _) = gw.json("PUT", "/api/v1/domain/acc/notes", &auth, "").await;
    assert_eq!(status, StatusCode::OK);
    for batch in 0..3 {
        let graph: Vec<Value> = (0..20)
            .map(
                |i| json!({"@id": format!("s{batch}-{i}"), "n": i, "name": format!("Subject {i}"), "tags": ["a", "b"]}),
            )
            .collect();
        let (status, body) =
            gw.json("POST", "/api/v1/domain/acc/notes/state", &auth, &json!({"@graph": graph}).to_string()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (gw, auth)
}

/// The record lines of a backup (neither header nor trailer).
fn records(backup: &[u8]) -> Vec<&str> {
    let text = std::str::from_utf8(backup).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    lines[1..lines.len() - 1].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_on_another_gateway_byte_for_byte() {
    let (a, auth) = source().await;
    let (status, backup, kind) = a.call("GET", "/api/v1/domain/acc/notes/backup", &auth, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/vnd.meld-gateway.backup");
    let header: Value = serde_json::from_str(std::str::from_utf8(&backup).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!((header["format"].as_str(), header["version"].as_u64()), (Some(FORMAT), Some(VERSION)));
    assert_eq!(header["domain"], "notes.acc.ex.org");
    assert_eq!(header["useSignatures"], false);
    let clone_id = a.accounts.subdomain("acc", "notes").unwrap().unwrap().clone_id;
    assert_eq!(header["cloneId"], clone_id.as_str());

    // Root mints the account on the second gateway; the account restores
    let b = gateway(Settings::default());
    let b_auth = b.create_account("acc").await;
    let (status, body) = b.json("POST", "/api/v1/domain/acc/notes/backup", &b_auth, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an empty body: {body}");
    b.assert_nothing_of("notes");
    let (status, restored, _) = b.call("POST", "/api/v1/domain/acc/notes/backup", &b_auth, backup.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&restored));
    let restored: Value = serde_json::from_slice(&restored).unwrap();
    assert_eq!(restored["@domain"], "notes.acc.ex.org");
    assert_eq!(restored["records"].as_u64(), Some(records(&backup).len() as u64));
    let record = b.accounts.subdomain("acc", "notes").unwrap().unwrap();
    assert_eq!(record.clone_id, clone_id, "the backup clone keeps its identity");
    assert!(b.accounts.get("acc").unwrap().unwrap().subdomains.contains(&"notes".to_owned()));

    // The same data, read through the Clone API, and the same bytes
    let want = a.all(&auth, "notes").await;
    assert_eq!(want.len(), 60);
    assert_eq!(b.all(&b_auth, "notes").await, want);
    let (status, again, _) = b.call("GET", "/api/v1/domain/acc/notes/backup", &b_auth, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(records(&again), records(&backup), "export of the restore = the original export");

    // The restored clone goes on: a write there is read back
    let (status, _) = b.json("POST", "/api/v1/domain/acc/notes/state", &b_auth, r#"{"@id":"later","n":1}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(b.all(&b_auth, "notes").await.len(), 61);

    // Restoring over an existing subdomain: 409 and nothing changes
    let (status, _) = b.json("POST", "/api/v1/domain/acc/notes/backup", &b_auth, "x").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = b.call("POST", "/api/v1/domain/acc/notes/backup", &b_auth, backup.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(b.all(&b_auth, "notes").await.len(), 61);
    // Nor over a removed one
    let (status, _, _) = b.call("DELETE", "/api/v1/domain/acc/notes", &b_auth, vec![]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = b.call("POST", "/api/v1/domain/acc/notes/backup", &b_auth, backup).await;
    assert_eq!(status, StatusCode::CONFLICT);
    b.assert_nothing_of("notes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_account_or_root_may_export_and_restore() {
    let (a, auth) = source().await;
    // A token delegate of the account
    let (status, _) = a.json("PATCH", "/api/v1/user/acc", &auth, r#"{"@insert":{"remotesAuth":"jwt"}}"#).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, config) = a.json("PUT", "/api/v1/domain/acc/notes", &auth, "").await;
    assert_eq!(status, StatusCode::OK);
    let token = format!("Bearer {}", config["io"]["opts"]["auth"]["jwt"].as_str().unwrap());
    let other = a.create_account("other").await;
    for who in [&token, &other, "Basic !!"] {
        let (status, _, _) = a.call("GET", "/api/v1/domain/acc/notes/backup", who, vec![]).await;
        assert!(matches!(status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED), "{who}: {status}");
    }
    let (status, backup, _) = a.call("GET", "/api/v1/domain/acc/notes/backup", &a.root_auth(), vec![]).await;
    assert_eq!(status, StatusCode::OK, "root exports");
    let (status, _, _) = a.call("POST", "/api/v1/domain/acc/copy/backup", &token, backup.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a token restores");
    a.assert_nothing_of("copy");
    let (status, _, _) = a.call("GET", "/api/v1/domain/acc/nosuch/backup", &auth, vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let b = gateway(Settings::default());
    b.create_account("acc").await;
    let b_other = b.create_account("other").await;
    for who in [&b_other, "Basic !!"] {
        let (status, _, _) = b.call("POST", "/api/v1/domain/acc/notes/backup", who, backup.clone()).await;
        assert!(matches!(status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED), "{who}: {status}");
        b.assert_nothing_of("notes");
    }
    // Root restores into an account that exists; not into one that does not
    let (status, _, _) = b.call("POST", "/api/v1/domain/nobody/notes/backup", &b.root_auth(), backup.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = b.call("POST", "/api/v1/domain/acc/notes/backup", &b.root_auth(), backup).await;
    assert_eq!(status, StatusCode::CREATED);
}

fn replace_line(backup: &[u8], index: usize, with: &str) -> Vec<u8> {
    let text = std::str::from_utf8(backup).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[index] = with.to_owned();
    (lines.join("\n") + "\n").into_bytes()
}

/// A well-formed backup (good checksum) of these records.
fn forged(domain: &str, records: &[(&str, Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        domain: domain.into(),
        account: "acc".into(),
        name: "notes".into(),
        clone_id: "gw-forged".into(),
        use_signatures: false,
        signers: Vec::new(),
        exported: 1,
    };
    let (mut w, mut out) = Writer::start(&header);
    for (tree, key, value) in records {
        w.record(tree, key, value, &mut out);
    }
    out.extend(w.finish());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_or_unsuitable_backups_are_refused_and_store_nothing() {
    let (a, auth) = source().await;
    let (_, backup, _) = a.call("GET", "/api/v1/domain/acc/notes/backup", &auth, vec![]).await;
    let lines: Vec<&str> = std::str::from_utf8(&backup).unwrap().lines().collect();
    let last = lines.len() - 1;
    let b = gateway(Settings {
        backup: meld_gateway::config::BackupSettings { max_restore_bytes: Some(1 << 20) },
        ..Default::default()
    });
    let b_auth = b.create_account("acc").await;

    let mut cases: Vec<(&str, Vec<u8>, StatusCode)> = Vec::new();
    for at in [10, backup.len() / 2, backup.len() - 80, backup.len() - 2] {
        let mut flipped = backup.clone();
        flipped[at] ^= 0x01;
        cases.push(("a flipped byte", flipped, StatusCode::BAD_REQUEST));
    }
    for len in [0, 50, backup.len() / 2, backup.len() - 1] {
        cases.push(("truncated", backup[..len].to_vec(), StatusCode::BAD_REQUEST));
    }
    let mut extra = backup.clone();
    extra.extend_from_slice(lines[1].as_bytes());
    cases.push(("data after the trailer", extra, StatusCode::BAD_REQUEST));
    let v2 = lines[0].replace("\"version\":1", "\"version\":2");
    cases.push(("version 2", replace_line(&backup, 0, &v2), StatusCode::BAD_REQUEST));
    cases.push(("not a header", replace_line(&backup, 0, "{}"), StatusCode::BAD_REQUEST));
    cases.push(("a malformed record", replace_line(&backup, 3, "{\"tree\":1}"), StatusCode::BAD_REQUEST));
    cases.push(("no trailer", replace_line(&backup, last, lines[1]), StatusCode::BAD_REQUEST));
    cases.push((
        "a bad checksum",
        replace_line(&backup, last, &lines[last].replace("\"sha256\":\"", "\"sha256\":\"0")),
        StatusCode::BAD_REQUEST,
    ));
    // Checksums fine, contents not
    let meta = |key: &str, value: Vec<u8>| ("meta", key.as_bytes().to_vec(), value);
    cases.push(("another domain", forged("notes.acc.other.org", &[]), StatusCode::BAD_REQUEST));
    cases.push(("no journal state", forged("notes.acc.ex.org", &[]), StatusCode::BAD_REQUEST));
    cases.push(("an unknown tree", forged("notes.acc.ex.org", &[("x", vec![1], vec![2])]), StatusCode::BAD_REQUEST));
    cases.push(("a bad state", forged("notes.acc.ex.org", &[meta("state", vec![1, 2, 3])]), StatusCode::BAD_REQUEST));
    let state_line = lines.iter().find(|l| l.contains(r#""tree":"meta","key":"c3RhdGU=""#)).unwrap();
    let state: Value = serde_json::from_str(state_line).unwrap();
    let state = base64::engine::general_purpose::STANDARD.decode(state["value"].as_str().unwrap()).unwrap();
    // With a good journal state, so only the record itself is wrong
    for (what, record) in [
        ("a bad triple key", ("spo", vec![0xff; 5], vec![0])),
        ("a bad journal key", ("entries", vec![1, 2, 3], vec![0])),
        ("a bad journal entry", ("entries", vec![0; 8], vec![0xff; 4])),
        ("an unknown meta key", ("meta", b"colour".to_vec(), vec![])),
    ] {
        cases.push((
            what,
            forged("notes.acc.ex.org", &[meta("state", state.clone()), record]),
            StatusCode::BAD_REQUEST,
        ));
    }
    let half_index: Vec<u8> = {
        // A good state, but one spo record with no pos/osp twins
        let spo = lines.iter().find(|l| l.contains(r#""tree":"spo""#)).unwrap();
        let mut text = String::from_utf8(forged("notes.acc.ex.org", &[])).unwrap();
        let mut parts: Vec<&str> = text.lines().collect();
        parts.truncate(1);
        let body = format!("{}\n{spo}\n{state_line}\n", parts[0]);
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(body.as_bytes()));
        text = format!("{body}{{\"end\":true,\"records\":2,\"sha256\":\"{digest}\"}}\n");
        text.into_bytes()
    };
    cases.push(("indexes of different sizes", half_index, StatusCode::BAD_REQUEST));
    let mut big = backup.clone();
    big.resize(2 << 20, b' ');
    cases.push(("over max_restore_bytes", big, StatusCode::PAYLOAD_TOO_LARGE));

    for (what, body, want) in cases {
        let (status, answer, _) = b.call("POST", "/api/v1/domain/acc/notes/backup", &b_auth, body).await;
        assert_eq!(status, want, "{what}: {}", String::from_utf8_lossy(&answer));
        let message: Value = serde_json::from_slice(&answer).unwrap();
        assert!(message["message"].as_str().is_some_and(|m| !m.is_empty() && m.len() < 300), "{what}: {message}");
        b.assert_nothing_of("notes");
    }
    // Declared too large: refused before reading
    let big = vec![b' '; (1 << 20) + 1];
    let req = Request::post("/api/v1/domain/acc/notes/backup")
        .header(header::AUTHORIZATION, &b_auth)
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big))
        .unwrap();
    assert_eq!(b.app.clone().oneshot(req).await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    b.assert_nothing_of("notes");
    // After all that, the good one restores
    let (status, _, _) = b.call("POST", "/api/v1/domain/acc/notes/backup", &b_auth, backup).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(b.all(&b_auth, "notes").await.len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_settings_travel_with_the_backup() {
    let fixture: Value = serde_json::from_str(include_str!("fixtures/signatures/node-signature.json")).unwrap();
    let public = fixture["public"].as_str().unwrap();
    let a = gateway(Settings::default());
    let auth = a.create_account("acc").await;
    let body = json!({"useSignatures": true, "user": {"@id": "http://ex.org/alice", "key": {"keyid": "alice1", "public": public}}});
    let (status, _) = a.json("PUT", "/api/v1/domain/acc/signed", &auth, &body.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, backup, _) = a.call("GET", "/api/v1/domain/acc/signed/backup", &auth, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let b = gateway(Settings::default());
    let b_auth = b.create_account("acc").await;
    // A signer's key that a PUT would refuse is refused here too
    let text = String::from_utf8(backup.clone()).unwrap();
    let header = text.lines().next().unwrap();
    let forged_header = header.replace("alice1", "a1");
    let mut forged: String = format!("{forged_header}\n");
    for line in text.lines().skip(1) {
        if line.starts_with("{\"end\"") {
            use sha2::Digest;
            let digest = hex::encode(sha2::Sha256::digest(forged.as_bytes()));
            let records = text.lines().count() - 2;
            forged.push_str(&format!("{{\"end\":true,\"records\":{records},\"sha256\":\"{digest}\"}}\n"));
        } else {
            forged.push_str(line);
            forged.push('\n');
        }
    }
    let (status, answer, _) = b.call("POST", "/api/v1/domain/acc/signed/backup", &b_auth, forged.into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&answer));
    b.assert_nothing_of("signed");
    let (status, answer, _) = b.call("POST", "/api/v1/domain/acc/signed/backup", &b_auth, backup).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer));
    let (got, want) = (
        b.accounts.subdomain("acc", "signed").unwrap().unwrap(),
        a.accounts.subdomain("acc", "signed").unwrap().unwrap(),
    );
    assert!(got.use_signatures);
    assert_eq!((got.signers, got.clone_id), (want.signers, want.clone_id));
}
