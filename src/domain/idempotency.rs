//! Safe retries: idempotency keys and request fingerprints. No I/O here.
//!
//! A write made with an `idempotency_key` is recorded under (agent, key) together with a
//! fingerprint of the request: the tool name and its parsed, validated arguments in a canonical
//! JSON form (object keys sorted, no whitespace), hashed with SHA-256. Key order, spacing,
//! defaulted arguments spelled out or left away, the caller's token and the key itself therefore
//! never change the fingerprint; a different value of any argument does.

use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::{DomainError, ErrorCode};

/// The longest idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;

/// A client-chosen key naming one logical write: 1-200 characters, no control characters. Kept
/// exactly as given (not trimmed): two keys differ if any character differs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `None` (no key) stays `None`; a present key must be valid.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, DomainError> {
        raw.map(Self::parse).transpose()
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let bad = |why: String| {
            DomainError::new(ErrorCode::InvalidIdempotencyKey, why).suggest(
                "use a fresh random id per logical request, e.g. a UUID, 1-200 characters without control characters; \
                 or leave idempotency_key out",
            )
        };
        if raw.trim().is_empty() {
            return Err(bad(
                "idempotency_key must not be empty or only whitespace".into()
            ));
        }
        let chars = raw.chars().count();
        if chars > MAX_IDEMPOTENCY_KEY_CHARS {
            return Err(bad(format!(
                "idempotency_key has {chars} characters; the limit is {MAX_IDEMPOTENCY_KEY_CHARS}"
            )));
        }
        if raw.chars().any(char::is_control) {
            return Err(bad(
                "idempotency_key must not contain control characters (newlines, tabs, NUL, …)"
                    .into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 (hex) of `tool` and the canonical JSON of `args`, the validated arguments.
pub fn fingerprint(tool: &str, args: &Value) -> String {
    let mut text = String::with_capacity(128);
    text.push_str(tool);
    text.push('\n');
    canonical_json(args, &mut text);
    crate::util::hex(&Sha256::digest(text.as_bytes()))
}

/// JSON with object keys in byte order at every level and no whitespace, whatever order the
/// map keeps (so it does not depend on serde_json's `preserve_order` feature).
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The same key was used for a different request.
pub fn conflict(key: &IdempotencyKey, first_tool: &str, tool: &str) -> DomainError {
    let what = if first_tool == tool {
        format!("an earlier {tool} call with different arguments")
    } else {
        format!("an earlier {first_tool} call")
    };
    DomainError::new(
        ErrorCode::IdempotencyConflict,
        format!(
            "idempotency_key '{}' was already used for {what}; nothing was written",
            key.as_str().chars().take(60).collect::<String>()
        ),
    )
    .suggest("use a new idempotency_key for a new request; reuse a key only to retry the exact same call")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_rules() {
        assert_eq!(IdempotencyKey::parse("req-1").unwrap().as_str(), "req-1");
        assert_eq!(
            IdempotencyKey::parse(" a b ").unwrap().as_str(),
            " a b ",
            "kept as given"
        );
        assert!(IdempotencyKey::parse(&"k".repeat(200)).is_ok());
        assert!(IdempotencyKey::parse("ünïcode ✓").is_ok());
        for bad in ["", "   ", "a\nb", "a\u{0}b", "tab\there", "\u{7f}"] {
            assert_eq!(
                IdempotencyKey::parse(bad).unwrap_err().code,
                ErrorCode::InvalidIdempotencyKey,
                "{bad:?}"
            );
        }
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(201)).unwrap_err().code,
            ErrorCode::InvalidIdempotencyKey
        );
        assert_eq!(IdempotencyKey::parse_optional(None).unwrap(), None);
    }

    #[test]
    fn fingerprint_ignores_key_order_but_not_values() {
        let a: Value =
            serde_json::from_str(r#"{"b": {"y": 1, "x": [1, {"q": 2, "p": 3}]}, "a": "s"}"#)
                .unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":"s","b":{"x":[1,{"p":3,"q":2}],"y":1}}"#).unwrap();
        assert_eq!(
            fingerprint("add_message", &a),
            fingerprint("add_message", &b)
        );
        assert_ne!(
            fingerprint("add_message", &a),
            fingerprint("set_memory", &a)
        );
        let c = json!({"a": "s", "b": {"x": [{"p": 3, "q": 2}, 1], "y": 1}});
        assert_ne!(
            fingerprint("add_message", &a),
            fingerprint("add_message", &c),
            "array order matters"
        );
        assert_ne!(
            fingerprint("t", &json!({"v": 1})),
            fingerprint("t", &json!({"v": "1"}))
        );
        assert_eq!(fingerprint("t", &json!({})).len(), 64);
        let mut out = String::new();
        canonical_json(&json!({"z": null, "a": [true, 1.5, "\"q\""]}), &mut out);
        assert_eq!(out, r#"{"a":[true,1.5,"\"q\""],"z":null}"#);
    }
}
