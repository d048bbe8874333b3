//! Agent memory rules: keys, scopes, time-to-live and value size, parsed at the edge. No I/O here.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::{DomainError, ErrorCode};
use super::input::{SessionId, json_kind};

/// The longest memory key, in characters.
pub const MAX_KEY_CHARS: usize = 255;
/// The longest time-to-live: one year (365 days), in seconds.
pub const MAX_TTL_SECONDS: i64 = 31_536_000;

/// Size limits for memory values; the default is 1 MiB of serialised JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimits {
    pub value_max_bytes: usize,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        Self {
            value_max_bytes: 1 << 20,
        }
    }
}

/// A memory key: trimmed, 1-255 characters, no whitespace or control characters inside.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemoryKey(String);

impl MemoryKey {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let key = raw.trim();
        let bad = |why: String| {
            DomainError::new(ErrorCode::InvalidKey, why).suggest(
                "use a key like \"project/plan\" or \"build.status\": 1-255 characters, no spaces",
            )
        };
        if key.is_empty() {
            return Err(bad("key must not be empty".into()));
        }
        let chars = key.chars().count();
        if chars > MAX_KEY_CHARS {
            return Err(bad(format!(
                "key has {chars} characters; the limit is {MAX_KEY_CHARS}"
            )));
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(
                "key must not contain spaces, tabs, newlines or other control characters".into(),
            ));
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MemoryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A `list_memory` prefix: trimmed, possibly empty, and only characters a key may hold (so
/// nothing a key cannot contain reaches the database). Matched literally, never as a pattern.
pub fn parse_prefix(raw: Option<&str>) -> Result<String, DomainError> {
    let prefix = raw.map(str::trim).unwrap_or("");
    if prefix.chars().count() > MAX_KEY_CHARS
        || prefix.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(DomainError::new(
            ErrorCode::InvalidKey,
            "prefix must be at most 255 characters, without spaces or control characters",
        )
        .suggest("pass the start of your keys, e.g. \"plan/\", or leave prefix out"));
    }
    Ok(prefix.to_owned())
}

/// True when `session_id` means "no session": absent, blank, or the literal string "null"
/// (which the Python server's clients send).
fn is_null_session(raw: Option<&str>) -> bool {
    raw.map(str::trim)
        .is_none_or(|s| s.is_empty() || s == "null")
}

/// Where one memory entry lives: the agent's global space or one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryScope {
    Global,
    Session(SessionId),
}

impl MemoryScope {
    pub fn parse(raw: Option<&str>) -> Result<Self, DomainError> {
        if is_null_session(raw) {
            return Ok(Self::Global);
        }
        Ok(Self::Session(SessionId::parse(raw.unwrap_or_default())?))
    }

    pub fn session_id(&self) -> Option<&SessionId> {
        match self {
            Self::Global => None,
            Self::Session(id) => Some(id),
        }
    }

    /// `global` or `session`, as results name it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Session(_) => "session",
        }
    }
}

/// Which scopes `list_memory` reads: global only, one session, or everything ("all").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeFilter {
    Only(MemoryScope),
    All,
}

impl ScopeFilter {
    pub fn parse(raw: Option<&str>) -> Result<Self, DomainError> {
        match raw.map(str::trim) {
            Some(s) if s.eq_ignore_ascii_case("all") => Ok(Self::All),
            _ => Ok(Self::Only(MemoryScope::parse(raw)?)),
        }
    }

    /// `global`, `all`, or the session id, as `scope_filter` in results.
    pub fn label(&self) -> &str {
        match self {
            Self::All => "all",
            Self::Only(MemoryScope::Global) => "global",
            Self::Only(MemoryScope::Session(id)) => id.as_str(),
        }
    }
}

/// A time-to-live in whole seconds, 1 … one year; `None` means the entry never expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ttl(Option<i64>);

