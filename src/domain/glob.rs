//! Path globs as lease resources, and whether two of them can match a common path (symmetric and
//! exact). No I/O.
//!
//! Syntax (a path is `/`-separated, relative, with no empty, `.` or `..` segment):
//! `*` any run of characters within a segment, `?` one character but `/`, `[abc]`, `[a-z]`,
//! `[!a-z]` (or `[^a-z]`) one character of a class (never `/`), `**` as a whole segment any
//! number of segments (`src/**` is everything under `src`, `**/x.rs` is `x.rs` anywhere), `\c` the
//! character `c`. Anything else is literal, so a plain name (`deploy-slot`) is a one-segment path.
//! `{a,b}` is refused rather than taken literally: a reader would expect alternation, and a lease
//! that silently covers less than its holder thinks is the failure we exist to prevent.
//!
//! Overlap is decided on the product of the two patterns' automata (breadth-first, with a flag
//! for "at the start of a segment" so only valid paths count), over character *sets* rather than
//! characters, so the infinite alphabet costs nothing. Written here rather than taken from a
//! crate: `globset` and `glob` match paths but cannot intersect two patterns. The search returns
//! a witness path, which the property test (`glob_props.rs`) checks against a naive matcher.

mod charset;

use self::charset::CharSet;
use super::error::DomainError;

/// Longest resource accepted, in characters.
pub const MAX_RESOURCE_CHARS: usize = 256;

/// A compiled pattern: a nondeterministic automaton over character sets. State 0 starts,
/// `accept` ends.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Nfa {
    moves: Vec<Vec<(CharSet, usize)>>,
    skips: Vec<Vec<usize>>,
    accept: usize,
}

impl Nfa {
    fn new() -> Self {
        Self {
            moves: vec![Vec::new()],
            skips: vec![Vec::new()],
            accept: 0,
        }
    }

    fn state(&mut self) -> usize {
        self.moves.push(Vec::new());
        self.skips.push(Vec::new());
        self.moves.len() - 1
    }

    /// A move from `from` on `set` to a new state, which it returns.
    fn step(&mut self, from: usize, set: CharSet) -> usize {
        let to = self.state();
        self.moves[from].push((set, to));
        to
    }
}

/// A validated lease resource: a path glob or a plain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
    /// The characters before the first wildcard, unescaped: two patterns whose literal
    /// prefixes disagree cannot overlap (the cheap test before the automata).
    literal_prefix: String,
    /// No wildcard at all: the pattern is the one path `literal_prefix`.
    literal: bool,
    nfa: Nfa,
}

fn malformed(raw: &str, why: &str) -> DomainError {
    DomainError::invalid(format!("resource '{raw}' is not a valid path glob: {why}"))
        .suggest("use a relative path like src/db/*.rs or src/**, or a plain name like deploy-slot")
}

