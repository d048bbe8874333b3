//! Fuzzy scoring compatible with rapidfuzz `fuzz.ratio` and `fuzz.partial_ratio` (what the Python
//! server ranked `search_context` results with), computed exactly with bit-parallel LCS.
//!
//! `ratio(a, b)` is the normalised Indel similarity `100 · 2·LCS(a, b) / (|a| + |b|)`.
//! `partial_ratio(a, b)` is the best `ratio` of the shorter string against any window of the longer
//! one: every full window of the shorter string's length, plus the shorter windows at both ends
//! (rapidfuzz scores those too). Equal lengths are tried both ways, as rapidfuzz does.
//!
//! Speed: a substring hit is 100 at once (`str::find`). Otherwise full windows are visited in
//! descending order of a character-histogram upper bound that slides in O(1) per step, and the walk
//! stops once no remaining window can beat the best score found, so typical texts evaluate only a
//! handful of windows even at 100,000 characters. Deviation: a pathological pair (a long needle, a
//! huge text of the same letters) stops after [`BUDGET_CELLS`] word-operations and returns the best
//! window seen so far; rapidfuzz itself only samples windows for needles over 64 characters.

use std::collections::HashMap;

/// Upper bound on bit-parallel work (64-bit word operations) spent on full windows per call.
pub const BUDGET_CELLS: usize = 8_000_000;

const NONE: u32 = u32::MAX;

/// The best-scoring window of a `partial_ratio` call, in characters of the second argument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// 0–100.
    pub score: f64,
    pub start: usize,
    pub end: usize,
}

/// `fuzz.ratio`: normalised Indel similarity, 0–100.
pub fn ratio(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() && b.is_empty() {
        return 100.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let pattern = Pattern::new(short);
    let syms = pattern.symbols(long);
    score(pattern.lcs(&syms), a.len() + b.len())
}

/// `fuzz.partial_ratio(a, b)` (callers lower-case both, as the Python server did). The alignment
/// is the window of `b` that scored best, or all of `b` when `b` is the shorter string.
pub fn partial_ratio(a: &str, b: &str) -> Alignment {
    let whole_b = |score| Alignment {
        score,
        start: 0,
        end: b.chars().count(),
    };
    if a.is_empty() || b.is_empty() {
        return whole_b(if a.is_empty() && b.is_empty() {
            100.0
        } else {
            0.0
        });
    }
    let (ac, bc): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if ac.len() <= bc.len() {
        if let Some(byte) = b.find(a) {
            let start = b[..byte].chars().count();
            return Alignment {
                score: 100.0,
                start,
                end: start + ac.len(),
            };
        }
    } else if a.contains(b) {
        return whole_b(100.0);
    }
    if ac.len() < bc.len() {
        return windows(&ac, &bc);
    }
    if ac.len() > bc.len() {
        return whole_b(windows(&bc, &ac).score);
    }
    let forward = windows(&ac, &bc);
    let backward = windows(&bc, &ac);
    if backward.score > forward.score {
        whole_b(backward.score)
    } else {
        forward
    }
}

fn score(lcs: usize, lensum: usize) -> f64 {
    if lensum == 0 {
        return 0.0;
    }
    200.0 * lcs as f64 / lensum as f64
}

/// Best window of `hay` for `needle` (`needle.len() <= hay.len()`, both non-empty).
fn windows(needle: &[char], hay: &[char]) -> Alignment {
    let m = needle.len();
    let n = hay.len();
    let pattern = Pattern::new(needle);
    let syms = pattern.symbols(hay);
    let mut best = Alignment {
        score: 0.0,
        start: 0,
        end: 0,
    };
    let consider = |lcs: usize, start: usize, len: usize, best: &mut Alignment| {
        let s = score(lcs, m + len);
        if s > best.score {
            *best = Alignment {
                score: s,
                start,
                end: start + len,
            };
        }
    };

    // Shorter windows at the start (hay[..i]) and, reversed, at the end (hay[n-i..]).
    let edge = m.saturating_sub(1).min(n);
    for (i, lcs) in pattern.prefix_lcs(&syms[..edge]).into_iter().enumerate() {
        consider(lcs, 0, i + 1, &mut best);
    }
    let reversed: Vec<char> = needle.iter().rev().copied().collect();
    let rpattern = Pattern::new(&reversed);
    let tail: Vec<u32> = rpattern
        .symbols(&hay[n - edge..])
        .into_iter()
        .rev()
        .collect();
    for (i, lcs) in rpattern.prefix_lcs(&tail).into_iter().enumerate() {
        consider(lcs, n - (i + 1), i + 1, &mut best);
    }

    // Full windows, best histogram bound first.
    let starts = n - m + 1;
    let bounds = histogram_bounds(&pattern, &syms, m);
    let mut by_bound: Vec<Vec<u32>> = vec![Vec::new(); m + 1];
    for (start, b) in bounds.iter().enumerate().take(starts) {
        by_bound[*b as usize].push(start as u32);
    }
    let cost = m * pattern.words;
    let mut spent = 0usize;
    'outer: for bound in (0..=m).rev() {
        if score(bound, 2 * m) <= best.score {
            break;
        }
        for &start in &by_bound[bound] {
            if spent >= BUDGET_CELLS {
                break 'outer;
            }
            spent += cost;
            let start = start as usize;
            let lcs = pattern.lcs(&syms[start..start + m]);
            consider(lcs, start, m, &mut best);
            if best.score >= 100.0 || score(bound, 2 * m) <= best.score {
                break 'outer;
            }
        }
    }
    best
}

