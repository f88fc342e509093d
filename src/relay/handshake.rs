//! The handshake middleware: reads `@id` and `@domain` from the query and the
//! credentials from the `auth` object, asks the [`Authority`](crate::auth::Authority),
//! and either refuses with one clear `connect_error` message or prepares
//! the socket's relay state and event handlers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use socketioxide::extract::{SocketRef, State, TryData};

use super::{Conn, OpenError, Relay, events};
use crate::accounts::SubdomainId;
use crate::auth::lockout::LockedOut;
use crate::auth::{Admission, AuthError, HandshakeAuth};

/// Longest accepted clone id; m-ld ids are short (cuids, UUIDs).
const MAX_CLONE_ID: usize = 256;

/// Why a handshake was refused: the text goes to the client as the
/// `connect_error` message, so it says what is wrong without any detail an
/// attacker could use.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// `@id` or `@domain` missing, repeated or malformed.
    #[error("bad handshake: {0}")]
    BadQuery(&'static str),
    /// Credentials wrong or not allowed here.
    #[error("unauthorised: {0}")]
    Auth(AuthError),
    /// Too many failed attempts from this client for this account.
    #[error("too many failed attempts; try again in {0} s")]
    LockedOut(u64),
    /// The subdomain's backup clone could not be made present.
    #[error("subdomain unavailable, try again later")]
    Unavailable,
    /// The subdomain's stored data failed an integrity check.
    #[error("{}", crate::backup::QUARANTINED)]
    Quarantined,
}

/// The `@id` and `@domain` handshake query parameters.
#[derive(Debug, PartialEq)]
pub struct HandshakeQuery {
    /// Clone id.
    pub id: String,
    /// m-ld domain name.
    pub domain: String,
}

impl HandshakeQuery {
    /// Parses a URL query string; each parameter must appear exactly once.
    pub fn parse(query: Option<&str>) -> Result<Self, Refusal> {
        let mut id = None;
        let mut domain = None;
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match k.as_ref() {
                "@id" => &mut id,
                "@domain" => &mut domain,
                _ => continue,
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(Refusal::BadQuery("repeated @id or @domain"));
            }
        }
        let id = id.ok_or(Refusal::BadQuery("missing @id"))?;
        let domain = domain.ok_or(Refusal::BadQuery("missing @domain"))?;
        if id.is_empty() || id.len() > MAX_CLONE_ID || id.chars().any(char::is_control) {
            return Err(Refusal::BadQuery("malformed @id"));
        }
        if domain.is_empty() || domain.len() > 253 {
            return Err(Refusal::BadQuery("malformed @domain"));
        }
        Ok(HandshakeQuery { id, domain })
    }
}

/// Connect middleware: accept or refuse the handshake.
pub(super) async fn authorise(
    socket: SocketRef,
    TryData(auth): TryData<Option<serde_json::Value>>,
    State(relay): State<Arc<Relay>>,
) -> Result<(), Refusal> {
    let mut decided = decide(&socket, auth.ok().flatten().as_ref(), &relay);
    // A registered subdomain's clones need its backup present (else a new
    // clone finds nobody and fails as "siloed"): open it before accepting.
    // Registration decides, not the shape of the name.
    if let (Ok((_, sd)), Some(opener)) = (&decided, relay.opener.get())
        && let Err(e) = opener.open(sd.clone()).await
    {
        decided = Err(match e {
            OpenError::Quarantined => {
                tracing::warn!(sid = %socket.id, account = %sd.account, name = %sd.name, "relay: domain quarantined; handshake refused");
                Refusal::Quarantined
            }
            OpenError::Unavailable(e) => {
                tracing::error!(sid = %socket.id, account = %sd.account, name = %sd.name, error = %e, "relay: backup clone unavailable");
                Refusal::Unavailable
            }
        });
    }
    match decided.map(|(conn, _)| conn) {
        Ok(conn) => {
            relay.stats.connected.fetch_add(1, Ordering::Relaxed);
            relay.stats.open.fetch_add(1, Ordering::Relaxed);
            // Handlers are registered before the socket is connected, so no
            // event can arrive without one
            events::register(&socket);
            let on_gone = conn.clone();
            socket.on_disconnect(move |s: SocketRef, State(relay): State<Arc<Relay>>| async move {
                relay.stats.open.fetch_sub(1, Ordering::Relaxed);
                relay.leave(&on_gone, s.id);
                tracing::debug!(sid = %s.id, domain = %on_gone.domain, id = %on_gone.clone_id, "relay: socket left");
            });
            socket.extensions.insert(conn);
            Ok(())
        }
        Err(refusal) => {
            relay.stats.refused.fetch_add(1, Ordering::Relaxed);
            if matches!(refusal, Refusal::Auth(_) | Refusal::LockedOut(_)) {
                crate::metrics::auth_failure();
            }
            Err(refusal)
        }
    }
}

