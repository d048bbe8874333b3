//! Direct messages as rules: who a message is addressed to, the inbox cursor, and the loop guards
//! (reply depth and a per-pair rate). No I/O; the service applies them, storage stores the result.

use chrono::{DateTime, Utc};

use super::error::{DomainError, ErrorCode};
use super::fuzzy;
use super::identity::AgentId;

/// At most this many recipients per direct message.
pub const MAX_RECIPIENTS: usize = 20;

/// The recipients of a direct message: 1-20 distinct agent ids, in the order given, never the
/// sender (a message to oneself alone is refused: it would be a private note, which `private`
/// already is).
pub fn parse_recipients(raw: &[String], sender: &str) -> Result<Vec<String>, DomainError> {
    if raw.is_empty() || raw.len() > MAX_RECIPIENTS {
        return Err(DomainError::invalid(format!(
            "to must list 1 to {MAX_RECIPIENTS} agent ids; got {}",
            raw.len()
        ))
        .suggest("leave `to` out to post to the whole session"));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for id in raw {
        let id =
            AgentId::parse(id).map_err(|e| DomainError::invalid(format!("to: {}", e.message)))?;
        let id = id.as_str();
        if id != sender && !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    if out.is_empty() {
        return Err(
            DomainError::invalid("to must name at least one agent other than you")
                .suggest("use visibility \"private\" for a note only you can read"),
        );
    }
    Ok(out)
}

/// `RECIPIENT_NOT_FOUND` for `unknown`, with up to 3 similar ids among `known`.
pub fn recipients_not_found(unknown: &[String], known: &[String]) -> DomainError {
    let mut scored: Vec<(f64, &String)> = known
        .iter()
        .filter(|k| !unknown.contains(k))
        .map(|k| {
            let best = unknown
                .iter()
                .map(|u| fuzzy::ratio(&u.to_lowercase(), &k.to_lowercase()))
                .fold(0.0, f64::max);
            (best, k)
        })
        .filter(|(score, _)| *score >= 50.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut err = DomainError::new(
        ErrorCode::RecipientNotFound,
        format!(
            "no agent named {} has ever authenticated here; nothing was posted",
            unknown
                .iter()
                .map(|u| format!("'{u}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    for (_, id) in scored.into_iter().take(3) {
        err = err.suggest(id.clone());
    }
    if err.suggestions.is_empty() {
        err = err.suggest(ErrorCode::RecipientNotFound.default_suggestion());
    }
    err
}

/// The inbox cursor: the id of the last message read (0: from the start). Opaque to clients,
/// who pass back `next_cursor`; a number or its decimal string is accepted.
pub fn parse_cursor(raw: Option<&str>) -> Result<i64, DomainError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(0),
        Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            DomainError::invalid(format!("after_cursor '{v}' is not a cursor from get_inbox"))
                .suggest("pass next_cursor from your previous get_inbox, or leave it out to read from the start")
        }),
    }
}

/// The loop guards' settings.
#[derive(Debug, Clone, Copy)]
pub struct LoopGuards {
    /// Replies deeper than this are refused (`MAX_THREAD_DEPTH`).
    pub max_thread_depth: u32,
    /// Direct messages one agent may send another per minute (0: no cap).
    pub direct_per_pair_per_minute: u32,
}

impl Default for LoopGuards {
    fn default() -> Self {
        Self {
            max_thread_depth: 64,
            direct_per_pair_per_minute: 30,
        }
    }
}

/// `THREAD_TOO_DEEP` for a reply at `depth`.
pub fn check_depth(depth: u32, guards: &LoopGuards) -> Result<(), DomainError> {
    if depth > guards.max_thread_depth {
        return Err(DomainError::new(
            ErrorCode::ThreadTooDeep,
            format!(
                "this reply would be message {depth} of one reply chain; the limit is {} (MAX_THREAD_DEPTH)",
                guards.max_thread_depth
            ),
        ));
    }
    Ok(())
}

/// The window of the per-pair direct-message rate: a sliding minute, so a burst at the end of
/// one minute cannot double up with one at the start of the next.
pub const PAIR_WINDOW_SECONDS: i64 = 60;

/// Seconds until one more direct message of a pair fits, or `None` when it fits now: `sent`
/// messages of the pair within the window, the oldest at `oldest`.
pub fn pair_wait(cap: u32, sent: u64, oldest: DateTime<Utc>, now: DateTime<Utc>) -> Option<u32> {
    if cap == 0 || sent < u64::from(cap) {
        return None;
    }
    let frees_at = oldest + chrono::Duration::seconds(PAIR_WINDOW_SECONDS);
    let left = (frees_at - now).num_milliseconds().max(0) as f64 / 1000.0;
    Some(left.ceil().max(1.0) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn recipients_are_distinct_and_never_the_sender() {
        assert_eq!(
            parse_recipients(&ids(&["bob", " bob", "alice", "carol"]), "alice").unwrap(),
            ids(&["bob", "carol"])
        );
        assert!(parse_recipients(&ids(&["alice"]), "alice").is_err());
        assert!(parse_recipients(&[], "alice").is_err());
        assert!(parse_recipients(&vec!["x".to_owned(); 21], "alice").is_err());
        assert!(parse_recipients(&ids(&[""]), "alice").is_err());
    }

    #[test]
    fn unknown_recipients_get_close_suggestions() {
        let err = recipients_not_found(&ids(&["bobb"]), &ids(&["bob", "carol", "bobby", "zed"]));
        assert_eq!(err.code, ErrorCode::RecipientNotFound);
        assert_eq!(err.suggestions, ids(&["bobby", "bob"]));
        let none = recipients_not_found(&ids(&["qqq"]), &ids(&["bob"]));
        assert_eq!(none.suggestions.len(), 1);
        assert!(none.suggestions[0].contains("list_agents"));
    }

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(None).unwrap(), 0);
        assert_eq!(parse_cursor(Some("42")).unwrap(), 42);
        assert!(parse_cursor(Some("-1")).is_err());
        assert!(parse_cursor(Some("abc")).is_err());
    }

    #[test]
    fn pair_wait_counts_the_last_minute() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        assert_eq!(pair_wait(3, 2, t0, at(10)), None);
        assert_eq!(pair_wait(3, 3, t0, at(10)), Some(50));
        assert_eq!(pair_wait(3, 4, t0, at(59)), Some(1));
        assert_eq!(
            pair_wait(3, 3, t0, at(60)),
            Some(1),
            "never 0: retry after at least 1 s"
        );
        assert_eq!(pair_wait(0, 100, t0, at(1)), None, "0 turns the limit off");
    }

    #[test]
    fn depth_limit() {
        let g = LoopGuards::default();
        assert!(check_depth(64, &g).is_ok());
        assert_eq!(
            check_depth(65, &g).unwrap_err().code,
            ErrorCode::ThreadTooDeep
        );
    }
}