impl Glob {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let chars = raw.chars().count();
        if chars == 0 || chars > MAX_RESOURCE_CHARS {
            return Err(malformed(
                raw,
                &format!("it must be 1 to {MAX_RESOURCE_CHARS} characters"),
            ));
        }
        if raw.chars().any(char::is_control) || raw.trim() != raw {
            return Err(malformed(
                raw,
                "control characters and leading or trailing spaces are not allowed",
            ));
        }
        if raw.starts_with('/') || raw.ends_with('/') {
            return Err(malformed(
                raw,
                "paths are relative with no trailing slash (a directory and its contents: dir/**)",
            ));
        }
        if raw.contains('{') || raw.contains('}') {
            return Err(malformed(
                raw,
                "{a,b} alternation is not supported; list each alternative as its own resource",
            ));
        }
        let segments: Vec<&str> = raw.split('/').collect();
        let mut nfa = Nfa::new();
        let mut cur = 0;
        let (mut literal_prefix, mut literal) = (String::new(), true);
        for (i, seg) in segments.iter().enumerate() {
            if seg.is_empty() || *seg == "." || *seg == ".." {
                return Err(malformed(
                    raw,
                    "empty, '.' and '..' path segments are not allowed",
                ));
            }
            let last = i + 1 == segments.len();
            if *seg == "**" {
                literal = false;
                if segments.len() == 1 {
                    nfa.moves[cur].push((CharSet::any(), cur));
                } else if last {
                    // The slash before it is already consumed: `dir/**` is `dir/` then anything.
                    nfa.moves[cur].push((CharSet::any(), cur));
                } else {
                    // `**/` here is "nothing, or anything ending with a slash".
                    let run = nfa.state();
                    nfa.skips[cur].push(run);
                    nfa.moves[run].push((CharSet::any(), run));
                    let next = nfa.step(run, CharSet::one('/'));
                    nfa.skips[cur].push(next);
                    cur = next;
                }
                continue;
            }
            if seg.contains("**") {
                return Err(malformed(
                    raw,
                    "** must be a whole path segment (src/**/x.rs); use * within a segment",
                ));
            }
            cur = segment(raw, seg, &mut nfa, cur, &mut literal_prefix, &mut literal)?;
            if !last {
                cur = nfa.step(cur, CharSet::one('/'));
                if literal {
                    literal_prefix.push('/');
                }
            }
        }
        nfa.accept = cur;
        Ok(Self {
            text: raw.to_owned(),
            literal_prefix,
            literal,
            nfa,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when some path matches both patterns. Symmetric.
    pub fn overlaps(&self, other: &Glob) -> bool {
        if self.literal && other.literal {
            return self.literal_prefix == other.literal_prefix;
        }
        let (a, b) = (&self.literal_prefix, &other.literal_prefix);
        if !a.starts_with(b.as_str()) && !b.starts_with(a.as_str()) {
            return false;
        }
        self.common_path(other).is_some()
    }

    /// A path both patterns match (the shortest), or `None` when they are disjoint.
    pub fn common_path(&self, other: &Glob) -> Option<String> {
        let (a, b) = (&self.nfa, &other.nfa);
        let width = b.moves.len();
        // A search state: (state in a, state in b, at the start of a segment).
        let index = |p: usize, q: usize, start: bool| (p * width + q) * 2 + usize::from(start);
        let mut parent: Vec<Option<(usize, Option<char>)>> = vec![None; a.moves.len() * width * 2];
        let first = index(0, 0, true);
        parent[first] = Some((first, None));
        let mut queue = std::collections::VecDeque::from([(0, 0, true)]);
        while let Some((p, q, start)) = queue.pop_front() {
            let here = index(p, q, start);
            if p == a.accept && q == b.accept && !start {
                return Some(witness(&parent, here));
            }
            let mut push = |np: usize, nq: usize, ns: bool, c: Option<char>| {
                let i = index(np, nq, ns);
                if parent[i].is_none() {
                    parent[i] = Some((here, c));
                    queue.push_back((np, nq, ns));
                }
            };
            for &np in &a.skips[p] {
                push(np, q, start, None);
            }
            for &nq in &b.skips[q] {
                push(p, nq, start, None);
            }
            for (sa, np) in &a.moves[p] {
                for (sb, nq) in &b.moves[q] {
                    let mut both = sa.intersect(sb);
                    if start {
                        // No empty segment: a slash cannot start one.
                        both = both.without_slash();
                    }
                    let Some(c) = both.pick_preferring_non_slash() else {
                        continue;
                    };
                    push(*np, *nq, c == '/', Some(c));
                }
            }
        }
        None
    }
}

/// Walks the parent links back from `end` and spells the path.
fn witness(parent: &[Option<(usize, Option<char>)>], end: usize) -> String {
    let mut out = Vec::new();
    let mut at = end;
    while let Some((from, c)) = parent[at] {
        if from == at {
            break;
        }
        out.extend(c);
        at = from;
    }
    out.iter().rev().collect()
}

/// Compiles one segment (no `/`, not `**`) onto `nfa` from `cur`; returns the state after it.
fn segment(
    raw: &str,
    seg: &str,
    nfa: &mut Nfa,
    mut cur: usize,
    literal_prefix: &mut String,
    literal: &mut bool,
) -> Result<usize, DomainError> {
    let mut it = seg.chars().peekable();
    while let Some(c) = it.next() {
        let set = match c {
            '*' => {
                *literal = false;
                nfa.moves[cur].push((CharSet::not_slash(), cur));
                // A fresh state, so a later loop in this segment is not merged with this one.
                cur = {
                    let next = nfa.state();
                    nfa.skips[cur].push(next);
                    next
                };
                continue;
            }
            '?' => CharSet::not_slash(),
            '[' => class(raw, &mut it)?,
            '\\' => match it.next() {
                Some(escaped) => CharSet::one(escaped),
                None => return Err(malformed(raw, "it ends with a lone backslash")),
            },
            ']' => {
                return Err(malformed(
                    raw,
                    "']' without a matching '['; write \\] for a literal one",
                ));
            }
            other => CharSet::one(other),
        };
        if *literal {
            match (c, &set.0[..]) {
                ('?' | '[', _) => *literal = false,
                (_, [(lo, _)]) => literal_prefix.extend(char::from_u32(*lo)),
                _ => *literal = false,
            }
        }
        cur = nfa.step(cur, set);
    }
    Ok(cur)
}

/// A character class after its `[`: members, ranges, `!` or `^` to negate; never `/`.
fn class(
    raw: &str,
    it: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<CharSet, DomainError> {
    let negated = matches!(it.peek(), Some('!' | '^'));
    if negated {
        it.next();
    }
    let mut ranges = Vec::new();
    loop {
        let c = match it.next() {
            None => return Err(malformed(raw, "a '[' class is never closed with ']'")),
            Some(']') if ranges.is_empty() => {
                return Err(malformed(raw, "a character class '[]' is empty"));
            }
            Some(']') => break,
            Some('/') => return Err(malformed(raw, "a character class cannot contain '/'")),
            Some('\\') => it
                .next()
                .ok_or_else(|| malformed(raw, "it ends with a lone backslash"))?,
            Some(c) => c,
        };
        if it.peek() == Some(&'-') {
            let mut ahead = it.clone();
            ahead.next();
            if let Some(&hi) = ahead.peek().filter(|h| **h != ']') {
                it.next();
                it.next();
                if hi < c {
                    return Err(malformed(raw, &format!("the range {c}-{hi} is backwards")));
                }
                if c <= '/' && '/' <= hi {
                    return Err(malformed(raw, "a character class cannot contain '/'"));
                }
                ranges.push((c as u32, hi as u32));
                continue;
            }
        }
        ranges.push((c as u32, c as u32));
    }
    let set = CharSet::normalized(ranges);
    Ok(if negated {
        set.complement().without_slash()
    } else {
        set
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Glob {
        Glob::parse(s).unwrap()
    }

    fn overlap(a: &str, b: &str) -> bool {
        let (a, b) = (g(a), g(b));
        assert_eq!(a.overlaps(&b), b.overlaps(&a), "symmetry");
        a.overlaps(&b)
    }

    #[test]
    fn the_contract_examples() {
        assert!(overlap("src/**", "src/db/*.rs"));
        assert!(!overlap("src/*.rs", "docs/**"));
        assert!(overlap("deploy-slot", "deploy-slot"));
        assert!(!overlap("deploy-slot", "deploy-slots"));
    }

    #[test]
    fn segments_and_wildcards() {
        assert!(
            !overlap("src/*.rs", "src/db/x.rs"),
            "* stays in its segment"
        );
        assert!(overlap("src/**/x.rs", "src/x.rs"), "**/ may be nothing");
        assert!(overlap("**/x.rs", "a/b/x.rs"));
        assert!(!overlap("src/**", "src"), "dir/** is what is under dir");
        assert!(overlap("**", "anything/at/all"));
        assert!(overlap("a?c", "abc"));
        assert!(!overlap("a?c", "a/c"));
        assert!(overlap("[a-c]x", "bx"));
        assert!(!overlap("[!a-c]x", "bx"));
        assert!(!overlap("[ab]*", "[cd]*"));
        assert!(overlap("*.rs", "main.*"));
        assert!(!overlap("*.rs", "*.md"));
        assert!(overlap("a\\*b", "a*b"));
        assert!(!overlap("a\\*b", "axb"));
        // The only common strings would have an empty segment: no path.
        assert!(!overlap("a/*/b", "a/[!x]*/c"));
        assert!(!overlap("a/*/b", "a/b"));
    }

    #[test]
    fn witnesses_are_paths() {
        let w = g("src/**").common_path(&g("**/*.rs")).unwrap();
        assert!(
            w.starts_with("src/") && w.ends_with(".rs") && !w.contains("//"),
            "{w}"
        );
    }

    #[test]
    fn malformed_globs_are_refused() {
        for bad in [
            "", "/abs", "dir/", "a//b", "./a", "a/../b", "a**", "x/**y", "[", "[]", "[z-a]",
            "[a/]", "a\\", "{a,b}", " a", "a\n", "]",
        ] {
            let err = Glob::parse(bad).unwrap_err();
            assert!(
                err.message.contains("not a valid path glob"),
                "{bad}: {err}"
            );
        }
        assert!(Glob::parse(&"a".repeat(MAX_RESOURCE_CHARS + 1)).is_err());
    }
}
