//! Validated tool inputs: session ids, message content, purposes, metadata and page sizes.

use std::fmt;

use serde_json::{Map, Value};

use super::error::{DomainError, ErrorCode};

/// Size limits an operator may tune; enforced before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    pub content_max_chars: usize,
    pub purpose_max_chars: usize,
    pub metadata_max_bytes: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            content_max_chars: 100_000,
            purpose_max_chars: 1_000,
            metadata_max_bytes: 10_240,
        }
    }
}

/// `session_<16 lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let raw = raw.trim();
        let valid = raw.strip_prefix("session_").is_some_and(|hex| {
            hex.len() == 16
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::new(
                ErrorCode::InvalidSessionId,
                format!(
                    "'{}' is not a session id; ids look like session_0123456789abcdef",
                    truncate(raw, 40)
                ),
            )
            .suggest("call list_sessions to find session ids, or create_session to make one"))
        }
    }

    pub fn generate() -> Self {
        let bytes: [u8; 8] = rand::random();
        Self(format!("session_{}", crate::util::hex(&bytes)))
    }

    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Removes C0 control characters other than tab, newline and carriage return. PostgreSQL cannot
/// store NUL, and both backends must keep the same text, so both get the cleaned string.
fn strip_controls(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
        .collect()
}

/// Message content: not blank, at most `content_max_chars` characters, stored as given otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content(String);

