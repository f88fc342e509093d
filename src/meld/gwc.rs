//! GlobalClock, the "global wall clock" (GWC, wire doc §5.4): the TreeClock
//! shape with a TID on every leaf instead of an ID flag. It records, per
//! process, the latest *public* tick (of an operation actually published)
//! and that operation's TID. Collaborators send it in snapshot and revup
//! responses; requesters use it to find what the collaborator has not seen.

use std::borrow::Cow;
use std::sync::Arc;

use super::clock::{MAX_CLOCK_DEPTH, TickTree, TreeClock};
use super::error::Error;
use super::value::Value;

/// The latest public tick and TID of every process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalClock {
    local: u64,
    part: Part,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// A leaf with its TID; `""` only before genesis is recorded.
    Leaf(String),
    Fork(Arc<(GlobalClock, GlobalClock)>),
}

impl TickTree for GlobalClock {
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

impl Default for GlobalClock {
    fn default() -> Self {
        Self::genesis()
    }
}

impl GlobalClock {
    /// The GWC of a new domain: `[0, "kA=="]`, the genesis time recorded.
    pub fn genesis() -> Self {
        Self::leaf(TreeClock::genesis().hash(), 0)
    }

    fn leaf(tid: String, ticks: u64) -> Self {
        GlobalClock { local: ticks, part: Part::Leaf(tid) }
    }

    /// A missing branch: a leaf with no ticks that inherits this leaf's TID
    /// (a process that has not ticked since the fork has its parent's TID).
    fn bud(&self) -> GlobalClock {
        let tid = match &self.part {
            Part::Leaf(tid) => tid.clone(),
            Part::Fork(_) => String::new(),
        };
        Self::leaf(tid, 0)
    }

    fn left_bud(&self) -> Cow<'_, GlobalClock> {
        self.branches().map_or_else(|| Cow::Owned(self.bud()), |f| Cow::Borrowed(f.0))
    }

    fn right_bud(&self) -> Cow<'_, GlobalClock> {
        self.branches().map_or_else(|| Cow::Owned(self.bud()), |f| Cow::Borrowed(f.1))
    }

    /// Records an operation at `time`, with the TID `time.hash()`.
    pub fn set(&self, time: &TreeClock) -> Result<GlobalClock, Error> {
        self.set_tid(time, &time.hash())
    }

    /// Records `time`'s process as having last published `tid` at `time`.
    /// A time forked at different local ticks than ours comes from another
    /// process group and is refused.
    pub fn set_tid(&self, time: &TreeClock, tid: &str) -> Result<GlobalClock, Error> {
        if time.is_id() {
            return Ok(Self::leaf(tid.to_owned(), time.local_ticks()));
        }
        if !time.has_id() {
            return Ok(self.clone());
        }
        if self.local != time.local_ticks() {
            return Err(Error::DifferentProcessGroup);
        }
        // A time with an ID below a leaf is a fork, so branches exist.
        let (tl, tr) = time.branches().ok_or(Error::NoId)?;
        Ok(GlobalClock {
            local: self.local,
            part: Part::Fork(Arc::new((self.left_bud().set_tid(tl, tid)?, self.right_bud().set_tid(tr, tid)?))),
        })
    }

    /// The TID at `time`'s ID position: the last operation of that process.
    pub fn tid(&self, time: &TreeClock) -> Result<&str, Error> {
        tid_at(self, time).ok_or(Error::GlobalClockInFuture)
    }

    /// All leaf TIDs, left to right (empty ones skipped).
    pub fn tids(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_tids(&mut out);
        out
    }

    fn collect_tids<'a>(&'a self, out: &mut Vec<&'a str>) {
        match &self.part {
            Part::Leaf(tid) if !tid.is_empty() => out.push(tid),
            Part::Leaf(_) => {}
            Part::Fork(f) => {
                f.0.collect_tids(out);
                f.1.collect_tids(out);
            }
        }
    }

    /// JSON form: leaf `[ticks, tid]`, fork `[ticks, [left, right]]`.
    pub fn to_json(&self) -> Value {
        let rest = match &self.part {
            Part::Leaf(tid) => Value::from(tid.as_str()),
            Part::Fork(f) => Value::Array(vec![f.0.to_json(), f.1.to_json()]),
        };
        Value::Array(vec![Value::from(self.local), rest])
    }

    /// Parses the JSON form.
    pub fn from_json(json: &Value) -> Result<GlobalClock, Error> {
        from_json(json, 0)
    }
}

