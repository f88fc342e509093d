//! TreeClock: m-ld's causal clock (wire doc §5.1–5.3). A binary tree of tick
//! counts whose single ID leaf is the owning process; forking a clock splits
//! that leaf between two processes. The algorithms mirror `clocks.ts` of the
//! JS engine node for node, because peers compare and hash these trees: any
//! difference (even where JS is odd, e.g. forks dropped on rewind) becomes a
//! different TID or a causality mistake between clones.
//!
//! Trees are immutable and share branches through `Arc`, as JS shares them.

use std::sync::Arc;

use super::error::Error;
use super::msgpack;

mod json;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

/// Deepest clock JSON accepted, the same bound as msgpack nesting.
pub const MAX_CLOCK_DEPTH: usize = msgpack::MAX_DEPTH;

/// Tick structure shared by [`TreeClock`] and [`GlobalClock`](super::GlobalClock):
/// the operations that only look at ticks and forks work across both.
pub trait TickTree: Sized {
    /// Ticks held at this node itself.
    fn local_ticks(&self) -> u64;

    /// The two branches, if this node is a fork.
    fn branches(&self) -> Option<(&Self, &Self)>;

    /// Sum of all ticks in this (sub)tree.
    fn deep_ticks(&self) -> u64 {
        match self.branches() {
            Some((l, r)) => self.local_ticks().saturating_add(l.deep_ticks()).saturating_add(r.deep_ticks()),
            None => self.local_ticks(),
        }
    }

    /// Does `other` have anything this has not seen? Where either side is a
    /// leaf, whole subtrees are compared by their total ticks.
    fn any_lt<O: TickTree>(&self, other: &O) -> bool {
        match (self.branches(), other.branches()) {
            (Some((l, r)), Some((ol, or))) => l.any_lt(ol) || r.any_lt(or),
            _ => self.deep_ticks() < other.deep_ticks(),
        }
    }

    /// The ticks this tree holds for `filter`'s process: e.g. "how many of my
    /// ticks has the requester seen" or "my last public tick" (on a GWC).
    fn get_ticks(&self, filter: &TreeClock) -> Result<u64, Error> {
        ticks_at(Some(self), Some(filter)).ok_or(Error::NoId)
    }
}

/// `getTicks` with JS's buds: `None` stands for a missing branch, a leaf
/// with no ticks (and, for the filter, no ID).
fn ticks_at<T: TickTree>(this: Option<&T>, filter: Option<&TreeClock>) -> Option<u64> {
    let this_deep = || this.map_or(0, TickTree::deep_ticks);
    if filter.is_some_and(TreeClock::is_id) {
        return Some(this_deep());
    }
    let this_fork = this.and_then(TickTree::branches);
    let filter_fork = filter.and_then(TickTree::branches);
    if this_fork.is_none() && filter_fork.is_none() {
        return None;
    }
    let left = ticks_at(this_fork.map(|f| f.0), filter_fork.map(|f| f.0));
    let right = ticks_at(this_fork.map(|f| f.1), filter_fork.map(|f| f.1));
    if left.is_none() && right.is_none() {
        return None;
    }
    let local = this.map_or(0, TickTree::local_ticks);
    Some(local.saturating_add(left.unwrap_or(0)).saturating_add(right.unwrap_or(0)))
}

/// A process's causal clock.
///
/// Equality is structural (JS `equals`): it tells `[3,[],0]` from `[3]`,
/// which the [hash](TreeClock::hash) does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeClock {
    local: u64,
    part: Part,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// A leaf; `true` for the ID leaf.
    Leaf(bool),
    Fork(Arc<(TreeClock, TreeClock)>),
}

/// A non-ID leaf with no ticks: JS's `HALLOWS`, used as the missing branch
/// where one tree forks and the other does not.
static HALLOWS: TreeClock = TreeClock { local: 0, part: Part::Leaf(false) };

impl TickTree for TreeClock {
    fn local_ticks(&self) -> u64 {
        self.local
    }

