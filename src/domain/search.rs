//! Search inputs and rules: the query, scope and threshold; the candidate plan (substring formulas
//! both backends evaluate identically); the text a message is matched on; time-range bounds.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde_json::{Map, Value};

use super::error::{DomainError, ErrorCode};
use super::visibility::Visibility;

pub const QUERY_MAX_CHARS: usize = 500;
pub const DEFAULT_THRESHOLD: f64 = 60.0;
/// Rows each fuzzy candidate tier may return.
pub const FUZZY_TIER_ROWS: u32 = 200;
const MAX_WORDS: usize = 8;
const MAX_FRAGMENTS: usize = 3;

/// `search_scope`: which of the messages the reader may read are searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// Everything the reader may read.
    All,
    /// Public messages only.
    Public,
    /// The reader's own private messages.
    Private,
}

impl SearchScope {
    pub fn parse(raw: Option<&str>) -> Result<Self, DomainError> {
        match raw.map(str::trim) {
            None | Some("") | Some("all") => Ok(Self::All),
            Some("public") => Ok(Self::Public),
            Some("private") => Ok(Self::Private),
            Some(other) => Err(DomainError::invalid(format!(
                "unknown search_scope '{other}'; use all, public or private"
            ))
            .suggest("search_scope: \"all\" (everything you may read), \"public\", or \"private\" (your own private messages)")),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Public => "public",
            Self::Private => "private",
        }
    }

    /// The visibility the scope narrows to.
    pub const fn only(self) -> Option<Visibility> {
        match self {
            Self::All => None,
            Self::Public => Some(Visibility::Public),
            Self::Private => Some(Visibility::Private),
        }
    }
}

/// The search query: trimmed, 1–500 characters, lower-cased (matching is case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(String);