/// JS `_tid`: descends both trees; a GWC leaf stands for buds that all carry
/// its TID, so below it any ID position resolves to that TID.
fn tid_at<'a>(node: &'a GlobalClock, time: &TreeClock) -> Option<&'a str> {
    match &node.part {
        Part::Leaf(tid) => time.has_id().then_some(tid.as_str()),
        // An ID leaf facing a fork: JS reads the fork's (absent) value.
        Part::Fork(_) if time.is_id() => None,
        Part::Fork(f) => {
            // A time leaf facing our fork holds no ID below here.
            let (tl, tr) = time.branches()?;
            tid_at(&f.0, tl).or_else(|| tid_at(&f.1, tr))
        }
    }
}

fn from_json(json: &Value, depth: usize) -> Result<GlobalClock, Error> {
    if depth > MAX_CLOCK_DEPTH {
        return Err(Error::BadGlobalClockJson("too deep"));
    }
    let [ticks, rest] =
        json.as_array().and_then(|a| <&[Value; 2]>::try_from(a).ok()).ok_or(Error::BadGlobalClockJson("not a pair"))?;
    let local = ticks.as_u64().ok_or(Error::BadGlobalClockJson("ticks must be a non-negative integer"))?;
    match rest {
        Value::Str(tid) => Ok(GlobalClock::leaf(tid.clone(), local)),
        Value::Array(halves) => match halves.as_slice() {
            [l, r] => Ok(GlobalClock {
                local,
                part: Part::Fork(Arc::new((from_json(l, depth + 1)?, from_json(r, depth + 1)?))),
            }),
            _ => Err(Error::BadGlobalClockJson("fork must have two halves")),
        },
        _ => Err(Error::BadGlobalClockJson("neither TID nor fork")),
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::meld::vectors::{field, rows};

    #[test]
    fn every_gwc_vector() {
        let rows = rows("gwc.jsonl");
        assert_eq!(rows.len(), 11);
        let mut gwc = GlobalClock::genesis();
        for row in &rows {
            let note = field(row, "note").as_str().unwrap_or("?");
            if let Some(time) = row.as_object().and_then(|o| o.get("time")) {
                let time = TreeClock::from_json(time).expect("time");
                assert_eq!(Some(time.hash().as_str()), field(row, "timeHash").as_str());
                gwc = gwc.set(&time).expect("set");
                let ticks = gwc.get_ticks(&time).expect("ticks");
                assert_eq!(Some(ticks), field(row, "getTicksOfTime").as_u64(), "{note}");
                assert_eq!(Some(gwc.tid(&time).expect("tid")), field(row, "tidOfTime").as_str());
            }
            let json = field(row, "json");
            assert_eq!(&gwc.to_json(), json, "{note}");
            assert_eq!(GlobalClock::from_json(json).as_ref(), Ok(&gwc), "{note}");
            let tids: Vec<Value> = gwc.tids().into_iter().map(Value::from).collect();
            assert_eq!(&Value::Array(tids), field(row, "tids"), "{note}");
        }
    }

    #[test]
    fn refusals() {
        let gwc = GlobalClock::genesis();
        // Forked at 3 ticks while our GWC has 0 there: another process group.
        let time = TreeClock::from_json(&Value::Array(vec![
            Value::from(3u32),
            Value::Array(vec![Value::from(1u32)]),
            Value::from(0u32),
        ]))
        .expect("time");
        assert_eq!(gwc.set(&time), Err(Error::DifferentProcessGroup));
        // A GWC leaf answers for every ID below it (the bud inherits its TID).
        assert_eq!(gwc.tid(&time), Ok("kA=="));
        for bad in [r#"[1]"#, r#"[-1,"x"]"#, r#"[0,[[0,"a"]]]"#, r#"[0,3]"#, r#""x""#] {
            let v: Value = serde_json::from_str(bad).expect("json");
            assert!(GlobalClock::from_json(&v).is_err(), "{bad}");
        }
    }
}
