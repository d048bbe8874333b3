//! Random cases: valid templates mutated at the JSON level and at the byte level.

use serde_json::{Value, json};

use super::PROTOCOL;
use super::cases::{Case, Context, Expect, SessionMode};
use crate::support::XorShift;

/// Valid requests that random mutation starts from.
pub(super) fn templates(ctx: &mut Context) -> Vec<Value> {
    let sid = ctx.chat_session.clone();
    let token = ctx.token.clone();
    vec![
        ctx.request("ping", json!({})),
        ctx.request("tools/list", json!({})),
        ctx.request("resources/list", json!({})),
        ctx.request("resources/templates/list", json!({})),
        ctx.request("resources/read", json!({"uri": format!("session://{sid}")})),
        ctx.request("prompts/list", json!({})),
        ctx.request("prompts/get", json!({"name": "debug-session", "arguments": {"session_id": sid}})),
        ctx.request("initialize", json!({"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}})),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        ctx.call("add_message", json!({"session_id": sid, "content": "seed message", "visibility": "private", "metadata": {"k": [1, 2, {"x": null}]}, "auth_token": token})),
        ctx.call("get_messages", json!({"session_id": sid, "limit": 5, "visibility_filter": "public", "auth_token": token})),
        ctx.call("search_context", json!({"session_id": sid, "query": "seed mesage", "fuzzy_threshold": 50, "auth_token": token})),
        ctx.call("search_by_timerange", json!({"session_id": sid, "start_time": "2020-01-01", "end_time": "2030-01-01T00:00:00+02:00", "auth_token": token})),
        ctx.call("set_memory", json!({"key": "fuzz/k", "value": {"a": [1, "b"]}, "expires_in": 60, "auth_token": token})),
        ctx.call("list_memory", json!({"prefix": "fuzz/", "session_id": "all", "auth_token": token})),
        ctx.call("get_session", json!({"session_id": sid})),
        ctx.call("list_sessions", json!({"limit": 3, "active_only": false})),
        ctx.call("authenticate_agent", json!({"agent_id": "fuzz-agent", "agent_type": "gemini", "requested_permissions": ["read"]})),
        ctx.call("health", json!({})),
    ]
}

/// A random JSON value, small.
pub(super) fn random_value(rng: &mut XorShift, depth: u32) -> Value {
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.chance(1, 2)),
        2 => json!(rng.next_u64() as i64),
        3 => json!(*rng.pick(&[
            0.5,
            -1.0,
            1e300,
            0.0,
            3.0,
            f64::MAX,
            -f64::MAX,
            5e-324,
            1.2345678901234567e-7
        ])),
        4 => json!(*rng.pick(&[
            "",
            "public",
            "session_0123456789abcdef",
            "' OR 1=1 --",
            "%_\\",
            "\u{0000}",
            "\u{202e}rtl",
            "🦀",
            "a b",
            "null",
            "all"
        ])),
        5 => json!(rng.below(2000) as i64 - 1000),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|i| (format!("k{i}"), random_value(rng, depth + 1)))
                .collect(),
        ),
    }
}

/// Replaces, removes or adds something at a random place in a JSON value.
pub(super) fn mutate_value(rng: &mut XorShift, v: &mut Value, depth: u32) {
    let go_deeper = depth < 6 && rng.chance(2, 3);
    match v {
        Value::Object(map) if !map.is_empty() && go_deeper => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let k = rng.pick(&keys).clone();
            mutate_value(rng, map.get_mut(&k).unwrap(), depth + 1);
        }
        Value::Array(items) if !items.is_empty() && go_deeper => {
            let i = rng.below(items.len() as u64) as usize;
            mutate_value(rng, &mut items[i], depth + 1);
        }
        Value::Object(map) => match rng.below(3) {
            0 if !map.is_empty() => {
                let keys: Vec<String> = map.keys().cloned().collect();
                map.remove(rng.pick(&keys).as_str());
            }
            1 => {
                let key = rng
                    .pick(&[
                        "id",
                        "method",
                        "params",
                        "jsonrpc",
                        "arguments",
                        "name",
                        "limit",
                        "content",
                        "extra",
                    ])
                    .to_string();
                map.insert(key, random_value(rng, depth));
            }
            _ => *v = random_value(rng, depth),
        },
        _ => *v = random_value(rng, depth),
    }
}

/// Changes, removes or adds one member of an object, keeping the object itself.
pub(super) fn mutate_members(rng: &mut XorShift, v: &mut Value) {
    let Value::Object(map) = v else { return };
    let keys: Vec<String> = map.keys().cloned().collect();
    match rng.below(4) {
        0 if !keys.is_empty() => {
            map.remove(rng.pick(&keys).as_str());
        }
        1 => {
            let key = rng
                .pick(&[
                    "limit",
                    "offset",
                    "after_id",
                    "visibility",
                    "metadata",
                    "expires_in",
                    "session_id",
                    "auth_token",
                    "extra",
                    "query",
                ])
                .to_string();
            map.insert(key, random_value(rng, 1));
        }
        _ if !keys.is_empty() => {
            let key = rng.pick(&keys).clone();
            mutate_value(rng, map.get_mut(&key).unwrap(), 2);
        }
        _ => {
            map.insert("extra".into(), random_value(rng, 1));
        }
    }
}

/// One random case: a template, mutated at the JSON level and/or the byte level.
pub(super) fn random_case(rng: &mut XorShift, templates: &[Value]) -> Case {
    let mut value = rng.pick(templates).clone();
    if value.get("id").is_some() {
        value["id"] = json!(rng.next_u64() >> 11);
    }
    for _ in 0..1 + rng.below(3) {
        // Mostly inside the arguments or params, so that the envelope stays valid and the case
        // reaches a tool handler; sometimes anywhere.
        if value["params"]["arguments"].is_object() && rng.chance(6, 10) {
            mutate_members(rng, &mut value["params"]["arguments"]);
        } else if value["params"].is_object() && rng.chance(1, 2) {
            mutate_members(rng, &mut value["params"]);
        } else {
            mutate_value(rng, &mut value, 0);
        }
    }
    let mut body = value.to_string().into_bytes();
    // Byte-level damage in a third of the cases; the rest stay JSON and reach the handlers.
    let byte_mutations = if rng.chance(1, 3) {
        1 + rng.below(2)
    } else {
        0
    };
    for _ in 0..byte_mutations {
        if body.is_empty() {
            break;
        }
        let at = rng.below(body.len() as u64) as usize;
        match rng.below(5) {
            0 => body.truncate(at),
            1 => body[at] = rng.next_u64() as u8,
            2 => {
                const JUNK: [&[u8]; 9] = [
                    b"\x00",
                    b"\xff\xfe",
                    b"{",
                    b"\"",
                    b"\\",
                    b"]]]",
                    b"\xed\xa0\x80",
                    b",,",
                    b"\n",
                ];
                let junk: &&[u8] = rng.pick(&JUNK);
                body.splice(at..at, junk.iter().copied());
            }
            3 => {
                let end = (at + 1 + rng.below(16) as usize).min(body.len());
                body.drain(at..end);
            }
            _ => {
                let end = (at + 1 + rng.below(32) as usize).min(body.len());
                let chunk = body[at..end].to_vec();
                body.splice(at..at, chunk);
            }
        }
    }
    let session = match rng.below(20) {
        0 | 1 => SessionMode::Missing,
        2 => SessionMode::Bogus,
        _ => SessionMode::Real,
    };
    Case::post("random", body, Expect::NoCrash).session(session)
}