fn decide(
    socket: &SocketRef,
    auth: Option<&serde_json::Value>,
    relay: &Relay,
) -> Result<(Arc<Conn>, SubdomainId), Refusal> {
    let query = HandshakeQuery::parse(socket.req_parts().uri.query()).inspect_err(|e| {
        tracing::warn!(target: "audit", sid = %socket.id, reason = %e, "relay handshake refused");
    })?;
    // Lockouts count per (client IP, claimed account), as on HTTP
    let parts = socket.req_parts();
    let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let ip = relay.authority.client_ip(peer, &parts.headers);
    let claimed = match auth.and_then(|a| a.get("user")).and_then(|u| u.as_str()) {
        Some(user) => crate::auth::lockout::claimed_name(user),
        None => query.domain.split('.').nth(1).unwrap_or("-").to_owned(),
    };
    if let Some(ip) = ip
        && let Err(LockedOut(left)) = relay.authority.lockouts().check(ip, &claimed)
    {
        return Err(Refusal::LockedOut(left.as_secs().max(1)));
    }
    // Only presented credentials count: an anonymous refusal guesses nothing
    let presented = auth.is_some_and(|a| a.as_object().is_some_and(|o| o.values().any(|v| !v.is_null())));
    let auth = HandshakeAuth::from_json(auth).map_err(Refusal::Auth);
    let decision = auth.and_then(|auth| {
        let (who, sd) = relay.authority.authorise_handshake(&query.domain, &auth).map_err(Refusal::Auth)?;
        Ok((Admission::of(&auth, &who), who, sd))
    });
    if let Some(ip) = ip.filter(|_| presented) {
        match &decision {
            Err(Refusal::Auth(AuthError::Store(_))) => {}
            Err(Refusal::Auth(_)) => {
                relay.authority.lockouts().failed(ip, &claimed);
            }
            Ok(_) => relay.authority.lockouts().succeeded(ip, &claimed),
            Err(_) => {}
        }
    }
    match decision {
        Ok((admission, who, sd)) => {
            tracing::debug!(sid = %socket.id, domain = %query.domain, id = %query.id, who = who.describe(), "relay: socket accepted");
            let conn = Arc::new(Conn {
                domain: query.domain.into(),
                clone_id: query.id.into(),
                room: Default::default(),
                closed: AtomicBool::new(false),
                admission,
                ip,
                budget: super::budget::Budget::new(&relay.limits),
                refused: AtomicBool::new(false),
            });
            Ok((conn, sd))
        }
        Err(refusal) => {
            if let Refusal::Auth(AuthError::Store(e)) = &refusal {
                tracing::error!(sid = %socket.id, domain = %query.domain, error = %e, "relay handshake: store failure");
            }
            tracing::warn!(target: "audit", sid = %socket.id, domain = %query.domain, id = %query.id, reason = %refusal, "relay handshake refused");
            Err(refusal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing() {
        let q = HandshakeQuery::parse(Some("EIO=4&transport=polling&%40id=abc&%40domain=sd.acc.ex.org")).unwrap();
        assert_eq!(q, HandshakeQuery { id: "abc".into(), domain: "sd.acc.ex.org".into() });
        for bad in [
            None,
            Some(""),
            Some("%40id=abc"),
            Some("%40domain=x.y.z"),
            Some("%40id=&%40domain=a.b.c"),
            Some("%40id=a&%40id=b&%40domain=a.b.c"),
            Some("%40id=a%0A&%40domain=a.b.c"),
        ] {
            assert!(HandshakeQuery::parse(bad).is_err(), "{bad:?}");
        }
    }
}
