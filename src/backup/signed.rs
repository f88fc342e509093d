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

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::accounts::SubdomainRecord;
use crate::auth::signature::{PublicKey, SignatureError, SignerKeys, split_signature};
use crate::meld::jsonld::describe;
use crate::meld::{Admit, Context, MeldOperation, OperationMessage, Term, Triple, Value};

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
        let side = |triples: Vec<&Triple>| Value::Array(subjects(&self.ctx, triples));
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

/// Triples grouped into subjects in order of first appearance, as reads
/// render them.
fn subjects(ctx: &Context, triples: Vec<&Triple>) -> Vec<Value> {
    let mut order: Vec<(&Term, Vec<&Triple>)> = Vec::new();
    let mut index: HashMap<&Term, usize> = HashMap::new();
    for t in triples {
        let i = *index.entry(&t.subject).or_insert_with(|| {
            order.push((&t.subject, Vec::new()));
            order.len() - 1
        });
        if let Some((_, group)) = order.get_mut(i) {
            group.push(t);
        }
    }
    order.into_iter().map(|(subject, group)| describe(ctx, subject, group)).collect()
}
