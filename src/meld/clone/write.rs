//! Local writes (wire doc §10): a new operation at the next tick of our
//! clock, applied and journaled atomically, and broadcast.

use std::time::Instant;

use super::{CloneError, Liveness, MeldClone, Output};
use crate::meld::clock::TickTree;
use crate::meld::dataset::{Entailments, JournalAppend, JournalState};
use crate::meld::error::Error;
use crate::meld::op::{MeldOperation, OperationMessage};
use crate::meld::term::{TidPatch, TidSet, Triple};

impl MeldClone {
    /// Deletes `deletes` (every TID each currently has; absent triples are
    /// skipped) and inserts `inserts`, as one operation. Returns the outputs
    /// (the broadcast, if online) and whether anything changed: an empty
    /// write makes no operation.
    pub fn write(
        &mut self,
        deletes: &[Triple],
        inserts: &[Triple],
        now: Instant,
    ) -> Result<(Vec<Output>, bool), CloneError> {
        let time = self.state.time.ticked();
        let tid = time.hash();
        let mut patch = TidPatch::default();
        for triple in deletes {
            if let Some(stored) = self.dataset.get(triple)?
                && !stored.tids.is_empty()
            {
                patch.deletes.push((stored.triple, stored.tids));
            }
        }
        for triple in inserts {
            patch.inserts.push((triple.clone(), TidSet::from([tid.clone()])));
        }
        if patch.is_empty() {
            return Ok((Vec::new(), false));
        }
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
        self.dataset.apply(op.patch(), &Entailments::default(), &append)?;
        self.state = new_state;
        self.applied(before, op.patch());
        let mut out = Vec::new();
        // Offline, the write reaches the domain when we next recover
        // (re-broadcast of entries the collaborator has not seen)
        if self.liveness == Liveness::Live {
            let msg = OperationMessage { prev: prev.0, enc: op.enc().to_vec(), attr: None };
            out.push(Output::Operation(msg.encode()?));
        }
        let _ = now;
        Ok((out, true))
    }
}