    fn branches(&self) -> Option<(&Self, &Self)> {
        match &self.part {
            Part::Fork(f) => Some((&f.0, &f.1)),
            Part::Leaf(_) => None,
        }
    }
}

impl TreeClock {
    /// The first clock of a domain: an ID leaf with no ticks (`[]`).
    pub fn genesis() -> Self {
        Self::leaf(true, 0)
    }

    fn leaf(is_id: bool, ticks: u64) -> Self {
        TreeClock { local: ticks, part: Part::Leaf(is_id) }
    }

    fn fork(local: u64, left: TreeClock, right: TreeClock) -> Self {
        TreeClock { local, part: Part::Fork(Arc::new((left, right))) }
    }

    /// Left branch, or a zero non-ID bud if this is a leaf.
    fn left_bud(&self) -> &TreeClock {
        self.branches().map_or(&HALLOWS, |f| f.0)
    }

    /// Right branch, or a zero non-ID bud if this is a leaf.
    fn right_bud(&self) -> &TreeClock {
        self.branches().map_or(&HALLOWS, |f| f.1)
    }

    /// `true` if this node is the ID leaf.
    pub fn is_id(&self) -> bool {
        matches!(self.part, Part::Leaf(true))
    }

    /// `true` if the ID leaf is somewhere in this tree.
    pub fn has_id(&self) -> bool {
        match &self.part {
            Part::Leaf(is_id) => *is_id,
            Part::Fork(f) => f.0.has_id() || f.1.has_id(),
        }
    }

    /// Ticks of this clock's process: the sum along the path to the ID leaf.
    /// `None` if the tree has no ID leaf.
    pub fn ticks(&self) -> Option<u64> {
        match &self.part {
            Part::Leaf(true) => Some(self.local),
            Part::Leaf(false) => None,
            Part::Fork(f) => match (f.0.ticks(), f.1.ticks()) {
                (None, None) => None,
                (l, r) => Some(self.local.saturating_add(l.unwrap_or(0)).saturating_add(r.unwrap_or(0))),
            },
        }
    }

    /// Ticks of every other process together; `None` if there are none.
    /// As in JS, zero ticks under a fork count as none (a fork is no event).
    pub fn non_id_ticks(&self) -> Option<u64> {
        match &self.part {
            Part::Leaf(false) => Some(self.local),
            Part::Leaf(true) => None,
            Part::Fork(f) => {
                let (l, r) = (f.0.non_id_ticks(), f.1.non_id_ticks());
                if l.unwrap_or(0) > 0 || r.unwrap_or(0) > 0 {
                    Some(self.local.saturating_add(l.unwrap_or(0)).saturating_add(r.unwrap_or(0)))
                } else {
                    None
                }
            }
        }
    }

    /// Is this a just-forked ID with no ticks of its own (so it shares its
    /// parent's hash)?
    pub fn is_zero_id(&self) -> bool {
        match &self.part {
            Part::Leaf(is_id) => *is_id && self.local == 0,
            Part::Fork(f) => f.0.is_zero_id() || f.1.is_zero_id(),
        }
    }

    /// The next time of this process (its ticks + 1).
    pub fn ticked(&self) -> TreeClock {
        match self.ticks() {
            Some(t) => self.ticked_to(t.saturating_add(1)),
            None => self.clone(),
        }
    }

    /// This clock with its own process's ticks set to `ticks` (rewinding is
    /// allowed, and drops forks below the new time).
    pub fn ticked_to(&self, ticks: u64) -> TreeClock {
        // Setting our own process cannot be ambiguous: our ID position is
        // always a leaf in our own tree, so the error branch is unreachable.
        set_ticks(self, ticks, self).unwrap_or_else(|_| self.clone())
    }

    /// This clock with `process`'s ticks set to `process`'s own ticks, e.g.
    /// to rewind a remote process to its GWC time.
    pub fn ticked_by(&self, process: &TreeClock) -> Result<TreeClock, Error> {
        match process.ticks() {
            Some(t) => set_ticks(self, t, process),
            None => Ok(self.clone()),
        }
    }