impl Content {
    pub fn parse(raw: &str, limits: &InputLimits) -> Result<Self, DomainError> {
        let text = strip_controls(raw);
        if text.trim().is_empty() {
            return Err(DomainError::invalid(
                "content must not be empty or only whitespace",
            ));
        }
        let chars = text.chars().count();
        if chars > limits.content_max_chars {
            return Err(DomainError::new(
                ErrorCode::ContentTooLarge,
                format!(
                    "content has {chars} characters; the limit is {}",
                    limits.content_max_chars
                ),
            )
            .suggest(
                "split the content into several messages, or store large data with set_memory",
            ));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A session's purpose: not blank, trimmed, at most `purpose_max_chars` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose(String);

impl Purpose {
    pub fn parse(raw: &str, limits: &InputLimits) -> Result<Self, DomainError> {
        let text = strip_controls(raw).trim().to_owned();
        if text.is_empty() {
            return Err(DomainError::invalid(
                "purpose must not be empty; say what the session is for",
            ));
        }
        if text.chars().count() > limits.purpose_max_chars {
            return Err(DomainError::invalid(format!(
                "purpose is longer than {} characters; put details in metadata or a first message",
                limits.purpose_max_chars
            )));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Metadata: a JSON object (null means empty), at most `metadata_max_bytes` when serialised.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    pub fn parse(raw: Option<Value>, limits: &InputLimits) -> Result<Self, DomainError> {
        let map = match raw {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(DomainError::new(
                    ErrorCode::InvalidMetadataFormat,
                    format!("metadata must be a JSON object, not {}", json_kind(&other)),
                )
                .suggest("pass metadata like {\"topic\": \"db\"}, or leave it out"));
            }
        };
        let size = serde_json::to_string(&map)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if size > limits.metadata_max_bytes {
            return Err(DomainError::new(
                ErrorCode::MetadataTooLarge,
                format!(
                    "metadata is {size} bytes as JSON; the limit is {}",
                    limits.metadata_max_bytes
                ),
            )
            .suggest(
                "keep metadata small; put large data in the message content or in set_memory",
            ));
        }
        if contains_nul(&Value::Object(map.clone())) {
            return Err(DomainError::new(
                ErrorCode::InvalidMetadataFormat,
                "metadata strings must not contain NUL characters",
            ));
        }
        Ok(Self(map))
    }

    pub fn from_trusted(map: Map<String, Value>) -> Self {
        Self(map)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn to_json_string(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A page size checked against a tool's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub fn parse(
        raw: Option<i64>,
        default: u32,
        max: u32,
        field: &str,
    ) -> Result<Self, DomainError> {
        let value = raw.unwrap_or(i64::from(default));
        if value < 1 || value > i64::from(max) {
            return Err(DomainError::new(
                ErrorCode::InvalidLimit,
                format!("{field} must be between 1 and {max}; got {value}"),
            )
            .suggest(format!(
                "use a {field} from 1 to {max} and page with offset or after_id"
            )));
        }
        Ok(Self(value as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// The deepest `offset` a read accepts. Skipping rows costs one index entry and one row each, so
/// an offset read grows with the offset; capping it keeps every page within a fixed cost
/// (10,000 rows: ~5 ms on PostgreSQL), and `after_id` (a keyset: the scan starts at the id)
/// pages any depth at the cost of the first page.
pub const MAX_OFFSET: i64 = 10_000;

/// `offset`: 0 to [`MAX_OFFSET`].
pub fn offset(raw: Option<i64>) -> Result<i64, DomainError> {
    let value = non_negative(raw, "offset")?;
    if value > MAX_OFFSET {
        return Err(DomainError::invalid(format!(
            "offset must be at most {MAX_OFFSET}; got {value}"
        ))
        .suggest(
            "page deep sessions with after_id: pass next_after_id from the previous page (get_session returns the newest messages)",
        ));
    }
    Ok(value)
}

/// A non-negative integer argument such as `offset` or `after_id`.
pub fn non_negative(raw: Option<i64>, field: &str) -> Result<i64, DomainError> {
    match raw {
        Some(v) if v < 0 => Err(DomainError::invalid(format!(
            "{field} must be 0 or more; got {v}"
        ))),
        other => Ok(other.unwrap_or(0)),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
#[path = "input_props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_id_shape() {
        assert!(SessionId::parse("session_0123456789abcdef").is_ok());
        assert!(SessionId::parse("session_0123456789ABCDEF").is_err());
        assert!(SessionId::parse("session_123").is_err());
        assert!(SessionId::parse("' OR 1=1 --").is_err());
        let generated = SessionId::generate();
        assert!(SessionId::parse(generated.as_str()).is_ok());
    }

    #[test]
    fn content_rules() {
        let limits = InputLimits {
            content_max_chars: 5,
            ..InputLimits::default()
        };
        assert_eq!(
            Content::parse(" \n\t", &limits).unwrap_err().code,
            ErrorCode::InvalidInput
        );
        assert_eq!(
            Content::parse("123456", &limits).unwrap_err().code,
            ErrorCode::ContentTooLarge
        );
        assert_eq!(Content::parse("ab\u{0}c", &limits).unwrap().as_str(), "abc");
        assert_eq!(Content::parse("héllo", &limits).unwrap().as_str(), "héllo");
    }

    #[test]
    fn metadata_rules() {
        let limits = InputLimits {
            metadata_max_bytes: 20,
            ..InputLimits::default()
        };
        assert!(Metadata::parse(None, &limits).unwrap().as_map().is_empty());
        assert!(
            Metadata::parse(Some(Value::Null), &limits)
                .unwrap()
                .as_map()
                .is_empty()
        );
        assert_eq!(
            Metadata::parse(Some(json!([1])), &limits).unwrap_err().code,
            ErrorCode::InvalidMetadataFormat
        );
        assert_eq!(
            Metadata::parse(Some(json!({"k": "x".repeat(30)})), &limits)
                .unwrap_err()
                .code,
            ErrorCode::MetadataTooLarge
        );
    }

    #[test]
    fn limit_range() {
        assert_eq!(Limit::parse(None, 50, 1000, "limit").unwrap().get(), 50);
        assert_eq!(
            Limit::parse(Some(0), 50, 1000, "limit").unwrap_err().code,
            ErrorCode::InvalidLimit
        );
        assert_eq!(
            Limit::parse(Some(1001), 50, 1000, "limit")
                .unwrap_err()
                .code,
            ErrorCode::InvalidLimit
        );
    }
}