impl Ttl {
    /// Accepts an integer, a numeric string (as the Python server did), null, or 0 (permanent).
    pub fn parse(raw: Option<&Value>) -> Result<Self, DomainError> {
        let (seconds, shown) = match raw {
            None | Some(Value::Null) => return Ok(Self(None)),
            Some(Value::Number(n)) => {
                let seconds = match (n.as_i64(), n.as_f64()) {
                    (Some(v), _) => v,
                    (None, _) if n.is_u64() => i64::MAX,
                    // `as` saturates, so huge whole numbers stay out of range.
                    (None, Some(f)) if f.is_finite() && f.fract() == 0.0 => f as i64,
                    _ => return Err(Self::format_error(&n.to_string())),
                };
                (seconds, n.to_string())
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() || s == "null" {
                    return Ok(Self(None));
                }
                let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
                let seconds = match s.parse::<i64>() {
                    Ok(v) => v,
                    // A whole number too long for i64 is out of range, not malformed.
                    Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                        if s.starts_with('-') {
                            i64::MIN
                        } else {
                            i64::MAX
                        }
                    }
                    Err(_) => return Err(Self::format_error(s)),
                };
                (seconds, s.to_owned())
            }
            Some(other) => return Err(Self::format_error(json_kind(other))),
        };
        if seconds == 0 {
            return Ok(Self(None));
        }
        if !(1..=MAX_TTL_SECONDS).contains(&seconds) {
            return Err(DomainError::new(
                ErrorCode::InvalidTtlValue,
                format!(
                    "expires_in must be between 1 and {MAX_TTL_SECONDS} seconds (one year); got {}",
                    shown.chars().take(40).collect::<String>()
                ),
            )
            .suggest("pass expires_in in seconds, e.g. 3600 for an hour, or leave it out to keep the entry"));
        }
        Ok(Self(Some(seconds)))
    }

    fn format_error(got: &str) -> DomainError {
        let got: String = got.chars().take(40).collect();
        DomainError::new(
            ErrorCode::InvalidTtlFormat,
            format!("expires_in must be a whole number of seconds; got {got}"),
        )
        .suggest("pass expires_in as an integer such as 3600, or leave it out to keep the entry")
    }

    pub fn seconds(self) -> Option<i64> {
        self.0
    }

    /// When an entry written at `now` expires, if ever.
    pub fn expires_at(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.map(|s| now + chrono::Duration::seconds(s))
    }
}

/// A memory value: any JSON, at most `value_max_bytes` serialised, with no NUL characters
/// (PostgreSQL cannot store them, and both backends must keep the same data).
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryValue {
    value: Value,
    json: String,
}

