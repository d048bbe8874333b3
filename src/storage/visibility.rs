//! The visibility rule as SQL, written once for both dialects (`domain::visibility` is the same
//! rule in Rust). Every read query binds the reader as `$1` kind, `$2` agent id, `$3` agent type
//! ([`reader_binds`]).

use crate::domain::Reader;

/// The three values the SQL predicate binds for `reader`: kind, agent id, agent type.
pub(crate) fn reader_binds(reader: &Reader) -> (&'static str, &str, &str) {
    match reader {
        Reader::Admin => ("admin", "", ""),
        Reader::Agent {
            agent_id,
            agent_type,
        } => ("agent", agent_id, agent_type),
        Reader::PublicOnly => ("public", "", ""),
    }
}

/// SQL condition over alias `m`: messages the reader bound at `$1..$3` may read. A private
/// message with recipients (a direct message) is also readable by each recipient: one primary-key
/// probe of `message_recipients`, made only for private messages the reader did not send.
macro_rules! visible_to_reader {
    () => {
        "(m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND \
         ((m.visibility = 'private' AND (m.sender = $2 OR EXISTS (SELECT 1 FROM message_recipients r \
           WHERE r.message_id = m.id AND r.agent_id = $2))) \
          OR (m.visibility = 'agent_only' AND m.sender_type = $3))))"
    };
}

/// The same rule over the per-sender counts (alias `m`, no message ids): everything but the
/// recipient case, which `COUNT_SESSION_MESSAGES` adds from `message_recipients` (a recipient is
/// never the sender, so nothing is counted twice).
macro_rules! visible_by_sender {
    () => {
        "(m.visibility = 'public' OR $1 = 'admin' OR ($1 = 'agent' AND \
         ((m.visibility = 'private' AND m.sender = $2) OR (m.visibility = 'agent_only' AND m.sender_type = $3))))"
    };
}

/// The whole WHERE clause of a message read: session `$4`, optional visibility `$5`, ids above `$6`.
macro_rules! message_read_where {
    () => {
        concat!(
            " WHERE m.session_id = $4 AND ",
            $crate::storage::visibility::visible_to_reader!(),
            " AND ($5 IS NULL OR m.visibility = $5) AND m.id > $6 "
        )
    };
}

/// The number of messages in session `$4` the reader (`$1..$3`) may read, optionally only of
/// visibility `$5`, summed from the per-sender counts that migration 0005's triggers keep: constant
/// time, where counting the messages grows with the session. It binds what a message read binds;
/// counts hold no ids, so it answers only for `$6` = 0 (the whole session). Both dialects.
pub const COUNT_SESSION_MESSAGES: &str = concat!(
    "SELECT CAST(COALESCE(SUM(m.n), 0) AS BIGINT) + (SELECT COUNT(*) FROM message_recipients r \
       WHERE $1 = 'agent' AND r.agent_id = $2 AND r.session_id = $4 AND ($5 IS NULL OR $5 = 'private') \
       AND CAST($6 AS BIGINT) = 0) \
     FROM session_message_counts m WHERE m.session_id = $4 AND ",
    visible_by_sender!(),
    " AND ($5 IS NULL OR m.visibility = $5) AND CAST($6 AS BIGINT) = 0"
);

/// The count statement for a read from `after_id`: the per-sender sum for a whole session,
/// `scan` (that backend's row count) from a cursor on.
pub(crate) fn count_statement(after_id: i64, scan: &'static str) -> &'static str {
    if after_id == 0 {
        COUNT_SESSION_MESSAGES
    } else {
        scan
    }
}

/// The visibility condition as text, for checks that other copies (migration 0007's PostgreSQL
/// functions) say the same.
pub const VISIBLE_TO_READER: &str = visible_to_reader!();

pub(crate) use message_read_where;
pub(crate) use visible_to_reader;

#[cfg(test)]
mod tests {
    use super::*;

    /// The binds name the reader kinds the predicate tests for (`'admin'`, `'agent'`), and an
    /// agent's own id and type.
    #[test]
    fn binds_name_the_reader() {
        assert_eq!(reader_binds(&Reader::Admin), ("admin", "", ""));
        assert_eq!(reader_binds(&Reader::PublicOnly), ("public", "", ""));
        let agent = Reader::Agent {
            agent_id: "a1".into(),
            agent_type: "claude".into(),
        };
        assert_eq!(reader_binds(&agent), ("agent", "a1", "claude"));
        assert!(visible_to_reader!().contains("$1 = 'admin'"));
        assert!(visible_to_reader!().contains("$1 = 'agent'"));
    }
}
