//! LSEQ position identifiers as JS `LseqDef` makes them (radix 36, skew 3,
//! 16-character sites), so that positions this engine allocates for Clone
//! API list inserts are ones JS clones parse and allocate around.
//!
//! A posId is levels of (position, site): level `i` writes its position in
//! base 36, zero-padded to `i + 1` digits, then the site. Plain string
//! order is list order.

use std::fmt;

const RADIX: u128 = 36;
const SKEW: i32 = 3;
const SITE_LENGTH: usize = 16;

/// A posId could not be parsed, or there is no room between two.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LseqError {
    /// Not an LSEQ position identifier.
    #[error("bad LSEQ position identifier: {0}")]
    BadId(String),
    /// Two equal positions.
    #[error("no space between positions")]
    Equal,
}

/// A position: its levels, and the bounds' site-less levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosId {
    ids: Vec<(u128, Option<String>)>,
}

impl PosId {
    /// Below the first position (a new list's lower bound).
    pub fn min() -> Self {
        PosId { ids: vec![(0, None)] }
    }

    /// Above the last position (a new list's upper bound).
    pub fn max() -> Self {
        PosId { ids: vec![(RADIX, None)] }
    }

    /// Reads a posId (JS `LseqDef.parse`).
    pub fn parse(id: &str) -> Result<Self, LseqError> {
        let bad = || LseqError::BadId(id.to_owned());
        let mut ids = Vec::new();
        let (mut start, mut len) = (0, 1);
        while start < id.len() {
            let site_start = start + len;
            let site = id.get(site_start..site_start + SITE_LENGTH).ok_or_else(bad)?;
            let digits = id.get(start..site_start).ok_or_else(bad)?;
            let pos = u128::from_str_radix(digits, RADIX as u32).map_err(|_| bad())?;
            ids.push((pos, Some(site.to_owned())));
            start += len + SITE_LENGTH;
            len += 1;
        }
        match ids.last() {
            Some((pos, _)) if *pos > 0 => Ok(PosId { ids }),
            _ => Err(bad()),
        }
    }

    fn pos(&self, level: usize) -> u128 {
        self.ids.get(level).map_or(0, |(p, _)| *p)
    }

    fn site(&self, level: usize) -> Option<&str> {
        self.ids.get(level).and_then(|(_, s)| s.as_deref())
    }

    /// `count` positions between this and `that`, which must be adjacent
    /// in the list (JS `LseqPosId.between`).
    pub fn between(&self, that: &PosId, site: &str, count: usize) -> Result<Vec<PosId>, LseqError> {
        let levels = self.ids.len().max(that.ids.len());
        for level in 0..levels {
            let (this_pos, that_pos) = (self.pos(level), that.pos(level));
            if this_pos > that_pos {
                // JS swaps the bounds and allocates one position
                return that.between(self, site, 1);
            } else if this_pos == that_pos {
                match (self.site(level), that.site(level)) {
                    (None, None) => return Err(LseqError::Equal),
                    (Some(a), Some(b)) if a > b => return that.between(self, site, 1),
                    (Some(a), Some(b)) if a < b => {
                        // We can extend ourselves up to the base
                        let mut level = level + 1;
                        loop {
                            if self.pos(level) < base(level)? - 1 {
                                return self.alloc(level, self.pos(level), base(level)?, that, site, count);
                            }
                            level += 1;
                        }
                    }
                    _ => {} // equal positions and sites: the next level decides
                }
            } else if this_pos + 1 == that_pos {
                // No gap here: extend this up or that down, one level lower
                let mut level = level + 1;
                loop {
                    if self.pos(level) < base(level)? - 1 {
                        return self.alloc(level, self.pos(level), base(level)?, that, site, count);
                    } else if that.pos(level) > 1 {
                        return that.alloc(level, 0, that.pos(level), that, site, count);
                    }
                    level += 1;
                }
            } else {
                return self.alloc(level, this_pos, that_pos, that, site, count);
            }
        }
        Err(LseqError::Equal)
    }

