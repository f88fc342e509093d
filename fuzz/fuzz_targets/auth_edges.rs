//! What a client presents before anything else: the `Authorization` header
//! (Basic, Bearer and anything else), the Socket.io handshake's `auth`
//! object and its `@id`/`@domain` query. Parsed, then checked by the real
//! `Authority` against an account store holding one account: refuse or
//! admit, never panic, and never admit what was not issued.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meld_gateway::accounts::AccountStore;
use meld_gateway::auth::{AuthKey, Authority, HandshakeAuth, Principal};
use meld_gateway::relay::HandshakeQuery;
use meld_gateway::store::Store;

const GATEWAY: &str = "fuzz.example.org";

thread_local! {
    static AUTHORITY: Authority = {
        let store = Store::temporary().expect("temporary store");
        let accounts = AccountStore::new(&store).expect("accounts");
        let root = AuthKey::generate("fuzzroot").expect("root key");
        Authority::new(accounts, root, GATEWAY.into())
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    AUTHORITY.with(|authority| match which % 3 {
        0 => {
            // Nothing random can be the root key or an issued token
            if let Ok(caller) = authority.authenticate_header(Some(&text)) {
                assert!(matches!(caller.who, Principal::Anonymous), "admitted {:?}", caller.who);
            }
        }
        1 => {
            let value: Option<serde_json::Value> = serde_json::from_slice(rest).ok();
            if let Ok(auth) = HandshakeAuth::from_json(value.as_ref()) {
                let domain = format!("x.fuzzroot.{GATEWAY}");
                if let Ok((who, _)) = authority.authorise_handshake(&domain, &auth) {
                    assert!(matches!(who, Principal::Anonymous), "admitted {who:?}");
                }
            }
        }
        _ => {
            if let Ok(query) = HandshakeQuery::parse(Some(&text)) {
                assert!(!query.id.is_empty() && !query.domain.is_empty());
                let _ = authority.authorise_handshake(&query.domain, &HandshakeAuth::Anonymous);
            }
        }
    });
});
