//! Signed updates on `useSignatures` subdomains: the backup clone admits an
//! operation only if its `attr` names a recorded signer as principal and
//! carries that signer's valid signature of the `enc` bytes. Everything
//! else is refused (see [`Admit`]) and logged on the `audit` target.
//!
//! The signers live in the subdomain's record; the clone thread and the
//! `Backups` handle share one [`Signers`], which a `PUT` adding a user
//! refreshes, so new users count without a restart.
//!
//! Each admitted operation is logged at info, as the Node gateway does:
//! `<account>/<subdomain> USER <user IRI> <update JSON>`, where the JSON is
//! the operation's own content, `{"@delete": [subjects], "@insert":
//! [subjects]}` under the domain context (what the user signed, including
//! deletes of triples this clone may not hold; not the visible change).

use std::sync::{Arc, RwLock};

use crate::accounts::SubdomainRecord;
use crate::auth::signature::{PublicKey, SignatureError, SignerKeys, split_signature};
use crate::meld::{Admit, Context, MeldOperation, OperationMessage, Triple, Value};

/// The signing keys of one subdomain, shared with its clone thread.
#[derive(Clone, Default)]
pub(super) struct Signers(Arc<RwLock<SignerKeys>>);

impl Signers {
    /// Replaces the keys with those of `record`. A stored key that does not
    /// parse (it was validated before it was stored) is left out, loudly.
    pub(super) fn load(&self, record: &SubdomainRecord) {
        let mut keys = SignerKeys::new();
        for signer in &record.signers {
            match PublicKey::from_base64_spki(&signer.public) {
                Ok(key) => keys.insert(&signer.keyid, &signer.user, key),
                Err(e) => tracing::error!(keyid = %signer.keyid, error = %e, "stored signing key unreadable; ignored"),
            }
        }
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = keys;
    }

    fn verify<'s>(&self, data: &[u8], pid: &str, sig: &'s [u8]) -> Result<&'s str, SignatureError> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).verify(data, pid, sig)
    }
}

/// The [`Admit`] of a `useSignatures` subdomain's backup clone.
pub(super) struct SignatureCheck {
    /// `<account>/<subdomain>`, for logs.
    label: String,
    /// The domain context, to render admitted updates.
    ctx: Context,
    signers: Signers,
}

impl SignatureCheck {
    pub(super) fn new(label: String, domain: &str, signers: Signers) -> Self {
        SignatureCheck { label, ctx: Context::domain(domain), signers }
    }

