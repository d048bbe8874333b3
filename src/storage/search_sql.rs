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
        let sql = condition(&m, &["ab", "cd"], 9, &|n| format!("x LIKE ${n}"));
        assert_eq!(sql, "(x LIKE $9 AND (x LIKE $10 OR x LIKE $9))");
    }
}