impl SearchText {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let cleaned: String = raw
            .chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
            .collect();
        let text = cleaned.trim();
        if text.is_empty() {
            return Err(DomainError::invalid("query must not be empty")
                .suggest("pass the words to look for, e.g. {\"query\": \"database timeout\"}"));
        }
        let chars = text.chars().count();
        if chars > QUERY_MAX_CHARS {
            return Err(DomainError::invalid(format!(
                "query has {chars} characters; the limit is {QUERY_MAX_CHARS}"
            ))
            .suggest("search for the few distinctive words instead of a whole passage"));
        }
        Ok(Self(text.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `fuzzy_threshold`: the minimum score (0–100) a result needs.
pub fn parse_threshold(raw: Option<f64>) -> Result<f64, DomainError> {
    let value = raw.unwrap_or(DEFAULT_THRESHOLD);
    if !(0.0..=100.0).contains(&value) {
        return Err(DomainError::invalid(format!(
            "fuzzy_threshold must be between 0 and 100; got {value}"
        ))
        .suggest(
            "60 (the default) finds typos and partial words; 80 or more keeps close matches only",
        ));
    }
    Ok(value)
}

/// `high` (≥ 80), `medium` (≥ 60) or `low`, as the Python server labelled scores.
pub fn relevance(score: f64) -> &'static str {
    if score >= 80.0 {
        "high"
    } else if score >= 60.0 {
        "medium"
    } else {
        "low"
    }
}

/// A formula over case-insensitive substring tests of a message's searchable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextMatch {
    Contains(String),
    All(Vec<TextMatch>),
    Any(Vec<TextMatch>),
}

impl TextMatch {
    /// Every substring the formula tests, each once, in first-use order.
    pub fn substrings(&self) -> Vec<&str> {
        fn walk<'a>(m: &'a TextMatch, out: &mut Vec<&'a str>) {
            match m {
                TextMatch::Contains(s) => {
                    if !out.contains(&s.as_str()) {
                        out.push(s);
                    }
                }
                TextMatch::All(items) | TextMatch::Any(items) => {
                    items.iter().for_each(|i| walk(i, out))
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

/// One candidate query: the newest `limit` readable messages whose text satisfies `matches`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateTier {
    pub matches: TextMatch,
    pub limit: u32,
}

/// The first tier: messages containing the whole query. Each scores 100, and ties rank newest
/// first, so when it fills `limit` the answer is complete without fuzzy tiers.
pub fn exact_tier(query: &SearchText, limit: u32) -> CandidateTier {
    CandidateTier {
        matches: TextMatch::Contains(query.as_str().to_owned()),
        limit,
    }
}

/// The fuzzy tiers, strongest first: every word present; every word present up to a typo (two of
/// its fragments); any word present up to a typo. Words shorter than 4 characters ("the", "api")
/// only count through the exact tier and scoring: as filters they select most of a session.
pub fn fuzzy_tiers(query: &SearchText) -> Vec<CandidateTier> {
    let words = query_words(query.as_str());
    let mut tiers: Vec<TextMatch> = Vec::new();
    if words.len() >= 2 {
        tiers.push(TextMatch::All(
            words
                .iter()
                .map(|w| TextMatch::Contains(w.clone()))
                .collect(),
        ));
    }
    let fuzzy: Vec<TextMatch> = words.iter().map(|w| word_match(w)).collect();
    match fuzzy.len() {
        0 => {}
        1 => tiers.push(fuzzy[0].clone()),
        _ => {
            tiers.push(TextMatch::All(fuzzy.clone()));
            tiers.push(TextMatch::Any(fuzzy));
        }
    }
    let exact = TextMatch::Contains(query.as_str().to_owned());
    tiers.retain(|t| *t != exact);
    tiers
        .into_iter()
        .map(|matches| CandidateTier {
            matches,
            limit: FUZZY_TIER_ROWS,
        })
        .collect()
}

/// Distinct words of 4+ characters, longest first, at most `MAX_WORDS`.
fn query_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in query.split(|c: char| !c.is_alphanumeric()) {
        if w.chars().count() >= 4 && !words.iter().any(|x| x == w) {
            words.push(w.to_owned());
        }
    }
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    words.truncate(MAX_WORDS);
    words
}

/// A word up to a typo: any two of three fragments spread over it (3-grams up to 6 characters,
/// 4-grams above: first, middle, last). One edit breaks only the fragments overlapping it, so a
/// word with one typo usually keeps two; words of 4 characters must match whole.
fn word_match(word: &str) -> TextMatch {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() <= 4 {
        return TextMatch::Contains(word.to_owned());
    }
    let k = if chars.len() <= 6 { 3 } else { 4 };
    let all: Vec<String> = chars.windows(k).map(|w| w.iter().collect()).collect();
    let picked: Vec<String> = if all.len() <= MAX_FRAGMENTS {
        all
    } else {
        (0..MAX_FRAGMENTS)
            .map(|i| all[i * (all.len() - 1) / (MAX_FRAGMENTS - 1)].clone())
            .collect()
    };
    let mut pairs = Vec::new();
    for i in 0..picked.len() {
        for j in i + 1..picked.len() {
            pairs.push(TextMatch::All(vec![
                TextMatch::Contains(picked[i].clone()),
                TextMatch::Contains(picked[j].clone()),
            ]));
        }
    }
    TextMatch::Any(pairs)
}

/// Top-level metadata values a search matches (strings, numbers, `true`), as the Python server
/// chose them (falsy values skipped), in key order. Nested objects and arrays are not searched.
pub fn metadata_text(metadata: &Map<String, Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for value in metadata.values() {
        match value {
            Value::String(s) if !s.is_empty() => parts.push(s.clone()),
            Value::Number(n) if n.as_f64() != Some(0.0) => parts.push(n.to_string()),
            Value::Bool(true) => parts.push("true".into()),
            _ => {}
        }
    }
    parts.join(" ")
}

/// The lower-cased text a message is scored on: its content, then (when asked) its metadata
/// values. The sender id is not part of it (the Python server mixed it in, so a query equal to an
/// agent's name matched all its messages).
pub fn searchable_text(
    content: &str,
    metadata: &Map<String, Value>,
    with_metadata: bool,
) -> String {
    let mut text = content.to_lowercase();
    if with_metadata {
        let meta = metadata_text(metadata);
        if !meta.is_empty() {
            text.push(' ');
            text.push_str(&meta.to_lowercase());
        }
    }
    text
}

/// At most 150 characters of `content` around the match starting at character `at` (when the
/// match lies in the content), with "..." where text was cut.
pub fn match_preview(content: &str, at: Option<usize>) -> String {
    const WIDTH: usize = 150;
    let chars: Vec<char> = content.chars().collect();
    if chars.len() <= WIDTH {
        return content.to_owned();
    }
    let start = at.map_or(0, |a| a.saturating_sub(40).min(chars.len() - WIDTH));
    let mut out = String::new();
    if start > 0 {
        out.push_str("...");
    }
    out.extend(&chars[start..start + WIDTH]);
    if start + WIDTH < chars.len() {
        out.push_str("...");
    }
    out
}

/// A `start_time` / `end_time`: RFC 3339 (`2025-01-15T10:30:00Z`, `…+02:00`); without an offset
/// the time is UTC; a date alone (`2025-01-15`) is the start of that day, or its last microsecond
/// when `end_of_day` (so an end date covers the whole day).
pub fn parse_instant(
    raw: &str,
    field: &str,
    end_of_day: bool,
) -> Result<DateTime<Utc>, DomainError> {
    let text = raw.trim();
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
            .map(|t| t.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| {
                let time = if end_of_day {
                    NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap_or_default()
                } else {
                    NaiveTime::MIN
                };
                d.and_time(time).and_utc()
            })
        });
    let shown: String = text.chars().take(60).collect();
    let value = parsed.ok_or_else(|| {
        DomainError::new(ErrorCode::InvalidDatetime, format!("{field} '{shown}' is not a date-time"))
            .suggest(format!(
                "use RFC 3339, e.g. {field}: \"2025-01-15T10:30:00Z\" or \"2025-01-15T12:30:00+02:00\"; without an offset UTC is assumed; a date alone (2025-01-15) covers that whole day"
            ))
    })?;
    // Stored timestamps have microsecond precision.
    Ok(DateTime::from_timestamp_micros(value.timestamp_micros()).unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scope_and_query_rules() {
        assert_eq!(SearchScope::parse(None).unwrap(), SearchScope::All);
        assert_eq!(
            SearchScope::parse(Some("private")).unwrap().only(),
            Some(Visibility::Private)
        );
        let err = SearchScope::parse(Some("everything")).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(err.message.contains("all, public or private"));
        assert_eq!(
            SearchText::parse("  DataBase ").unwrap().as_str(),
            "database"
        );
        assert!(SearchText::parse(" \n ").is_err());
        assert!(SearchText::parse(&"x".repeat(501)).is_err());
        assert!(SearchText::parse(&"é".repeat(500)).is_ok());
        assert!(parse_threshold(Some(100.5)).is_err());
        assert!(parse_threshold(Some(f64::NAN)).is_err());
        assert_eq!(parse_threshold(None).unwrap(), 60.0);
    }

    #[test]
    fn tiers_tolerate_one_typo_per_word() {
        let q = SearchText::parse("databse index").unwrap();
        let tiers = fuzzy_tiers(&q);
        assert_eq!(tiers.len(), 3);
        assert_eq!(
            tiers[0].matches,
            TextMatch::All(vec![
                TextMatch::Contains("databse".into()),
                TextMatch::Contains("index".into())
            ])
        );
        // "database" keeps two of the 4-grams of "databse" ("data", "atab").
        let subs = tiers[1].matches.substrings();
        assert!(subs.contains(&"data") && subs.contains(&"atab"), "{subs:?}");
        let single = fuzzy_tiers(&SearchText::parse("db").unwrap());
        assert!(single.is_empty());
        let word = fuzzy_tiers(&SearchText::parse("pool").unwrap());
        assert!(
            word.is_empty(),
            "a short single word is the exact tier already"
        );
        let long = fuzzy_tiers(&SearchText::parse("internationalization").unwrap());
        assert_eq!(long[0].matches.substrings().len(), MAX_FRAGMENTS);
    }

    #[test]
    fn searchable_text_follows_python_minus_sender() {
        let meta = json!({"topic": "DB", "n": 0, "ok": true, "off": false, "empty": "", "nested": {"x": "y"}, "v": 1.5});
        let map = meta.as_object().unwrap();
        assert_eq!(metadata_text(map), "true DB 1.5");
        assert_eq!(searchable_text("Hello", map, true), "hello true db 1.5");
        assert_eq!(searchable_text("Hello", map, false), "hello");
    }

    #[test]
    fn previews_center_on_the_match() {
        let content = format!("{}needle{}", "a".repeat(300), "b".repeat(300));
        let p = match_preview(&content, Some(300));
        assert!(p.starts_with("...") && p.ends_with("...") && p.contains("needle"));
        assert_eq!(match_preview("short", Some(0)), "short");
        assert!(match_preview(&content, None).starts_with("aaa"));
    }

    #[test]
    fn instants() {
        let z = parse_instant("2025-01-15T10:30:00Z", "start_time", false).unwrap();
        assert_eq!(
            parse_instant("2025-01-15T12:30:00+02:00", "start_time", false).unwrap(),
            z
        );
        assert_eq!(
            parse_instant("2025-01-15T10:30:00", "start_time", false).unwrap(),
            z
        );
        assert_eq!(
            parse_instant("2025-01-15 10:30:00.000", "start_time", false).unwrap(),
            z
        );
        let day_end = parse_instant("2025-01-15", "end_time", true).unwrap();
        assert_eq!(crate::util::rfc3339(day_end), "2025-01-15T23:59:59.999999Z");
        let err = parse_instant("yesterday", "end_time", true).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidDatetime);
        assert!(err.suggestions[0].contains("2025-01-15T10:30:00Z"));
    }
}
