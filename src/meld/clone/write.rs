//! Local writes (wire doc §10): a new operation at the next tick of our
//! clock, applied and journaled atomically, and broadcast. The default
//! list's resolutions (wire doc §11.3) go out the same way.

use std::time::Instant;

use super::{CloneError, Liveness, MeldClone, Output};
use crate::meld::clock::{TickTree, TreeClock};
use crate::meld::dataset::{JournalAppend, JournalState};
use crate::meld::error::Error;
use crate::meld::jsonld::JRQL_INDEX;
use crate::meld::list;
use crate::meld::op::{MeldOperation, OperationMessage};
use crate::meld::term::{TidPatch, TidSet, Triple};

impl MeldClone {
    /// Deletes `deletes` (every TID each currently has; absent triples are
    /// skipped) and inserts `inserts`, as one operation. Returns the outputs
    /// (the broadcast, if online) and whether anything changed: an empty
    /// write makes no operation.
    ///
    /// List slot indexes are entailed, never written: `@index` triples in
    /// `inserts` are dropped (JS removes them from writes too). Deleting a
    /// list position deletes its slot too, unless the write moves the slot
    /// to another position (as JS's DefaultList does). If the write
    /// leaves a list slot at two positions or with two items, the default
    /// list's resolution follows as a second operation.
    pub fn write(
        &mut self,
        deletes: &[Triple],
        inserts: &[Triple],
        now: Instant,
    ) -> Result<(Vec<Output>, bool), CloneError> {
        let time = self.state.time.ticked();
        let tid = time.hash();
        let mut deletes = deletes.to_vec();
        deletes.extend(list::cascade(&self.dataset, &deletes, inserts)?);
        let mut patch = self.deletion(&deletes)?;
        for triple in inserts.iter().filter(|t| t.predicate != JRQL_INDEX) {
            patch.inserts.push((triple.clone(), TidSet::from([tid.clone()])));
        }
        if patch.is_empty() {
            return Ok((Vec::new(), false));
        }
        let mut out = Vec::new();
        // Offline, the write reaches the domain when we next recover
        // (re-broadcast of entries the collaborator has not seen)
        let live = self.liveness == Liveness::Live;
        let resolution = self.commit_local(time, patch, live, &mut out)?;
        let next = self.state.time.ticked();
        self.resolve(next, &resolution, live, &mut out)?;
        let _ = now;
        Ok((out, true))
    }

    /// Publishes the default list's resolution of an operation just applied,
    /// as an operation at `time`, a tick of ours not yet used (JS does this
    /// in the same transaction, at the tick it reserved for it); broadcast
    /// if asked, as the operation it resolves was.
    pub(super) fn resolve(
        &mut self,
        time: TreeClock,
        resolution: &[Triple],
        broadcast: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), CloneError> {
        let patch = self.deletion(resolution)?;
        if patch.is_empty() {
            return Ok(());
        }
        tracing::debug!(domain = %self.ctx.base(), deletes = patch.deletes.len(), "publishing list resolution");
        let more = self.commit_local(time, patch, broadcast, out)?;
        // A deletion cannot make a slot appear twice or gain an item
        if !more.is_empty() {
            tracing::warn!(domain = %self.ctx.base(), "list resolution needs resolving again; left to other clones");
        }
        Ok(())
    }

    /// Every TID each triple has (absent ones skipped), as deletes.
    fn deletion(&self, deletes: &[Triple]) -> Result<TidPatch, CloneError> {
        let mut patch = TidPatch::default();
        for triple in deletes {
            if let Some(stored) = self.dataset.get(triple)?
                && !stored.tids.is_empty()
                && !patch.deletes.iter().any(|(t, _)| t == &stored.triple)
            {
                patch.deletes.push((stored.triple, stored.tids));
            }
        }
        Ok(patch)
    }

    /// Applies and journals a local operation at `time`, with its list
    /// entailments; broadcasts it if asked. Returns the list resolution the
    /// operation calls for.
    fn commit_local(
        &mut self,
        time: TreeClock,
        patch: TidPatch,
        broadcast: bool,
        out: &mut Vec<Output>,
    ) -> Result<Vec<Triple>, CloneError> {
        let tid = time.hash();
        let ticks = time.ticks().ok_or(Error::NoId)?;
        let op = MeldOperation::new(&self.ctx, ticks, time.clone(), patch, None, None, None)?;
        let prev = (self.state.gwc.get_ticks(&time)?, self.state.gwc.tid(&time)?.to_owned());
        let new_state = JournalState { time: time.clone(), gwc: self.state.gwc.set(&time)?, ..self.state.clone() };
        let append = JournalAppend {
            local_tick: ticks,
            prev: prev.clone(),
            tid,
            op_bytes: op.enc().to_vec(),
            attribution: None,
            new_state: new_state.clone(),
        };
        let before = self.before(op.patch())?;
        let effects = list::effects(&self.dataset, op.patch())?;
        self.dataset.apply(op.patch(), &effects.entailments, &append)?;
        self.state = new_state;
        self.applied(before, op.patch());
        if broadcast {
            let msg = OperationMessage { prev: prev.0, enc: op.enc().to_vec(), attr: None };
            out.push(Output::Operation(msg.encode()?));
        }
        Ok(effects.resolution)
    }
}
