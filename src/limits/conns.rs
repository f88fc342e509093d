//! Open TCP connections, per client IP (an IPv6 client by its /64 prefix)
//! and in total: counted when accepted, released when the connection task
//! ends (a [`ConnSlot`] dropped). Past a limit the accept loop closes the
//! new connection at once.
//!
//! The IP here is the TCP peer: behind a proxy every connection comes from
//! the proxy, so `per_ip` must then be at least the proxy's own connection
//! pool (the operator guide says so); `total` still bounds the process.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Most open connections from one IP.
    pub per_ip: usize,
    /// Most open connections in all.
    pub total: usize,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnRefusal {
    /// Its IP has `per_ip` connections open.
    PerIp,
    /// The gateway has `total` connections open.
    Total,
}

impl ConnRefusal {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            ConnRefusal::PerIp => "per_ip",
            ConnRefusal::Total => "total",
        }
    }
}

/// The open connections.
pub struct Conns {
    limits: ConnLimits,
    state: Mutex<State>,
    refused_per_ip: AtomicU64,
    refused_total: AtomicU64,
    /// A flood of refusals writes a line a second, not a line each.
    log: super::LogThrottle,
}

#[derive(Default)]
struct State {
    by_ip: HashMap<IpAddr, usize>,
    total: usize,
}

/// One counted connection; dropping it releases the count.
pub struct ConnSlot {
    conns: Arc<Conns>,
    ip: IpAddr,
}

impl Conns {
    /// No connection open yet.
    pub fn new(limits: ConnLimits) -> Arc<Self> {
        Arc::new(Conns {
            limits,
            state: Mutex::new(State::default()),
            refused_per_ip: AtomicU64::new(0),
            refused_total: AtomicU64::new(0),
            log: super::LogThrottle::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a new connection from `ip`, or refuses it (counted in the
    /// metrics and logged, at most once a second).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnSlot, ConnRefusal> {
        let ip = super::client_key(ip);
        let refusal = {
            let mut state = self.lock();
            let from_ip = state.by_ip.get(&ip).copied().unwrap_or(0);
            if state.total >= self.limits.total {
                Some(ConnRefusal::Total)
            } else if from_ip >= self.limits.per_ip {
                Some(ConnRefusal::PerIp)
            } else {
                state.total += 1;
                state.by_ip.insert(ip, from_ip + 1);
                None
            }
        };
        match refusal {
            None => Ok(ConnSlot { conns: self.clone(), ip }),
            Some(refusal) => {
                match refusal {
                    ConnRefusal::PerIp => &self.refused_per_ip,
                    ConnRefusal::Total => &self.refused_total,
                }
                .fetch_add(1, Ordering::Relaxed);
                self.log_refusal(ip, refusal);
                Err(refusal)
            }
        }
    }

    fn log_refusal(&self, ip: IpAddr, refusal: ConnRefusal) {
        let Some(also) = self.log.allow() else { return };
        let limits = self.limits;
        tracing::warn!(%ip, limit = refusal.label(), per_ip = limits.per_ip, total = limits.total,
            refused_since_last_line = also, "connection refused: too many open connections");
    }

    fn release(&self, ip: IpAddr) {
        let mut state = self.lock();
        state.total = state.total.saturating_sub(1);
        if let Some(n) = state.by_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                state.by_ip.remove(&ip);
            }
        }
    }

    /// Open connections in all.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Refused connections by reason, for the metrics.
    pub fn refused(&self) -> [(ConnRefusal, u64); 2] {
        [
            (ConnRefusal::PerIp, self.refused_per_ip.load(Ordering::Relaxed)),
            (ConnRefusal::Total, self.refused_total.load(Ordering::Relaxed)),
        ]
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.conns.release(self.ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_and_total_limits() {
        let conns = Conns::new(ConnLimits { per_ip: 2, total: 3 });
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let c: IpAddr = "127.0.0.3".parse().unwrap();
        let a1 = conns.admit(a).unwrap();
        let _a2 = conns.admit(a).unwrap();
        assert_eq!(conns.admit(a).err(), Some(ConnRefusal::PerIp));
        let _b1 = conns.admit(b).unwrap();
        assert_eq!(conns.admit(c).err(), Some(ConnRefusal::Total));
        assert_eq!(conns.open(), 3);
        drop(a1);
        assert_eq!(conns.open(), 2);
        let _a3 = conns.admit(a).unwrap();
        assert_eq!(conns.refused().map(|(_, n)| n), [1, 1]);
    }
}
