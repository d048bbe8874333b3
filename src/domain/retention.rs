//! Retention: how long messages, closed sessions and audit rows are kept. The server sets the
//! defaults; a session overrides the message rule in its metadata, key by key:
//! `{"retention": {"max_age_days": 7, "max_messages": 100000}}` (`null` keeps forever).

use serde_json::{Map, Value};

use super::DomainError;

/// What a session keeps: messages younger than `max_age_days`, and its `max_messages` newest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageRetention {
    pub max_age_days: Option<u32>,
    pub max_messages: Option<u64>,
}

/// The metadata key a session's own rule lives under.
pub const METADATA_KEY: &str = "retention";

impl MessageRetention {
    /// True when nothing is ever pruned.
    pub fn keeps_everything(&self) -> bool {
        self.max_age_days.is_none() && self.max_messages.is_none()
    }

    /// The rule for a session with `metadata`: its own keys where it sets them, the server's
    /// otherwise. Metadata is validated when the session is created, so a bad value here (a
    /// session from an older server) keeps the server's rule for that key.
    pub fn for_session(&self, metadata: &Map<String, Value>) -> Self {
        let Some(Value::Object(own)) = metadata.get(METADATA_KEY) else {
            return *self;
        };
        let pick = |key: &str, server: Option<u64>| match own.get(key) {
            None => server,
            Some(Value::Null) => None,
            Some(v) => v.as_u64().filter(|n| *n > 0).or(server),
        };
        Self {
            max_age_days: pick("max_age_days", self.max_age_days.map(u64::from))
                .map(|d| d.min(u64::from(u32::MAX)) as u32),
            max_messages: pick("max_messages", self.max_messages),
        }
    }

    /// Checks a session's metadata before it is stored: `retention`, when present, is an object
    /// of `max_age_days` / `max_messages`, each a positive integer or null.
    pub fn check_metadata(metadata: &Map<String, Value>) -> Result<(), DomainError> {
        let Some(own) = metadata.get(METADATA_KEY) else {
            return Ok(());
        };
        let example = "e.g. {\"retention\": {\"max_age_days\": 30, \"max_messages\": 100000}}; null keeps forever";
        let Value::Object(own) = own else {
            return Err(DomainError::invalid(format!(
                "metadata.retention must be an object; {example}"
            )));
        };
        for (key, value) in own {
            let ok = match key.as_str() {
                "max_age_days" => {
                    value.is_null() || value.as_u64().is_some_and(|n| (1..=36_500).contains(&n))
                }
                "max_messages" => value.is_null() || value.as_u64().is_some_and(|n| n > 0),
                other => {
                    return Err(DomainError::invalid(format!(
                        "metadata.retention has an unknown key '{other}'; use max_age_days or max_messages ({example})"
                    )));
                }
            };
            if !ok {
                return Err(DomainError::invalid(format!(
                    "metadata.retention.{key} must be a positive integer (days: 1 to 36500) or null; got {value}"
                )));
            }
        }
        Ok(())
    }
}

/// The server's retention settings.
#[derive(Debug, Clone, Copy)]
pub struct RetentionSettings {
    pub messages: MessageRetention,
    /// Closed sessions (and everything in them) are deleted this many days after closing.
    pub closed_session_days: Option<u32>,
    pub audit_days: Option<u32>,
    /// How often the background pruner runs; `None`: only `shared-context-server prune`.
    pub interval: Option<std::time::Duration>,
    /// Rows per delete: each batch is one short transaction.
    pub batch: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            messages: MessageRetention::default(),
            closed_session_days: None,
            audit_days: None,
            interval: Some(std::time::Duration::from_secs(300)),
            batch: 1000,
        }
    }
}

impl RetentionSettings {
    /// True when some rule can prune (a session's own rule can, too: that is checked per session).
    pub fn server_prunes(&self) -> bool {
        !self.messages.keeps_everything()
            || self.closed_session_days.is_some()
            || self.audit_days.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn sessions_override_key_by_key() {
        let server = MessageRetention {
            max_age_days: Some(30),
            max_messages: Some(1000),
        };
        assert_eq!(server.for_session(&meta(json!({}))), server);
        let own = server.for_session(&meta(json!({"retention": {"max_messages": 10}})));
        assert_eq!(own.max_age_days, Some(30));
        assert_eq!(own.max_messages, Some(10));
        let forever = server.for_session(&meta(
            json!({"retention": {"max_age_days": null, "max_messages": null}}),
        ));
        assert!(forever.keeps_everything());
    }

    #[test]
    fn bad_rules_are_refused() {
        for bad in [
            json!({"retention": 5}),
            json!({"retention": {"max_age_days": 0}}),
            json!({"retention": {"max_messages": -1}}),
            json!({"retention": {"max_age_days": "7"}}),
            json!({"retention": {"keep": 1}}),
        ] {
            assert!(
                MessageRetention::check_metadata(&meta(bad.clone())).is_err(),
                "{bad}"
            );
        }
        for good in [
            json!({}),
            json!({"retention": {}}),
            json!({"retention": {"max_age_days": 7, "max_messages": null}}),
        ] {
            assert!(MessageRetention::check_metadata(&meta(good)).is_ok());
        }
    }
}
