//! Domains that use what this engine cannot apply (wire doc §11.2, §11.5,
//! §11.6): shared datatypes (TSeq operations in `update[2]`), encrypted
//! operations (encoding 3), and agreements concurrent with operations
//! already applied (which JS resolves by voiding them). The clone goes on
//! applying what it can, but its state is then not the domain's, so it
//! refuses to be the source of a new clone's state (snapshots), and, where
//! its journal is incomplete or wrong too, of a returning clone's (revups),
//! with a logged error rather than serving a wrong state. The mark is
//! persisted with the dataset's generation, so a restart does not forget
//! it (only replacing the whole dataset would drop it).

use super::{CloneError, MeldClone};

/// A feature of the domain this engine cannot apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    /// Shared datatype operations: the indirected data goes stale.
    SharedDatatypes,
    /// Encrypted operations: not applied, not journaled.
    Encryption,
    /// An agreement that needed concurrent operations voided.
    AgreementVoiding,
}

impl Unsupported {
    const ALL: [Unsupported; 3] =
        [Unsupported::SharedDatatypes, Unsupported::Encryption, Unsupported::AgreementVoiding];

    /// The stored form.
    fn code(self) -> &'static str {
        match self {
            Unsupported::SharedDatatypes => "shared-datatypes",
            Unsupported::Encryption => "encryption",
            Unsupported::AgreementVoiding => "agreement-voiding",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.code() == code)
    }

    /// What went wrong, for logs.
    pub fn describe(self) -> &'static str {
        match self {
            Unsupported::SharedDatatypes => {
                "the domain uses shared datatypes (e.g. TSeq text), whose operations this engine does not apply"
            }
            Unsupported::Encryption => {
                "the domain encrypts its operations (transport security), which this engine cannot read"
            }
            Unsupported::AgreementVoiding => {
                "an agreement (@agree) arrived concurrent with applied operations, which this engine cannot void"
            }
        }
    }

    /// Whether revup answers (journal replays) would be wrong too. A TSeq
    /// domain's journal holds its operations whole; the others' do not.
    pub fn spoils_revups(self) -> bool {
        !matches!(self, Unsupported::SharedDatatypes)
    }
}

impl MeldClone {
    /// Why this clone's state is not to be served, if it is not.
    pub fn unsupported(&self) -> Option<Unsupported> {
        self.unsupported
    }

    /// Reads the persisted mark (open).
    pub(super) fn load_unsupported(dataset: &crate::meld::Dataset) -> Result<Option<Unsupported>, CloneError> {
        Ok(dataset.unsupported()?.and_then(|code| Unsupported::from_code(&code)))
    }

    /// Marks the domain as using `what`; logs it the first time.
    pub(super) fn flag_unsupported(&mut self, what: Unsupported) -> Result<(), CloneError> {
        let worse = match self.unsupported {
            None => true,
            Some(now) => !now.spoils_revups() && what.spoils_revups(),
        };
        if worse {
            tracing::error!(
                domain = %self.ctx.base(),
                reason = what.describe(),
                "backup clone can no longer serve this domain's state: snapshot{} requests will be refused",
                if what.spoils_revups() { " and revup" } else { "" }
            );
            self.dataset.mark_unsupported(what.code())?;
            self.unsupported = Some(what);
        }
        Ok(())
    }
}