    /// Splits our ID leaf into two fresh processes: `(ours, theirs)` with
    /// the ID on the left and on the right respectively.
    pub fn forked(&self) -> Result<(TreeClock, TreeClock), Error> {
        forked(self).ok_or(Error::NoId)
    }

    /// Issues a clock for a new clone (JS `takeSnapshot`, §5.2): forks at the
    /// last public tick, then re-applies our internal ticks on our branch.
    /// Returns `(our new clock, their clock)`.
    pub fn snapshot_fork(&self, last_public: u64) -> Result<(TreeClock, TreeClock), Error> {
        let ticks = self.ticks().ok_or(Error::NoId)?;
        let (ours, theirs) = self.ticked_to(last_public).forked()?;
        Ok((ours.ticked_to(ticks), theirs))
    }

    /// Joins `other`'s knowledge into this clock; the ID stays ours. `other`
    /// may be a GlobalClock (only its ticks are used).
    pub fn update<O: TickTree>(&self, other: &O) -> Result<TreeClock, Error> {
        if self.is_id() {
            if other.branches().is_some() {
                return Err(Error::OverlappingFork);
            }
            return Ok(Self::leaf(true, self.local.max(other.local_ticks())));
        }
        let local = self.local.max(other.local_ticks());
        match other.branches() {
            None => Ok(TreeClock { local, part: self.part.clone() }),
            Some((ol, or)) => Ok(Self::fork(local, self.left_bud().update(ol)?, self.right_bud().update(or)?)),
        }
    }

    /// Has `other` seen ticks of third parties that we have not? Our ID is
    /// excluded on our side and the sender's ID on its side.
    pub fn any_non_id_lt(&self, other: &TreeClock) -> bool {
        match (self.branches(), other.branches()) {
            (Some((l, r)), Some((ol, or))) => l.any_non_id_lt(ol) || r.any_non_id_lt(or),
            _ => match (self.non_id_ticks(), other.non_id_ticks()) {
                (Some(a), Some(b)) => a < b,
                _ => false,
            },
        }
    }
}

/// JS `_ticked(ticks, process)` on `node`.
fn set_ticks(node: &TreeClock, ticks: u64, process: &TreeClock) -> Result<TreeClock, Error> {
    if !process.has_id() {
        return Ok(node.clone());
    }
    if ticks < node.local {
        // Rewinding past this node: any fork here is dropped.
        return Ok(TreeClock::leaf(node.has_id(), ticks));
    }
    if process.is_id() {
        return match node.branches() {
            // We cannot tell which of our branches is the process.
            Some(_) if ticks > node.local => Err(Error::AmbiguousTicks),
            Some((l, r)) => Ok(TreeClock::fork(node.local, l.ticked_to(0), r.ticked_to(0))),
            None => Ok(TreeClock::leaf(node.is_id(), ticks)),
        };
    }
    let rest = ticks - node.local;
    Ok(TreeClock::fork(
        node.local,
        set_ticks(node.left_bud(), rest, process.left_bud())?,
        set_ticks(node.right_bud(), rest, process.right_bud())?,
    ))
}

/// JS `_forked`: the first ID leaf (depth first, left first) becomes a fork.
fn forked(node: &TreeClock) -> Option<(TreeClock, TreeClock)> {
    match &node.part {
        Part::Leaf(true) => Some((
            TreeClock::fork(node.local, TreeClock::genesis(), HALLOWS.clone()),
            TreeClock::fork(node.local, HALLOWS.clone(), TreeClock::genesis()),
        )),
        Part::Leaf(false) => None,
        Part::Fork(f) => {
            let (l, r) = (&f.0, &f.1);
            if let Some((a, b)) = forked(l) {
                Some((TreeClock::fork(node.local, a, r.clone()), TreeClock::fork(node.local, b, r.clone())))
            } else {
                let (a, b) = forked(r)?;
                Some((TreeClock::fork(node.local, l.clone(), a), TreeClock::fork(node.local, l.clone(), b)))
            }
        }
    }
}