/// For each full window start, Σ over characters of min(count in needle, count in window): an
/// upper bound on the window's LCS with the needle.
fn histogram_bounds(pattern: &Pattern, syms: &[u32], m: usize) -> Vec<u32> {
    let mut need = vec![0u32; pattern.alphabet];
    for &s in &pattern.needle_syms {
        need[s as usize] += 1;
    }
    let mut have = vec![0u32; pattern.alphabet];
    let mut bound = 0u32;
    let add = |s: u32, have: &mut Vec<u32>, bound: &mut u32| {
        if s != NONE {
            let k = s as usize;
            if have[k] < need[k] {
                *bound += 1;
            }
            have[k] += 1;
        }
    };
    let mut out = Vec::with_capacity(syms.len() - m + 1);
    for &s in &syms[..m] {
        add(s, &mut have, &mut bound);
    }
    out.push(bound);
    for i in m..syms.len() {
        let gone = syms[i - m];
        if gone != NONE {
            let k = gone as usize;
            have[k] -= 1;
            if have[k] < need[k] {
                bound -= 1;
            }
        }
        add(syms[i], &mut have, &mut bound);
        out.push(bound);
    }
    out
}

/// Bit-parallel LCS against a fixed needle (Hyyrö): one bit per needle character, in `words`
/// 64-bit words.
struct Pattern {
    len: usize,
    words: usize,
    alphabet: usize,
    ascii: [u32; 128],
    other: HashMap<char, u32>,
    /// `alphabet × words` match masks.
    masks: Vec<u64>,
    needle_syms: Vec<u32>,
}

impl Pattern {
    fn new(needle: &[char]) -> Self {
        let words = needle.len().div_ceil(64).max(1);
        let mut p = Self {
            len: needle.len(),
            words,
            alphabet: 0,
            ascii: [NONE; 128],
            other: HashMap::new(),
            masks: Vec::new(),
            needle_syms: Vec::with_capacity(needle.len()),
        };
        for (i, &c) in needle.iter().enumerate() {
            let sym = match p.symbol(c) {
                NONE => {
                    let sym = p.alphabet as u32;
                    p.alphabet += 1;
                    p.masks.extend(std::iter::repeat_n(0, words));
                    if (c as u32) < 128 {
                        p.ascii[c as usize] = sym;
                    } else {
                        p.other.insert(c, sym);
                    }
                    sym
                }
                sym => sym,
            };
            p.masks[sym as usize * words + i / 64] |= 1u64 << (i % 64);
            p.needle_syms.push(sym);
        }
        p
    }

    fn symbol(&self, c: char) -> u32 {
        if (c as u32) < 128 {
            self.ascii[c as usize]
        } else {
            self.other.get(&c).copied().unwrap_or(NONE)
        }
    }

    fn symbols(&self, text: &[char]) -> Vec<u32> {
        text.iter().map(|&c| self.symbol(c)).collect()
    }

    /// Folds one text symbol into the state vector.
    #[inline]
    fn step(&self, state: &mut [u64], sym: u32) {
        if sym == NONE {
            return;
        }
        let masks = &self.masks[sym as usize * self.words..][..self.words];
        let mut carry = 0u64;
        for (s, &m) in state.iter_mut().zip(masks) {
            let u = *s & m;
            let (sum, c1) = s.overflowing_add(u);
            let (sum, c2) = sum.overflowing_add(carry);
            carry = u64::from(c1 | c2);
            *s = sum | (*s - u);
        }
    }

