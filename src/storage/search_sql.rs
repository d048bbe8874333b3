//! SQL text for search formulas, shared by both backends: the `%…%` pattern and the AND/OR tree of
//! substring tests. Each backend supplies only how one substring is tested (its LIKE flavour).

use crate::domain::search::TextMatch;

/// `%…%` with LIKE's wildcards escaped (escape character `\`, PostgreSQL's default and SQLite's
/// `ESCAPE '\'`).
pub(super) fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The formula as SQL. Each distinct substring is one placeholder, numbered from `first` in the
/// order of `params`; `leaf(n)` renders the test of placeholder `$n`.
pub(super) fn condition(
    m: &TextMatch,
    params: &[&str],
    first: usize,
    leaf: &dyn Fn(usize) -> String,
) -> String {
    match m {
        TextMatch::Contains(s) => leaf(first + params.iter().position(|p| p == s).unwrap_or(0)),
        TextMatch::All(items) | TextMatch::Any(items) => {
            let op = if matches!(m, TextMatch::All(_)) {
                " AND "
            } else {
                " OR "
            };
            let parts: Vec<String> = items
                .iter()
                .map(|i| condition(i, params, first, leaf))
                .collect();
            format!("({})", parts.join(op))
        }
    }
}

/// A formula as an AND of ORs of ANDs of substrings (groups, conjunctions, substrings): every
/// tier `domain::search` builds has this shape, and `All` / `Any` of such formulas keep it (an
/// `Any` of several groups distributes over them).
pub(super) fn and_or_and(m: &TextMatch) -> Vec<Vec<Vec<&str>>> {
    match m {
        TextMatch::Contains(s) => vec![vec![vec![s.as_str()]]],
        TextMatch::All(items) => {
            let groups: Vec<Vec<Vec<&str>>> = items.iter().flat_map(and_or_and).collect();
            // All of single conjunctions is one conjunction.
            if groups.iter().all(|g| g.len() == 1) {
                vec![vec![
                    groups.into_iter().flat_map(|mut g| g.remove(0)).collect(),
                ]]
            } else {
                groups
            }
        }
        TextMatch::Any(items) => {
            // (A1 and A2) or (B1) = (A1 or B1) and (A2 or B1): one group per choice of groups.
            let mut out: Vec<Vec<Vec<&str>>> = vec![Vec::new()];
            for item in items {
                let groups = and_or_and(item);
                out = out
                    .iter()
                    .flat_map(|acc| {
                        groups.iter().map(move |g| {
                            let mut next = acc.clone();
                            next.extend(g.iter().cloned());
                            next
                        })
                    })
                    .collect();
            }
            out
        }
    }
}

/// [`and_or_and`] as one flat array of `like_pattern`s, row-major, with its shape (groups,
/// conjunctions per group, patterns per conjunction); shorter levels are padded by repeating
/// their first member, which changes neither an AND nor an OR.
pub(super) fn flat_formula(m: &TextMatch) -> (Vec<String>, i32, i32, i32) {
    let groups = and_or_and(m);
    let conjs = groups.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let width = groups
        .iter()
        .flatten()
        .map(Vec::len)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut out = Vec::with_capacity(groups.len() * conjs * width);
    for g in &groups {
        for c in 0..conjs {
            let conj = g.get(c).or(g.first());
            for k in 0..width {
                let s = conj.and_then(|c| c.get(k).or(c.first())).copied();
                // An empty OR matches nothing: a pattern no text holds (a query has no chr(1)).
                out.push(s.map_or_else(|| "\u{1}\u{1}".to_owned(), like_pattern));
            }
        }
    }
    let n = |x: usize| i32::try_from(x).unwrap_or(i32::MAX);
    (out, n(groups.len().max(1)), n(conjs), n(width))
}

/// The union of a search's tiers, each message once (tiers overlap), in the order read.
pub(super) fn each_once(
    rows: Vec<crate::storage::MessageRecord>,
) -> Vec<crate::storage::MessageRecord> {
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    rows.into_iter().filter(|m| seen.insert(m.id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_trees() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        let m = TextMatch::All(vec![
            TextMatch::Contains("ab".into()),
            TextMatch::Any(vec![
                TextMatch::Contains("cd".into()),
                TextMatch::Contains("ab".into()),
            ]),
        ]);
        let sql = condition(&m, &["ab", "cd"], 9, &|n| format!("x LIKE +${n}"));
        assert_eq!(sql, "(x LIKE +$9 AND (x LIKE +$10 OR x LIKE +$9))");
    }

    #[test]
    fn formulas_flatten_to_and_or_and() {
        let c = |s: &str| TextMatch::Contains(s.into());
        let pair = |a: &str, b: &str| TextMatch::All(vec![c(a), c(b)]);
        // Exact tier and every word present: one conjunction.
        assert_eq!(flat_formula(&c("ab")), (vec!["%ab%".to_owned()], 1, 1, 1));
        let all = TextMatch::All(vec![c("ab"), c("cd")]);
        assert_eq!(and_or_and(&all), vec![vec![vec!["ab", "cd"]]]);
        // A typo-tolerant word: two of three fragments.
        let word = TextMatch::Any(vec![pair("a", "b"), pair("a", "c"), pair("b", "c")]);
        assert_eq!(
            and_or_and(&word),
            vec![vec![vec!["a", "b"], vec!["a", "c"], vec!["b", "c"]]]
        );
        // Every word up to a typo, one word short: groups padded by repetition.
        let tier = TextMatch::All(vec![word.clone(), c("xyz")]);
        let (flat, g, k, w) = flat_formula(&tier);
        assert_eq!((g, k, w), (2, 3, 2));
        assert_eq!(&flat[6..], ["%xyz%"; 6]);
        assert_eq!(&flat[..2], ["%a%", "%b%"]);
        // Any of multi-group formulas distributes.
        let any = TextMatch::Any(vec![tier, c("q")]);
        assert_eq!(
            and_or_and(&any),
            vec![
                vec![vec!["a", "b"], vec!["a", "c"], vec!["b", "c"], vec!["q"]],
                vec![vec!["xyz"], vec!["q"]]
            ]
        );
        assert_eq!(flat_formula(&TextMatch::Any(vec![])).1, 1);
    }
}