impl MemoryValue {
    pub fn parse(value: Value, limits: &MemoryLimits) -> Result<Self, DomainError> {
        let json = serde_json::to_string(&value)
            .map_err(|e| DomainError::invalid(format!("value cannot be stored as JSON: {e}")))?;
        if json.len() > limits.value_max_bytes {
            return Err(DomainError::new(
                ErrorCode::ValueTooLarge,
                format!(
                    "value is {} bytes as JSON; the limit is {}",
                    json.len(),
                    limits.value_max_bytes
                ),
            )
            .suggest("store a smaller value, or split it over several keys such as \"report/1\", \"report/2\""));
        }
        if contains_nul(&value) {
            return Err(
                DomainError::invalid("value must not contain NUL (\\u0000) characters")
                    .suggest("remove the NUL characters, or encode binary data as base64 text"),
            );
        }
        Ok(Self { value, json })
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The serialised JSON, as stored on SQLite.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// Size of the serialised JSON in bytes (`value_size` in results).
    pub fn size(&self) -> usize {
        self.json.len()
    }

    pub fn into_value(self) -> Value {
        self.value
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys() {
        assert_eq!(
            MemoryKey::parse("  a/b.c%_ü ").unwrap().as_str(),
            "a/b.c%_ü"
        );
        for bad in ["", "   ", "a b", "a\tb", "a\nb", "a\u{0}b"] {
            assert_eq!(
                MemoryKey::parse(bad).unwrap_err().code,
                ErrorCode::InvalidKey,
                "{bad:?}"
            );
        }
        assert!(MemoryKey::parse(&"k".repeat(255)).is_ok());
        assert_eq!(
            MemoryKey::parse(&"k".repeat(256)).unwrap_err().code,
            ErrorCode::InvalidKey
        );
        assert!(
            MemoryKey::parse(&"é".repeat(255)).is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn prefixes() {
        assert_eq!(parse_prefix(None).unwrap(), "");
        assert_eq!(parse_prefix(Some(" p%_ ")).unwrap(), "p%_");
        for bad in ["a b", "a\u{0}", &"k".repeat(256)] {
            assert_eq!(
                parse_prefix(Some(bad)).unwrap_err().code,
                ErrorCode::InvalidKey
            );
        }
    }

    #[test]
    fn scopes() {
        assert_eq!(MemoryScope::parse(None).unwrap(), MemoryScope::Global);
        assert_eq!(
            MemoryScope::parse(Some("null")).unwrap(),
            MemoryScope::Global
        );
        assert_eq!(MemoryScope::parse(Some(" ")).unwrap(), MemoryScope::Global);
        let id = "session_0123456789abcdef";
        assert_eq!(
            MemoryScope::parse(Some(id))
                .unwrap()
                .session_id()
                .unwrap()
                .as_str(),
            id
        );
        assert_eq!(
            MemoryScope::parse(Some("all")).unwrap_err().code,
            ErrorCode::InvalidSessionId
        );
        assert_eq!(ScopeFilter::parse(Some("ALL")).unwrap(), ScopeFilter::All);
        assert_eq!(ScopeFilter::parse(None).unwrap().label(), "global");
        assert_eq!(ScopeFilter::parse(Some(id)).unwrap().label(), id);
    }

    #[test]
    fn ttl() {
        let ok = |v: Value| Ttl::parse(Some(&v)).unwrap().seconds();
        let code = |v: Value| Ttl::parse(Some(&v)).unwrap_err().code;
        assert_eq!(Ttl::parse(None).unwrap().seconds(), None);
        assert_eq!(ok(json!(null)), None);
        assert_eq!(ok(json!(0)), None);
        assert_eq!(ok(json!("0")), None);
        assert_eq!(ok(json!(1)), Some(1));
        assert_eq!(ok(json!(" 60 ")), Some(60));
        assert_eq!(ok(json!(120.0)), Some(120));
        assert_eq!(ok(json!(31_536_000)), Some(31_536_000));
        for v in [
            json!(-1),
            json!("-5"),
            json!(31_536_001),
            json!(u64::MAX),
            json!("99999999999999999999"),
            json!(1e300),
        ] {
            assert_eq!(code(v.clone()), ErrorCode::InvalidTtlValue, "{v}");
        }
        for v in [
            json!("abc"),
            json!("1.5"),
            json!(1.5),
            json!(true),
            json!([1]),
            json!({}),
        ] {
            assert_eq!(code(v.clone()), ErrorCode::InvalidTtlFormat, "{v}");
        }
    }

    #[test]
    fn values() {
        let limits = MemoryLimits {
            value_max_bytes: 10,
        };
        for v in [
            json!(null),
            json!(1),
            json!("s"),
            json!([1, 2]),
            json!({"a": 1}),
        ] {
            let parsed = MemoryValue::parse(v.clone(), &limits).unwrap();
            assert_eq!(parsed.size(), v.to_string().len());
            assert_eq!(parsed.into_value(), v);
        }
        assert_eq!(
            MemoryValue::parse(json!("x".repeat(9)), &limits)
                .unwrap_err()
                .code,
            ErrorCode::ValueTooLarge
        );
        assert_eq!(
            MemoryValue::parse(json!(["\u{0}"]), &limits)
                .unwrap_err()
                .code,
            ErrorCode::InvalidInput
        );
        assert!(
            MemoryValue::parse(json!("\\u0000"), &limits).is_ok(),
            "an escaped text is not NUL"
        );
    }
}
