//! Fixed-seed random inputs for the domain's property tests: a tiny xorshift generator and the
//! strings and JSON values that trip parsers. Test-only.

use serde_json::{Value, json};

/// Random inputs per property test: the four take about 2 s together in a debug build.
pub(crate) const ITERATIONS: usize = 20_000;

/// A tiny deterministic pseudo-random generator (xorshift64*): a failing case repeats.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `num/den`.
    pub(crate) fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Characters that trip parsers: ASCII, whitespace of every kind, controls, NUL, combining
/// marks, case-changing letters, wide and right-to-left text, and the characters ids use.
pub(crate) const ALPHABET: &[char] = &[
    'a',
    'b',
    'f',
    'z',
    'A',
    'F',
    'Z',
    '0',
    '9',
    '_',
    '-',
    '.',
    '/',
    ':',
    '%',
    '\'',
    '"',
    '\\',
    ' ',
    '\t',
    '\n',
    '\r',
    '\u{0}',
    '\u{1}',
    '\u{7f}',
    '\u{85}',
    '\u{a0}',
    '\u{2028}',
    '\u{3000}',
    '\u{feff}',
    '\u{200b}',
    '\u{301}',
    'é',
    'İ',
    'ß',
    'Σ',
    '中',
    '🦀',
    '\u{202e}',
    '\u{10ffff}',
];
pub(crate) const WORDS: &[&str] = &[
    "public",
    "private",
    "agent_only",
    "admin_only",
    "PUBLIC",
    "session_",
    "session_0123456789abcdef",
    "session_0123456789ABCDEF",
    "all",
    "ALL",
    "null",
    "claude",
    "Admin",
    "3600",
    "-1",
    "0",
    "31536000",
    "31536001",
    "99999999999999999999",
    "1e3",
];

pub(crate) fn random_string(rng: &mut XorShift) -> String {
    if rng.chance(1, 8) {
        let pad = ["", " ", "\t", "\u{a0}", "\n"];
        return format!("{}{}{}", rng.pick(&pad), rng.pick(WORDS), rng.pick(&pad));
    }
    let mut s = String::new();
    for _ in 0..rng.below(6) {
        if rng.chance(1, 3) {
            let word: &&str = rng.pick(WORDS);
            s.push_str(word);
        } else {
            for _ in 0..rng.below(8) {
                s.push(*rng.pick(ALPHABET));
            }
        }
    }
    if rng.chance(1, 50) {
        s.push_str(&"k".repeat(rng.below(400) as usize));
    }
    s
}

pub(crate) fn random_json(rng: &mut XorShift, depth: u32) -> Value {
    match rng.below(if depth > 3 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.chance(1, 2)),
        2 => match rng.below(4) {
            0 => json!(rng.next_u64()),
            1 => json!(rng.next_u64() as i64),
            2 => json!(rng.below(40_000_000) as i64 - 1_000),
            _ => json!((rng.next_u64() as f64) / 7.0 - 1e18),
        },
        3 | 4 => json!(random_string(rng)),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|_| (random_string(rng), random_json(rng, depth + 1)))
                .collect(),
        ),
    }
}

pub(crate) fn strip_controls(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
        .collect()
}

pub(crate) fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}
