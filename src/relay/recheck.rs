//! Admissions checked again: a socket admitted with a key that is later
//! revoked or rotated out (or a token signed by one), or by an account that
//! then stops allowing that kind of remote authentication, is cut rather
//! than left relaying. The account layer asks for a check when it changes
//! credentials or settings; a periodic check catches what time alone
//! changes (a rotated key's grace period ending).

use std::sync::Arc;
use std::time::Duration;

use super::room::Sink;
use super::{Conn, Relay, close_when_possible};

impl Relay {
    /// Asks for every socket's admission to be checked again soon.
    pub fn recheck_admissions(&self) {
        self.recheck.notify_one();
    }

    /// Checks every socket's admission against the accounts now, takes the
    /// sockets no longer admitted out of their rooms and returns them for
    /// the caller to close. Reads the store: call it off the async workers.
    fn recheck_now(&self) -> Vec<socketioxide::extract::SocketRef> {
        let rooms: Vec<_> = self.rooms().values().cloned().collect();
        let mut cut = Vec::new();
        for room in rooms {
            for sink in room.members() {
                let Sink::Socket(socket) = sink else { continue };
                let Some(conn) = socket.extensions.get::<Arc<Conn>>() else { continue };
                if let Err(reason) = self.authority.still_admits(&conn.domain, &conn.admission) {
                    if matches!(reason, crate::auth::AuthError::Store(_)) {
                        tracing::error!(sid = %socket.id, error = %reason, "relay: admission re-check failed to read the store");
                        continue;
                    }
                    tracing::warn!(target: "audit", sid = %socket.id, domain = %conn.domain, id = %conn.clone_id,
                        reason = %reason, "relay socket cut: its credentials no longer admit it");
                    crate::metrics::auth_failure();
                    self.leave(&conn, socket.id);
                    cut.push(socket);
                }
            }
        }
        cut
    }
}

/// Runs admission re-checks when asked and every `every`, until the relay
/// is dropped.
pub fn spawn_rechecks(relay: &Arc<Relay>, every: Duration) {
    let weak = Arc::downgrade(relay);
    let wake = relay.recheck.clone();
    tokio::spawn(async move {
        loop {
            let notified = wake.notified();
            // Changes come in bursts (a revocation, then the page reloads):
            // one check a moment later covers them
            let _ = tokio::time::timeout(every, notified).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let Some(relay) = weak.upgrade() else { return };
            let cut = match tokio::task::spawn_blocking(move || relay.recheck_now()).await {
                Ok(cut) => cut,
                Err(e) => {
                    tracing::error!(error = %e, "relay: admission re-check failed");
                    continue;
                }
            };
            for socket in cut {
                tokio::spawn(close_when_possible(socket));
            }
        }
    });
}
