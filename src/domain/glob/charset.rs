//! Character sets for glob automata: sorted, disjoint ranges of Unicode scalar values, with the
//! set algebra (complement, intersection) and the pick of a witness character the overlap search needs.

/// Sorted, disjoint, inclusive ranges of Unicode scalar values (as `u32`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CharSet(pub(super) Vec<(u32, u32)>);

const MAX_CHAR: u32 = 0x10_FFFF;
const SLASH: u32 = '/' as u32;

impl CharSet {
    pub(super) fn one(c: char) -> Self {
        Self(vec![(c as u32, c as u32)])
    }

    /// Every character but `/`.
    pub(super) fn not_slash() -> Self {
        Self(vec![(0, SLASH - 1), (SLASH + 1, MAX_CHAR)])
    }

    pub(super) fn any() -> Self {
        Self(vec![(0, MAX_CHAR)])
    }

    /// Sorts and merges `ranges` into a set.
    pub(super) fn normalized(mut ranges: Vec<(u32, u32)>) -> Self {
        ranges.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        Self(out)
    }

    pub(super) fn complement(&self) -> Self {
        let mut out = Vec::new();
        let mut next = 0u32;
        for &(lo, hi) in &self.0 {
            if lo > next {
                out.push((next, lo - 1));
            }
            next = hi.saturating_add(1);
        }
        if next <= MAX_CHAR {
            out.push((next, MAX_CHAR));
        }
        Self(out)
    }

    pub(super) fn without_slash(&self) -> Self {
        self.intersect(&Self::not_slash())
    }

    pub(super) fn intersect(&self, other: &Self) -> Self {
        let (mut i, mut j, mut out) = (0, 0, Vec::new());
        while i < self.0.len() && j < other.0.len() {
            let (a, b) = (self.0[i], other.0[j]);
            let (lo, hi) = (a.0.max(b.0), a.1.min(b.1));
            if lo <= hi {
                out.push((lo, hi));
            }
            if a.1 < b.1 { i += 1 } else { j += 1 }
        }
        Self(out)
    }

    /// A readable member: the first of `a`, `0`, `_`, `-` that is in the set, else the lowest
    /// scalar value in it.
    pub(super) fn pick(&self) -> Option<char> {
        let contains = |c: u32| self.0.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        if let Some(c) = ['a', '0', '_', '-']
            .into_iter()
            .find(|c| contains(*c as u32))
        {
            return Some(c);
        }
        self.0
            .iter()
            .flat_map(|&(lo, hi)| lo..=hi.min(lo + 0x1000))
            .find_map(char::from_u32)
    }

    /// A member, other than `/` when there is one: a step inside a segment keeps more paths
    /// open than one that ends it, and `/` is only picked when it is the only member.
    pub(super) fn pick_preferring_non_slash(&self) -> Option<char> {
        self.without_slash().pick().or_else(|| self.pick())
    }
}