    fn lcs_of_state(&self, state: &[u64]) -> usize {
        let mut zeros = 0usize;
        for (w, &s) in state.iter().enumerate() {
            let bits = (self.len - w * 64).min(64);
            let mask = if bits == 64 { !0 } else { (1u64 << bits) - 1 };
            zeros += (!s & mask).count_ones() as usize;
        }
        zeros
    }

    fn lcs(&self, text: &[u32]) -> usize {
        if self.words == 1 {
            let mut s = !0u64;
            for &sym in text {
                if sym != NONE {
                    let u = s & self.masks[sym as usize];
                    s = s.wrapping_add(u) | (s - u);
                }
            }
            return self.lcs_of_state(&[s]);
        }
        let mut state = vec![!0u64; self.words];
        for &sym in text {
            self.step(&mut state, sym);
        }
        self.lcs_of_state(&state)
    }

    /// LCS of the needle with every prefix of `text`: element `i` is for `text[..=i]`.
    fn prefix_lcs(&self, text: &[u32]) -> Vec<usize> {
        let mut state = vec![!0u64; self.words];
        text.iter()
            .map(|&sym| {
                self.step(&mut state, sym);
                self.lcs_of_state(&state)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.01
    }

    /// Reference: every window, plain dynamic-programming LCS.
    fn naive_partial(a: &str, b: &str) -> f64 {
        fn lcs(a: &[char], b: &[char]) -> usize {
            let mut row = vec![0usize; b.len() + 1];
            for &x in a {
                let mut prev = 0;
                for (j, &y) in b.iter().enumerate() {
                    let keep = row[j + 1];
                    row[j + 1] = if x == y {
                        prev + 1
                    } else {
                        row[j + 1].max(row[j])
                    };
                    prev = keep;
                }
            }
            row[b.len()]
        }
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let one_way = |s: &[char], l: &[char]| {
            let mut best = 0.0f64;
            for len in 1..=s.len().min(l.len()) {
                let starts: Vec<usize> = if len == s.len() {
                    (0..=l.len() - len).collect()
                } else {
                    vec![0, l.len() - len]
                };
                for st in starts {
                    best = best.max(score(lcs(s, &l[st..st + len]), s.len() + len));
                }
            }
            best
        };
        if a.len() < b.len() {
            one_way(&a, &b)
        } else if a.len() > b.len() {
            one_way(&b, &a)
        } else {
            one_way(&a, &b).max(one_way(&b, &a))
        }
    }

    #[test]
    fn known_rapidfuzz_values() {
        assert_eq!(
            partial_ratio("this is a test", "this is a test!").score,
            100.0
        );
        assert!(close(ratio("databse", "database"), 93.33));
        let hit = partial_ratio("databse", "the database index is slow");
        assert!(close(hit.score, 85.71), "{hit:?}");
        assert_eq!((hit.start, hit.end), (4, 11));
        assert!(close(ratio("this is a test", "this is a test!"), 96.55));
        assert_eq!(ratio("", ""), 100.0);
        assert_eq!(partial_ratio("abc", "").score, 0.0);
    }

    #[test]
    fn shorter_text_is_the_needle() {
        assert_eq!(partial_ratio("the database index", "database").score, 100.0);
        let a = partial_ratio("a long query about databases", "databse");
        assert!(close(a.score, 85.71));
        assert_eq!((a.start, a.end), (0, 7));
    }

    #[test]
    fn matches_the_naive_definition() {
        let mut seed = 7u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: Vec<char> = "abcde fé".chars().collect();
        for _ in 0..400 {
            let la = 1 + (next() % 12) as usize;
            let lb = 1 + (next() % 40) as usize;
            let mut make = |len: usize| -> String {
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            };
            let (a, b) = (make(la), make(lb));
            let fast = partial_ratio(&a, &b).score;
            let slow = naive_partial(&a, &b);
            assert!(close(fast, slow), "{a:?} vs {b:?}: {fast} != {slow}");
        }
    }

    #[test]
    fn long_needles_use_several_words() {
        let needle: String =
            "the connection pool timed out while the replica was lagging ".repeat(3);
        let mut text = "unrelated words ".repeat(50);
        text.push_str(&needle.replace("replica", "replca"));
        text.push_str(&"more filler ".repeat(50));
        let got = partial_ratio(&needle, &text).score;
        assert!(close(got, naive_partial(&needle, &text)), "{got}");
        assert!(got > 98.0);
    }

    #[test]
    fn large_texts_are_fast() {
        let text = "lorem ipsum dolor sit amet consectetur ".repeat(2_600);
        let started = std::time::Instant::now();
        let got = partial_ratio("consectetuer adipiscing", &text);
        assert!(got.score > 60.0);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
