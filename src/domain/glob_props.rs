//! Property test of glob overlap against brute force: random pattern pairs over a small alphabet,
//! checked against every path of a generated file tree with an independent naive matcher.
//! Overlap must be symmetric; a tree path matching both must make it true (complete); and when it
//! is true its witness must be a valid path that both patterns match (sound).

use super::glob::Glob;
use super::prop_gen::XorShift;

/// Random pattern pairs; about a second in a debug build.
const PAIRS: usize = 3_000;

const NAMES: &[&str] = &["a", "b", "ab", "ba", "aa", "c", "a.b"];
const TOKENS: &[&str] = &["a", "b", "c", ".", "*", "?", "[ab]", "[!a]", "[a-b]", "\\*"];

/// Every path of 1 to 3 segments named from `NAMES`.
fn tree() -> Vec<String> {
    let mut paths: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
    let mut layer = paths.clone();
    for _ in 0..2 {
        layer = layer
            .iter()
            .flat_map(|p| NAMES.iter().map(move |n| format!("{p}/{n}")))
            .collect();
        paths.extend(layer.iter().cloned());
    }
    paths
}

fn random_glob(rng: &mut XorShift) -> String {
    let segments = 1 + rng.below(3) as usize;
    let mut out: Vec<String> = Vec::new();
    for _ in 0..segments {
        if rng.chance(1, 5) {
            out.push("**".into());
            continue;
        }
        let mut seg = String::new();
        for _ in 0..1 + rng.below(3) {
            let t: &&str = rng.pick(TOKENS);
            if *t == "*" && seg.ends_with('*') {
                continue;
            }
            seg.push_str(t);
        }
        if seg.chars().all(|c| c == '.') {
            seg.push('a');
        }
        out.push(seg);
    }
    out.join("/")
}

/// The naive matcher: segment by segment, backtracking.
fn naive(pattern: &str, path: &str) -> bool {
    let pats: Vec<&str> = pattern.split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return false;
    }
    match_segments(&pats, &segs)
}

fn match_segments(pats: &[&str], segs: &[&str]) -> bool {
    match pats.split_first() {
        None => segs.is_empty(),
        Some((&"**", [])) => !segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|k| match_segments(rest, &segs[k..])),
        Some((p, rest)) => match segs.split_first() {
            Some((s, more)) => {
                let p: Vec<char> = p.chars().collect();
                let s: Vec<char> = s.chars().collect();
                match_chars(&p, &s) && match_segments(rest, more)
            }
            None => false,
        },
    }
}

fn match_chars(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => (0..=s.len()).any(|k| match_chars(&p[1..], &s[k..])),
        Some('?') => !s.is_empty() && match_chars(&p[1..], &s[1..]),
        Some('\\') => s.first() == p.get(1) && match_chars(&p[2..], &s[1..]),
        Some('[') => {
            let close = p
                .iter()
                .position(|c| *c == ']')
                .expect("generated classes close");
            let body = &p[1..close];
            let (neg, body) = match body.first() {
                Some('!') => (true, &body[1..]),
                _ => (false, body),
            };
            let Some(c) = s.first() else { return false };
            let inside = if body.len() == 3 && body[1] == '-' {
                (body[0]..=body[2]).contains(c)
            } else {
                body.contains(c)
            };
            inside != neg && match_chars(&p[close + 1..], &s[1..])
        }
        Some(lit) => s.first() == Some(lit) && match_chars(&p[1..], &s[1..]),
    }
}

#[test]
fn overlap_agrees_with_brute_force_over_a_file_tree() {
    let paths = tree();
    let mut rng = XorShift::new(0x1ea5e);
    let (mut overlapping, mut disjoint) = (0, 0);
    for _ in 0..PAIRS {
        let (ra, rb) = (random_glob(&mut rng), random_glob(&mut rng));
        let (a, b) = (Glob::parse(&ra).unwrap(), Glob::parse(&rb).unwrap());
        let verdict = a.overlaps(&b);
        assert_eq!(verdict, b.overlaps(&a), "symmetry: {ra} vs {rb}");
        if let Some(common) = paths.iter().find(|p| naive(&ra, p) && naive(&rb, p)) {
            assert!(verdict, "{ra} and {rb} both match {common}, yet no overlap");
        }
        match a.common_path(&b) {
            Some(w) => {
                assert!(verdict, "{ra} vs {rb}: witness {w} but overlaps() is false");
                assert!(
                    naive(&ra, &w) && naive(&rb, &w),
                    "{ra} vs {rb}: bad witness {w}"
                );
                overlapping += 1;
            }
            None => {
                assert!(!verdict, "{ra} vs {rb}: overlap without a witness");
                disjoint += 1;
            }
        }
    }
    // Both outcomes are well represented, so neither direction is tested vacuously.
    assert!(
        overlapping > PAIRS / 10 && disjoint > PAIRS / 10,
        "{overlapping}/{disjoint}"
    );
}

#[test]
fn a_path_as_a_resource_overlaps_exactly_the_globs_that_match_it() {
    let paths = tree();
    let mut rng = XorShift::new(7);
    for _ in 0..PAIRS / 10 {
        let raw = random_glob(&mut rng);
        let glob = Glob::parse(&raw).unwrap();
        for p in &paths {
            let literal = Glob::parse(p).unwrap();
            assert_eq!(glob.overlaps(&literal), naive(&raw, p), "{raw} vs {p}");
        }
    }
}