    fn update_json(&self, op: &MeldOperation) -> String {
        let patch = op.patch();
        let side = |triples: Vec<&Triple>| Value::Array(crate::meld::jsonld::describe_all(&self.ctx, triples));
        let mut o = crate::meld::Object::new();
        o.insert("@delete", side(patch.deletes.iter().map(|(t, _)| t).collect()));
        o.insert("@insert", side(patch.inserts.iter().map(|(t, _)| t).collect()));
        serde_json::to_string(&Value::Map(o)).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl Admit for SignatureCheck {
    fn admit(&mut self, msg: &OperationMessage, op: &MeldOperation) -> bool {
        let (pid, sig) = match &msg.attr {
            Some(attr) => (attr.pid.as_str(), attr.sig.as_slice()),
            None => ("", &[][..]),
        };
        let verdict =
            if msg.attr.is_none() { Err(SignatureError::Unsigned) } else { self.signers.verify(&msg.enc, pid, sig) };
        match verdict {
            Ok(_) => {
                tracing::info!("{} USER {} {}", self.label, pid, self.update_json(op));
                true
            }
            Err(reason) => {
                // The key id as claimed, never the signature itself
                let keyid = split_signature(sig).map_or("", |(keyid, _)| keyid);
                tracing::warn!(
                    target: "audit",
                    domain = %self.label,
                    pid,
                    keyid,
                    tid = %op.tid(),
                    %reason,
                    "signed update rejected"
                );
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::EncodePublicKey;
    use rsa::sha2::Sha256;
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::{RsaPrivateKey, RsaPublicKey};

    use super::*;
    use crate::accounts::SignerKey;
    use crate::meld::Term;
    use crate::meld::control::{ACK, Control, Notification};
    use crate::meld::{
        Attribution, CloneConfig, Dataset, Input, Literal, MeldClone, Output, Params, TidPatch, TidSet, TreeClock,
    };

    const DOMAIN: &str = "sd.acc.ex.org";
    const ALICE: &str = "http://users.example/alice";

    fn params(from: &str, to: &str, message: &str) -> Params {
        Params { from_id: from.into(), to_id: to.into(), message_id: Some(message.into()), ..Params::default() }
    }

    fn alice_key() -> (SigningKey<Sha256>, SignerKey) {
        let private = RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
        let der = RsaPublicKey::from(&private).to_public_key_der().unwrap();
        let public = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der.as_bytes());
        (SigningKey::new(private), SignerKey { user: ALICE.into(), keyid: "alice1".into(), public })
    }

    /// A remote process forked from the clone by a snapshot, writing
    /// unfused operations, signed or not.
    struct Remote {
        time: TreeClock,
        last_public: u64,
    }

    impl Remote {
        fn write(&mut self, subject: &str, sign: Option<&SigningKey<Sha256>>) -> Vec<u8> {
            let time = self.time.ticked();
            let triple = Triple::new(
                Term::iri(format!("http://{DOMAIN}/{subject}")),
                format!("http://{DOMAIN}/#p"),
                Term::Literal(Literal::new("v", crate::meld::term::XS_STRING)),
            );
            let patch = TidPatch { deletes: vec![], inserts: vec![(triple, TidSet::from([time.hash()]))] };
            let ticks = time.ticks().unwrap();
            let op =
                MeldOperation::new(&Context::operation(DOMAIN), ticks, time.clone(), patch, None, None, None).unwrap();
            let enc = op.enc().to_vec();
            let attr = sign.map(|key| {
                let mut sig = b"alice1:".to_vec();
                sig.extend(key.sign(&enc).to_vec());
                Attribution { pid: ALICE.into(), sig }
            });
            self.time = time;
            self.last_public = ticks;
            OperationMessage { prev: self.last_public - 1, enc, attr }.encode().unwrap()
        }
    }

    fn subjects_of(clone: &MeldClone) -> Vec<String> {
        let mut s: Vec<_> = clone.dataset().triples().map(|t| format!("{:?}", t.unwrap().triple.subject)).collect();
        s.sort();
        s
    }

    #[test]
    fn only_signed_operations_apply_and_their_attribution_is_relayed() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let dataset = Dataset::open(&db, "t").unwrap();
        let mut clone =
            MeldClone::open(dataset, CloneConfig { id: "gw".into(), domain: DOMAIN.into(), genesis: true }).unwrap();
        let (alice, signer) = alice_key();
        let signers = Signers::default();
        clone.set_admit(Box::new(SignatureCheck::new("acc/sd".into(), DOMAIN, signers.clone())));
        let now = Instant::now();
        clone.handle(Input::Presence(vec![]), now).unwrap();
        let request = Control::SnapshotRequest { new_clock: true }.encode().unwrap();
        let out = clone.handle(Input::Send(params("r", "gw", "m1"), request), now).unwrap();
        let [Output::Reply(reply, payload)] = &out[..] else { panic!("{out:?}") };
        let (Control::SnapshotResponse { clock: Some(theirs), .. }, _) = Control::decode(payload).unwrap() else {
            panic!("not a snapshot response")
        };
        let ack = Params { sent_message_id: reply.message_id.clone(), ..params("r", "gw", "m2") };
        clone.handle(Input::Reply(ack, ACK.to_vec()), now).unwrap();
        let mut remote = Remote { time: theirs.clone(), last_public: 0 };

        // Before Alice is a signer her signature counts for nothing
        clone.handle(Input::Operation(remote.write("early", Some(&alice))), now).unwrap();
        assert!(subjects_of(&clone).is_empty());
        let mut record = SubdomainRecord { use_signatures: true, signers: vec![], created: 0, clone_id: "gw".into() };
        record.add_signer(signer).unwrap();
        signers.load(&record);
        let signed = remote.write("signed", Some(&alice));
        clone.handle(Input::Operation(signed.clone()), now).unwrap();
        // Unsigned, and signed over other bytes: refused, not journaled
        clone.handle(Input::Operation(remote.write("unsigned", None)), now).unwrap();
        let mut forged = OperationMessage::decode(&remote.write("forged", Some(&alice))).unwrap();
        forged.enc = OperationMessage::decode(&remote.write("other", None)).unwrap().enc;
        remote.last_public -= 1; // `other` is never sent: forged carries its bytes
        clone.handle(Input::Operation(forged.encode().unwrap()), now).unwrap();
        // The next signed operation follows refused ones without a gap
        let after = remote.write("after", Some(&alice));
        let out = clone.handle(Input::Operation(after.clone()), now).unwrap();
        assert!(out.is_empty(), "no revup: {out:?}");
        let iri = |s: &str| format!("{:?}", Term::iri(format!("http://{DOMAIN}/{s}")));
        assert_eq!(subjects_of(&clone), [iri("after"), iri("signed")]);
        assert_eq!(clone.dataset().entries_after(0).count(), 2, "refused operations are not journaled");

        // A revup answer relays the signed operations byte for byte
        let request = Control::RevupRequest { time: theirs }.encode().unwrap();
        let out = clone.handle(Input::Send(params("x", "gw", "q"), request), now).unwrap();
        let [Output::Reply(reply, _)] = &out[..] else { panic!("{out:?}") };
        let ack = Params { sent_message_id: reply.message_id.clone(), ..params("x", "gw", "a") };
        let out = clone.handle(Input::Reply(ack, ACK.to_vec()), now).unwrap();
        let relayed: Vec<Vec<u8>> = out
            .iter()
            .filter_map(|o| match o {
                Output::Notify(_, payload) => match Notification::decode(payload).unwrap() {
                    Notification::Next(item) => Some(item),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        // (`prev` is the journal's: refused ticks are not public ticks)
        let content = |bytes: &[u8]| {
            let msg = OperationMessage::decode(bytes).unwrap();
            (msg.enc, msg.attr)
        };
        let relayed: Vec<_> = relayed.iter().map(|b| content(b)).collect();
        assert_eq!(relayed, [content(&signed), content(&after)]);
        assert!(relayed.iter().all(|(_, attr)| attr.as_ref().is_some_and(|a| a.pid == ALICE)));
    }
}
