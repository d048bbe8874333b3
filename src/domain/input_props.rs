//! Property tests of the input parsers (ids, visibilities, content, purposes, memory keys and
//! scopes, agent ids and types, metadata, memory values, TTLs, limits): random inputs never make a
//! parser panic, and each accepts exactly what its rule says.

use serde_json::{Value, json};

use crate::domain::identity::{AgentId, AgentType, Permission};
use crate::domain::input::{Content, InputLimits, Limit, Metadata, Purpose, SessionId};
use crate::domain::memory::{
    self, MemoryKey, MemoryLimits, MemoryScope, MemoryValue, ScopeFilter, Ttl,
};
use crate::domain::prop_gen::{
    ITERATIONS, XorShift, has_nul, random_json, random_string, strip_controls,
};
use crate::domain::{ErrorCode, Visibility, VisibilityFilter};

#[test]
fn prop_text_parsers_never_panic_and_match_their_rules() {
    let mut rng = XorShift::new(0x0005_eed0_0001);
    let limits = InputLimits {
        content_max_chars: 40,
        purpose_max_chars: 30,
        metadata_max_bytes: 200,
    };
    let mut accepted = [0usize; 8];
    for _ in 0..ITERATIONS {
        let raw = random_string(&mut rng);
        let trimmed = raw.trim();

        // SessionId: exactly `session_` + 16 lowercase hex digits, surrounding whitespace trimmed.
        let want = trimmed.strip_prefix("session_").is_some_and(|h| {
            h.len() == 16
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        match SessionId::parse(&raw) {
            Ok(id) => {
                assert!(want, "{raw:?} accepted as a session id");
                assert_eq!(id.as_str(), trimmed);
                assert_eq!(SessionId::parse(id.as_str()).unwrap(), id, "round trip");
                accepted[0] += 1;
            }
            Err(e) => {
                assert!(!want, "{raw:?} rejected: {}", e.message);
                assert_eq!(e.code, ErrorCode::InvalidSessionId);
            }
        }

        // Visibility: one of the four names after trimming, case-sensitive.
        let names = ["public", "private", "agent_only", "admin_only"];
        match Visibility::parse(&raw) {
            Ok(v) => {
                assert_eq!(v.as_str(), trimmed);
                accepted[1] += 1;
            }
            Err(e) => {
                assert!(!names.contains(&trimmed), "{raw:?}");
                assert_eq!(e.code, ErrorCode::InvalidVisibility);
            }
        }
        // VisibilityFilter: blank means none; anything else must be a visibility.
        match VisibilityFilter::parse(Some(&raw)) {
            Ok(VisibilityFilter(None)) => {
                assert!(trimmed.is_empty(), "{raw:?} read as no filter")
            }
            Ok(VisibilityFilter(Some(v))) => assert_eq!(v.as_str(), trimmed),
            Err(e) => {
                assert!(!trimmed.is_empty() && !names.contains(&trimmed));
                assert_eq!(e.code, ErrorCode::InvalidVisibility);
            }
        }

        // Content: controls other than \n \t \r removed, not blank, at most the limit in chars.
        let cleaned = strip_controls(&raw);
        let want =
            !cleaned.trim().is_empty() && cleaned.chars().count() <= limits.content_max_chars;
        match Content::parse(&raw, &limits) {
            Ok(c) => {
                assert!(want, "{raw:?} accepted as content");
                assert_eq!(c.as_str(), cleaned);
                assert_eq!(
                    Content::parse(c.as_str(), &limits).unwrap(),
                    c,
                    "content parse is idempotent"
                );
                accepted[2] += 1;
            }
            Err(e) => {
                assert!(!want, "{raw:?} rejected: {}", e.message);
                assert!(matches!(
                    e.code,
                    ErrorCode::InvalidInput | ErrorCode::ContentTooLarge
                ));
            }
        }

        // Purpose: cleaned and trimmed, not empty, at most the limit.
        let cleaned_purpose = strip_controls(&raw).trim().to_owned();
        match Purpose::parse(&raw, &limits) {
            Ok(p) => {
                assert!(
                    !cleaned_purpose.is_empty()
                        && cleaned_purpose.chars().count() <= limits.purpose_max_chars
                );
                assert_eq!(p.as_str(), cleaned_purpose);
            }
            Err(_) => assert!(
                cleaned_purpose.is_empty()
                    || cleaned_purpose.chars().count() > limits.purpose_max_chars,
                "{raw:?}"
            ),
        }

        // Memory keys and prefixes: trimmed, at most 255 chars, no whitespace or controls.
        let clean = |s: &str| !s.chars().any(|c| c.is_whitespace() || c.is_control());
        let want = !trimmed.is_empty()
            && trimmed.chars().count() <= memory::MAX_KEY_CHARS
            && clean(trimmed);
        match MemoryKey::parse(&raw) {
            Ok(k) => {
                assert!(want, "{raw:?} accepted as a key");
                assert_eq!(k.as_str(), trimmed);
                assert_eq!(MemoryKey::parse(k.as_str()).unwrap(), k);
                accepted[3] += 1;
            }
            Err(e) => {
                assert!(!want, "{raw:?} rejected: {}", e.message);
                assert_eq!(e.code, ErrorCode::InvalidKey);
            }
        }
        match memory::parse_prefix(Some(&raw)) {
            Ok(p) => assert!(
                p == trimmed && trimmed.chars().count() <= memory::MAX_KEY_CHARS && clean(trimmed),
                "{raw:?}"
            ),
            Err(e) => {
                assert!(
                    trimmed.chars().count() > memory::MAX_KEY_CHARS || !clean(trimmed),
                    "{raw:?}"
                );
                assert_eq!(e.code, ErrorCode::InvalidKey);
            }
        }

        // Memory scopes: blank or "null" is global, "all" (any case) is everything, else a session id.
        let scope = MemoryScope::parse(Some(&raw));
        match &scope {
            Ok(MemoryScope::Global) => {
                assert!(trimmed.is_empty() || trimmed == "null", "{raw:?}")
            }
            Ok(MemoryScope::Session(id)) => assert_eq!(id.as_str(), trimmed),
            Err(e) => assert_eq!(e.code, ErrorCode::InvalidSessionId),
        }
        match ScopeFilter::parse(Some(&raw)) {
            Ok(ScopeFilter::All) => assert!(trimmed.eq_ignore_ascii_case("all")),
            Ok(ScopeFilter::Only(s)) => assert_eq!(Some(&s), scope.as_ref().ok(), "{raw:?}"),
            Err(_) => assert!(scope.is_err()),
        }

        // Agent ids and types.
        match AgentId::parse(&raw) {
            Ok(id) => {
                assert!(
                    !trimmed.is_empty()
                        && trimmed.chars().count() <= AgentId::MAX_CHARS
                        && !trimmed.chars().any(char::is_control)
                );
                assert_eq!(id.as_str(), trimmed);
                accepted[4] += 1;
            }
            Err(_) => assert!(
                trimmed.is_empty()
                    || trimmed.chars().count() > AgentId::MAX_CHARS
                    || trimmed.chars().any(char::is_control),
                "{raw:?}"
            ),
        }
        let lower = trimmed.to_lowercase();
        let want = !lower.is_empty()
            && lower.chars().count() <= AgentType::MAX_CHARS
            && lower
                .chars()
                .all(|c| c.is_alphanumeric() || "_-.".contains(c));
        match AgentType::parse(&raw) {
            Ok(t) => {
                assert!(want, "{raw:?}");
                assert_eq!(t.as_str(), lower);
                assert_eq!(
                    AgentType::parse(t.as_str()).unwrap(),
                    t,
                    "agent types are stored normalised"
                );
                accepted[5] += 1;
            }
            Err(_) => assert!(!want, "{raw:?}"),
        }
        let _ = Permission::parse(&raw);
    }
    // The generator must reach the accepting side of each rule, not only the rejecting one.
    for (what, n) in [
        "session ids",
        "visibilities",
        "contents",
        "keys",
        "agent ids",
        "agent types",
    ]
    .iter()
    .zip(accepted)
    {
        assert!(
            n > 20,
            "only {n} valid {what} generated; the generator is too narrow"
        );
    }
}

#[test]
fn prop_json_parsers_never_panic_and_match_their_rules() {
    let mut rng = XorShift::new(0x0005_eed0_0002);
    let limits = InputLimits {
        content_max_chars: 100,
        purpose_max_chars: 100,
        metadata_max_bytes: 120,
    };
    let memory_limits = MemoryLimits {
        value_max_bytes: 150,
    };
    let (mut metadata_ok, mut value_ok, mut ttl_some) = (0, 0, 0);
    for _ in 0..ITERATIONS {
        let value = random_json(&mut rng, 0);
        let size = serde_json::to_string(&value).unwrap().len();

        // Metadata: null or an object, within the size limit, no NUL; round-trips as JSON.
        let want = match &value {
            Value::Null => true,
            Value::Object(_) => size <= limits.metadata_max_bytes && !has_nul(&value),
            _ => false,
        };
        match Metadata::parse(Some(value.clone()), &limits) {
            Ok(m) => {
                assert!(want, "{value} accepted as metadata");
                // Compared with the value's own JSON round trip: without serde_json's
                // `float_roundtrip` feature, parsing may move a float by one ulp (see RELIABILITY.md).
                let back: Value = serde_json::from_str(&m.to_json_string()).unwrap();
                let expected: Value = serde_json::from_str(
                    &(if value.is_null() {
                        json!({})
                    } else {
                        value.clone()
                    })
                    .to_string(),
                )
                .unwrap();
                assert_eq!(back, expected);
                metadata_ok += 1;
            }
            Err(e) => {
                assert!(!want, "{value} rejected: {}", e.message);
                assert!(matches!(
                    e.code,
                    ErrorCode::InvalidMetadataFormat | ErrorCode::MetadataTooLarge
                ));
            }
        }

        // Memory values: any JSON within the size limit and without NUL; stored as given.
        match MemoryValue::parse(value.clone(), &memory_limits) {
            Ok(v) => {
                assert!(size <= memory_limits.value_max_bytes && !has_nul(&value));
                assert_eq!(v.json(), serde_json::to_string(&value).unwrap());
                assert_eq!(v.size(), size);
                assert_eq!(v.value(), &value);
                value_ok += 1;
            }
            Err(_) => assert!(
                size > memory_limits.value_max_bytes || has_nul(&value),
                "{value}"
            ),
        }

        // TTL: whole seconds 1..=one year (or numeric strings); 0 and null mean none.
        match Ttl::parse(Some(&value)) {
            Ok(t) => match t.seconds() {
                Some(s) => {
                    assert!(
                        (1..=memory::MAX_TTL_SECONDS).contains(&s),
                        "{value} gave {s}"
                    );
                    let as_int = value
                        .as_i64()
                        .or_else(|| {
                            value
                                .as_f64()
                                .filter(|f| f.fract() == 0.0)
                                .map(|f| f as i64)
                        })
                        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
                    assert_eq!(as_int, Some(s), "{value}");
                    ttl_some += 1;
                }
                None => assert!(
                    value.is_null()
                        || value.as_i64() == Some(0)
                        || value.as_f64() == Some(0.0)
                        || value.as_str().is_some_and(|s| {
                            let s = s.trim();
                            s.is_empty() || s == "null" || s.parse::<i64>() == Ok(0)
                        }),
                    "{value} read as no expiry"
                ),
            },
            Err(e) => assert!(matches!(
                e.code,
                ErrorCode::InvalidTtlValue | ErrorCode::InvalidTtlFormat
            )),
        }
        for n in [
            0i64,
            1,
            59,
            memory::MAX_TTL_SECONDS,
            memory::MAX_TTL_SECONDS + 1,
            -1,
            i64::MIN,
            i64::MAX,
        ] {
            let got = Ttl::parse(Some(&json!(n))).ok().map(Ttl::seconds);
            let want = match n {
                0 => Some(None),
                n if (1..=memory::MAX_TTL_SECONDS).contains(&n) => Some(Some(n)),
                _ => None,
            };
            assert_eq!(got, want, "ttl {n}");
        }

        // Limits: within 1..=max, default when absent.
        let raw = if rng.chance(1, 10) {
            None
        } else {
            Some(rng.next_u64() as i64 % 2_000)
        };
        let max = 1 + rng.below(1_000) as u32;
        let default = 1 + rng.below(max as u64) as u32;
        match Limit::parse(raw, default, max, "limit") {
            Ok(l) => assert_eq!(i64::from(l.get()), raw.unwrap_or(i64::from(default))),
            Err(e) => {
                let v = raw.unwrap();
                assert!(!(1..=i64::from(max)).contains(&v));
                assert_eq!(e.code, ErrorCode::InvalidLimit);
            }
        }
    }
    assert!(
        metadata_ok > 100 && value_ok > 100 && ttl_some > 20,
        "generator too narrow: {metadata_ok} {value_ok} {ttl_some}"
    );
}
