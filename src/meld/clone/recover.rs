//! Recovering as a requester (wire doc §4.3, §4.4, §9.5): revup from a
//! present clone, trying each in presence order; re-broadcast the journal
//! entries the collaborator has not seen; apply its updates stream; then go
//! live. A clone with a journal always goes live in the end, even if nobody
//! could answer (as JS does): it still holds everything it had.

use std::time::Instant;

use super::collaborate::is_ack;
use super::{CloneError, Liveness, MeldClone, NETWORK_TIMEOUT, Output, Params};
use crate::meld::control::{ACK, Control, Notification};

/// An ongoing recovery.
pub(super) struct Recovery {
    /// Collaborators asked so far in this recovery.
    tried: Vec<String>,
    /// The one being asked now.
    collaborator: String,
    stage: Stage,
    deadline: Instant,
}

enum Stage {
    /// Request sent with this message id.
    AwaitingResponse(String),
    /// ACK sent; consuming this channel.
    Streaming(String),
}

impl Recovery {
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl MeldClone {
    /// Starts (or restarts) a revup with the first present clone not tried.
    pub(super) fn start_recovery(&mut self, now: Instant, out: &mut Vec<Output>) {
        let tried = self.recovery.take().map(|r| r.tried).unwrap_or_default();
        self.ask_next(tried, now, out);
    }

    fn ask_next(&mut self, mut tried: Vec<String>, now: Instant, out: &mut Vec<Output>) {
        let next = self.presence.iter().find(|id| **id != self.id && !tried.contains(id)).cloned();
        let Some(collaborator) = next else {
            if !tried.is_empty() {
                tracing::info!(domain = %self.ctx.base(), "no clone could rev us up; going live with our own journal");
            }
            if let Err(e) = self.go_live(now, out) {
                tracing::error!(domain = %self.ctx.base(), error = %e, "cannot deliver buffered operations");
            }
            return;
        };
        self.liveness = Liveness::Recovering;
        let request_id = self.ids.next();
        let params = Params {
            from_id: self.id.clone(),
            to_id: collaborator.clone(),
            message_id: Some(request_id.clone()),
            ..Params::default()
        };
        match (Control::RevupRequest { time: self.state.time.clone() }).encode() {
            Ok(payload) => out.push(Output::Send(params, payload)),
            Err(e) => tracing::error!(domain = %self.ctx.base(), error = %e, "cannot encode a revup request"),
        }
        tried.push(collaborator.clone());
        self.recovery = Some(Recovery {
            tried,
            collaborator,
            stage: Stage::AwaitingResponse(request_id),
            deadline: now + NETWORK_TIMEOUT,
        });
    }

    /// Nothing in time from the collaborator: try the next one.
    pub(super) fn recovery_timed_out(&mut self, now: Instant, out: &mut Vec<Output>) -> Result<(), CloneError> {
        if let Some(recovery) = self.recovery.take() {
            tracing::debug!(domain = %self.ctx.base(), collaborator = %recovery.collaborator, "revup timed out");
            self.ask_next(recovery.tried, now, out);
        }
        Ok(())
    }

    /// A `reply` addressed to us: an ACK of one of our responses, or the
    /// response to our revup request.
    pub(super) fn on_reply(
        &mut self,
        params: Params,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) -> Result<(), CloneError> {
        if is_ack(payload) {
            return self.on_ack(&params, now, out);
        }
        let Some(recovery) = &self.recovery else { return Ok(()) };
        let ours =
            matches!(&recovery.stage, Stage::AwaitingResponse(id) if Some(id) == params.sent_message_id.as_ref());
        if !ours || params.from_id != recovery.collaborator {
            return Ok(()); // a late answer to an abandoned request
        }
        match Control::decode(payload) {
            Ok((Control::RevupResponse { gwc: Some(gwc), updates_address }, _)) => {
                out.push(Output::Reply(Params::reply_to(&params, self.ids.next()), ACK.to_vec()));
                // Our entries the collaborator has not seen, e.g. writes made
                // while it could not hear us
                for msg in self.operations_since(&gwc)? {
                    out.push(Output::Operation(msg));
                }
                if let Some(recovery) = &mut self.recovery {
                    recovery.stage = Stage::Streaming(updates_address);
                    recovery.deadline = now + NETWORK_TIMEOUT;
                }
            }
            Ok((response, _)) => {
                tracing::debug!(domain = %self.ctx.base(), from = %params.from_id, ?response, "revup refused");
                self.recovery_timed_out(now, out)?;
            }
            Err(e) => {
                tracing::warn!(domain = %self.ctx.base(), from = %params.from_id, error = %e, "bad revup response");
                self.recovery_timed_out(now, out)?;
            }
        }
        Ok(())
    }

    /// A `notify` addressed to us: an item of our recovery's updates stream.
    pub(super) fn on_notify(
        &mut self,
        params: Params,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) -> Result<(), CloneError> {
        let Some(recovery) = &mut self.recovery else { return Ok(()) };
        let ours = matches!(&recovery.stage, Stage::Streaming(channel) if Some(channel) == params.channel_id.as_ref());
        if !ours {
            return Ok(());
        }
        recovery.deadline = now + NETWORK_TIMEOUT;
        match Notification::decode(payload) {
            Ok(Notification::Next(bytes)) => self.receive(&bytes, now, out)?,
            Ok(Notification::Complete) => {
                tracing::debug!(domain = %self.ctx.base(), "revup complete");
                self.go_live(now, out)?;
            }
            Ok(Notification::Error(e)) => {
                tracing::debug!(domain = %self.ctx.base(), error = ?e, "revup stream failed");
                self.recovery_timed_out(now, out)?;
            }
            Err(e) => {
                tracing::warn!(domain = %self.ctx.base(), error = %e, "bad notification");
                self.recovery_timed_out(now, out)?;
            }
        }
        Ok(())
    }
}