    fn alloc(
        &self,
        level: usize,
        lower: u128,
        upper: u128,
        next: &PosId,
        site: &str,
        count: usize,
    ) -> Result<Vec<PosId>, LseqError> {
        let mut out: Vec<PosId> =
            alloc_integers(lower, upper, count).into_iter().map(|pos| self.clone_with(level, pos, site)).collect();
        if !out.is_empty() && out.len() < count {
            let div = (count - out.len()).div_ceil(out.len());
            let mut i = 0;
            while i < out.len() && out.len() < count {
                let upper = out.get(i + 1).cloned().unwrap_or_else(|| next.clone());
                let more = out[i].between(&upper, site, div)?;
                out.splice(i + 1..i + 1, more);
                i += div + 1;
            }
        }
        out.truncate(count);
        Ok(out)
    }

    fn clone_with(&self, level: usize, pos: u128, site: &str) -> PosId {
        let site: String = site.chars().take(SITE_LENGTH).collect::<String>();
        let site = format!("{site:_<SITE_LENGTH$}");
        let mut ids: Vec<(u128, Option<String>)> =
            self.ids.iter().take(level).map(|(p, s)| (*p, Some(s.clone().unwrap_or_else(|| site.clone())))).collect();
        while ids.len() < level {
            ids.push((0, Some(site.clone())));
        }
        ids.push((pos, Some(site)));
        PosId { ids }
    }
}

/// `radix^(level + 1)`; levels so deep that this overflows do not occur.
fn base(level: usize) -> Result<u128, LseqError> {
    u32::try_from(level + 1).ok().and_then(|e| RADIX.checked_pow(e)).ok_or(LseqError::Equal)
}

/// Up to `count` integers strictly between the bounds, skewed low (JS
/// `allocIntegers`).
fn alloc_integers(lower: u128, upper: u128, count: usize) -> Vec<u128> {
    let available = upper.saturating_sub(lower).saturating_sub(1) as f64;
    let mid = 0.5f64.powi(SKEW) * available;
    let spread = mid.min(available - mid);
    let gap = if count > 1 { (spread / (count - 1) as f64).floor() as u128 } else { 0 };
    let mut pos = lower + (mid - spread / 2.0).floor() as u128 + 1;
    let mut out = Vec::new();
    while pos < upper && out.len() < count {
        out.push(pos);
        pos += gap.max(1);
    }
    out
}

impl fmt::Display for PosId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (level, (pos, site)) in self.ids.iter().enumerate() {
            write!(f, "{:0>width$}{}", radix36(*pos), site.as_deref().unwrap_or(""), width = level + 1)?;
        }
        Ok(())
    }
}

fn radix36(mut n: u128) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % RADIX) as usize]);
        n /= RADIX;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(s: &str) -> PosId {
        PosId::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_js_pos_ids() {
        // From the capture (A-insert-list)
        for id in ["3cloneA__________", "7cloneA__________", "0cloneA__________01cloneB__________"] {
            assert_eq!(parse(id).to_string(), id);
        }
        for bad in ["", "x", "0cloneA__________", "3cloneA", "3cloneA__________0"] {
            assert!(PosId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allocates_in_order_and_as_js_would() {
        let site = "cloneA";
        // JS allocates 3cloneA… then 7cloneA… for a new two-item list (the capture)
        let head = PosId::min().between(&PosId::max(), site, 2).unwrap();
        let ids: Vec<String> = head.iter().map(ToString::to_string).collect();
        assert_eq!(ids, ["3cloneA__________", "7cloneA__________"]);
        // Between, after, before, and where there is no room at one level
        let cases = [
            ("3cloneA__________", "7cloneA__________"),
            ("7cloneA__________", "{"),
            ("0", "3cloneA__________"),
            ("3cloneA__________", "4cloneA__________"),
            ("3cloneA__________", "3cloneB__________"),
            ("zcloneA__________", "{"),
        ];
        for (lower, upper) in cases {
            let lo = if lower == "0" { PosId::min() } else { parse(lower) };
            let hi = if upper == "{" { PosId::max() } else { parse(upper) };
            for count in [1, 3] {
                let got = lo.between(&hi, "gw", count).unwrap();
                assert_eq!(got.len(), count);
                let mut last = lower.to_owned();
                for p in &got {
                    let s = p.to_string();
                    assert!(last.as_str() < s.as_str() && s.as_str() < upper, "{lower} < {s} < {upper}");
                    assert_eq!(PosId::parse(&s).unwrap(), *p, "parses back");
                    last = s;
                }
            }
        }
        assert_eq!(parse("3cloneA__________").between(&parse("3cloneA__________"), "x", 1), Err(LseqError::Equal));
    }
}
