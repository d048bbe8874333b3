//! Bad input, sent raw: malformed HTTP bodies to /mcp and malformed lines over stdio. Every case
//! must get a protocol error (HTTP 4xx or a JSON-RPC error) or a tool error, never a 5xx, and the
//! server must stay up (process alive, `GET /health` 200 after every case) with bounded memory.
//! Plus property tests of the domain parsers and the visibility rule, over a fixed-seed xorshift.
//!
//! Plus round trips of valid but extreme values (floats, f64::MAX) through both backends.
//!
//! Deterministic: the seeds are fixed, so a failing case repeats. Longer runs:
//! `SCS_FUZZ_CASES=<n>` random HTTP cases (default 2400; PostgreSQL runs a quarter),
//! `SCS_FUZZ_STDIO_ROUNDS=<n>` measured stdio rounds (default 2), and `SCS_FUZZ_VERBOSE=1` prints
//! the answers per case kind and the stdio RSS per round. See docs/RELIABILITY.md.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::*;

const SEED: u64 = 0x5eed_0ff0_2220_2026;
const PROTOCOL: &str = "2025-06-18";
const BODY_LIMIT: usize = 4 * 1024 * 1024; // MAX_REQUEST_BODY_BYTES default
const CASE_TIMEOUT: Duration = Duration::from_secs(15);
const RSS_GROWTH_LIMIT_KB: u64 = 50 * 1024;

/// The last lines written to the stdio server, printed when it stops answering.
static RECENT: std::sync::Mutex<std::collections::VecDeque<String>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

// ---------------------------------------------------------------------------------------------
// Case generation
// ---------------------------------------------------------------------------------------------

/// What a case must get back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A rejection: HTTP 4xx, or a JSON-RPC error, or a tool result with isError.
    Reject,
    /// Anything but a server error: any status below 500, and a well-formed body when 200.
    NoCrash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionMode {
    /// The MCP session from a real initialize.
    Real,
    /// No Mcp-Session-Id header (a request "before initialize").
    Missing,
    /// A session id the server never issued.
    Bogus,
}

#[derive(Debug, Clone)]
struct Case {
    kind: &'static str,
    method: &'static str,
    body: Vec<u8>,
    session: SessionMode,
    /// Extra or replacing headers; `("x-api-key", "")` removes the key.
    headers: Vec<(&'static str, String)>,
    expect: Expect,
}

impl Case {
    fn post(kind: &'static str, body: impl Into<Vec<u8>>, expect: Expect) -> Self {
        Self {
            kind,
            method: "POST",
            body: body.into(),
            session: SessionMode::Real,
            headers: Vec::new(),
            expect,
        }
    }
    fn json(kind: &'static str, value: &Value, expect: Expect) -> Self {
        Self::post(kind, value.to_string(), expect)
    }
    fn session(mut self, mode: SessionMode) -> Self {
        self.session = mode;
        self
    }
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// Ids, tokens and schemas the generators fill valid-looking arguments from.
struct Context {
    token: String,
    chat_session: String,
    tools: Vec<(String, Value)>,
    next_id: u64,
}

impl Context {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": self.id(), "method": "tools/call", "params": {"name": tool, "arguments": args}})
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": self.id(), "method": method, "params": params})
    }

    /// A value of the schema's own type, plausible for the property's name.
    fn filler(&self, name: &str, schema: &Value) -> Value {
        match name {
            "session_id" => return json!(self.chat_session),
            "auth_token" | "current_token" | "token" => return json!(self.token),
            "visibility" | "visibility_filter" | "search_scope" => return json!("public"),
            "start_time" => return json!("2020-01-01T00:00:00Z"),
            "end_time" => return json!("2030-01-01T00:00:00Z"),
            "agent_type" => return json!("claude"),
            "requested_permissions" => return json!(["read"]),
            _ => {}
        }
        match schema_types(schema).first().map(String::as_str) {
            Some("integer") | Some("number") => json!(1),
            Some("boolean") => json!(true),
            Some("object") => json!({}),
            Some("array") => json!([]),
            _ => json!("fuzz"),
        }
    }

    /// The tool's required arguments, each with a value of the right type.
    fn base_args(&self, schema: &Value) -> Map<String, Value> {
        let mut args = Map::new();
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for name in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            args.insert(name.to_owned(), self.filler(name, &props[name]));
        }
        args
    }
}

/// The JSON types a property schema allows (`type`, a type list, or the types of `anyOf` arms);
/// empty when it allows anything.
fn schema_types(schema: &Value) -> Vec<String> {
    match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => schema["anyOf"]
            .as_array()
            .or(schema["oneOf"].as_array())
            .map(|arms| arms.iter().flat_map(schema_types).collect())
            .unwrap_or_default(),
    }
}

/// Values whose JSON type the schema does not allow.
fn wrong_values(schema: &Value, required: bool) -> Vec<Value> {
    let types = schema_types(schema);
    if types.is_empty() {
        return Vec::new();
    }
    let allows = |t: &str| types.iter().any(|x| x == t);
    let candidates = [
        json!("not-a-number \u{00e9}\u{4e2d}"),
        json!(12345),
        json!(-9_223_372_036_854_775_808i64),
        json!(18_446_744_073_709_551_615u64),
        json!(1.5),
        json!(-1e300),
        json!(true),
        json!([1, "a", null]),
        json!({"k": "v", "nested": {"x": [1]}}),
    ];
    let mut out: Vec<Value> = candidates
        .into_iter()
        .filter(|v| match v {
            Value::String(_) => !allows("string"),
            Value::Number(n) if n.is_f64() => !allows("number"),
            Value::Number(_) => !allows("integer") && !allows("number"),
            Value::Bool(_) => !allows("boolean"),
            Value::Array(_) => !allows("array"),
            Value::Object(_) => !allows("object"),
            Value::Null => false,
        })
        .collect();
    if required && !allows("null") {
        out.push(Value::Null);
    }
    out
}

/// tools/call with a wrong JSON type for one property at a time, for every tool the server lists.
fn wrong_type_cases(ctx: &mut Context) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (tool, schema) in ctx.tools.clone() {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let base = ctx.base_args(&schema);
        for (prop, prop_schema) in schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default()
        {
            for wrong in wrong_values(&prop_schema, required.contains(&prop.as_str())) {
                let mut args = base.clone();
                args.insert(prop.clone(), wrong);
                out.push((
                    format!("{tool}.{prop}"),
                    ctx.call(&tool, Value::Object(args)),
                ));
            }
        }
        // Arguments that are not an object at all.
        for args in [json!([1, 2]), json!("args"), json!(7)] {
            out.push((format!("{tool}(non-object)"), ctx.call(&tool, args)));
        }
    }
    out
}

fn nested(depth: usize, open: &str, close: &str, core: &str) -> String {
    let mut s = String::with_capacity(depth * (open.len() + close.len()) + core.len());
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push_str(core);
    for _ in 0..depth {
        s.push_str(close);
    }
    s
}

fn nested_value(depth: usize) -> Value {
    let mut v = json!("leaf");
    for i in 0..depth {
        v = if i % 2 == 0 {
            json!({"n": v})
        } else {
            json!([v])
        };
    }
    v
}

/// A JSON-RPC request body of exactly `size` bytes whose `pad` string fills the rest.
fn sized_body(ctx: &mut Context, size: usize, tool: &str, field: &str) -> Vec<u8> {
    let mut args = Map::new();
    args.insert("auth_token".into(), json!(ctx.token));
    if tool == "add_message" {
        args.insert("session_id".into(), json!(ctx.chat_session));
    } else {
        args.insert("key".into(), json!("fuzz/huge"));
    }
    args.insert(field.into(), json!(""));
    let empty = ctx.call(tool, Value::Object(args)).to_string();
    let fill = size.saturating_sub(empty.len());
    let marker = format!("\"{field}\":\"\"");
    empty
        .replacen(&marker, &format!("\"{field}\":\"{}\"", "x".repeat(fill)), 1)
        .into_bytes()
}

/// The fixed cases: every category of the brief at least once.
fn structured_cases(ctx: &mut Context) -> Vec<Case> {
    use Expect::*;
    let mut cases = Vec::new();
    let sid = ctx.chat_session.clone();
    let token = ctx.token.clone();

    // Invalid and truncated JSON.
    for body in [
        "",
        " ",
        "{",
        "}",
        "[",
        "null",
        "true",
        "1",
        "\"str\"",
        "{\"jsonrpc\":\"2.0\"",
        "{\"jsonrpc\":\"2.0\",\"id\":1,",
        "{'jsonrpc':'2.0'}",
        "{\"a\":1}}",
        "\u{feff}{}",
        "NaN",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}garbage",
    ] {
        cases.push(Case::post("invalid-json", body, Reject));
    }
    let valid = ctx
        .call(
            "add_message",
            json!({"session_id": sid, "content": "truncate me", "auth_token": token}),
        )
        .to_string();
    for cut in (1..valid.len()).step_by(7) {
        cases.push(Case::post(
            "truncated-json",
            valid[..cut].to_owned(),
            Reject,
        ));
    }

    // Wrong JSON-RPC shapes.
    let id = ctx.id();
    for body in [
        json!({"jsonrpc": "2.0", "id": id}),
        json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": [1], "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": true, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}),
        json!({"jsonrpc": "1.0", "id": id + 1, "method": "ping"}),
        json!({"jsonrpc": 2, "id": id + 2, "method": "ping"}),
        json!({"id": id + 3, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": id + 4, "method": 42}),
        json!({"jsonrpc": "2.0", "id": id + 5, "method": null}),
        json!({"jsonrpc": "2.0", "id": id + 6, "method": ""}),
        json!({"jsonrpc": "2.0", "id": id + 7, "method": "tools/call", "params": [1, 2]}),
        json!({"jsonrpc": "2.0", "id": id + 8, "method": "tools/call", "params": "x"}),
        json!({"jsonrpc": "2.0", "id": id + 9, "method": "tools/call", "params": 3}),
        json!({"jsonrpc": "2.0", "id": id + 10, "method": "tools/call"}),
        json!({"jsonrpc": "2.0", "id": id + 11, "method": "tools/call", "params": {"arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": id + 12, "method": "tools/call", "params": {"name": 5}}),
        json!({"jsonrpc": "2.0", "id": id + 13, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": id + 14, "method": "tools/call", "params": {"name": "", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": id + 15, "method": "resources/read", "params": {}}),
        json!({"jsonrpc": "2.0", "id": id + 16, "method": "prompts/get", "params": {"name": "no-such-prompt"}}),
        json!({"jsonrpc": "2.0", "id": id + 17, "result": {}}),
        json!({"jsonrpc": "2.0", "id": id + 18, "error": {"code": 1, "message": "client error"}}),
    ] {
        let expect = if body.get("method").is_none()
            && (body.get("result").is_some() || body.get("error").is_some())
        {
            NoCrash
        } else {
            Reject
        };
        cases.push(Case::json("wrong-shape", &body, expect));
    }
    ctx.next_id += 20;

    // Unknown methods (requests must be answered with an error; notifications are just dropped).
    for method in [
        "foo",
        "tools/unknown",
        "resources/subscribe",
        "completion/complete",
        "logging/setLevel",
        "server/discover",
        "sampling/createMessage",
        "$/cancelRequest",
        "tools/list/extra",
        "TOOLS/LIST",
        "notifications/unknown",
    ] {
        let req = ctx.request(method, json!({}));
        cases.push(Case::json("unknown-method", &req, Reject));
    }
    cases.push(Case::json(
        "unknown-notification",
        &json!({"jsonrpc": "2.0", "method": "notifications/whatever"}),
        NoCrash,
    ));
    cases.push(Case::json("unknown-notification", &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 999_999}}), NoCrash));

    // Odd resource URIs and prompt arguments.
    for uri in [
        "session://",
        "session://../../etc/passwd",
        "session://session_ffffffffffffffff",
        "agent://",
        "agent://nobody/memory",
        "file:///etc/passwd",
        "http://example.com",
        "",
        "\u{0000}",
    ] {
        let req = ctx.request("resources/read", json!({"uri": uri}));
        cases.push(Case::json("resource-uri", &req, Reject));
    }
    for args in [
        json!({"session_id": 5}),
        json!([1]),
        json!({"session_id": "x".repeat(10_000)}),
    ] {
        for name in ["setup-collaboration", "debug-session"] {
            let req = ctx.request("prompts/get", json!({"name": name, "arguments": args}));
            cases.push(Case::json("prompt-args", &req, NoCrash));
        }
    }

    // Wrong argument types for every tool, generated from its inputSchema.
    for (_, body) in wrong_type_cases(ctx) {
        cases.push(Case::json("wrong-type", &body, Reject));
    }

    // Huge strings: just under, at and over the body limit.
    cases.push(Case::post(
        "huge-under-limit",
        sized_body(ctx, BODY_LIMIT - 64, "add_message", "content"),
        Reject,
    ));
    cases.push(Case::post(
        "huge-at-limit",
        sized_body(ctx, BODY_LIMIT, "set_memory", "value"),
        Reject,
    ));
    cases.push(Case::post(
        "over-limit",
        sized_body(ctx, BODY_LIMIT + 1, "add_message", "content"),
        Reject,
    ));
    cases.push(Case::post(
        "over-limit",
        sized_body(ctx, BODY_LIMIT * 2, "add_message", "content"),
        Reject,
    ));
    let mut spaces = vec![b' '; BODY_LIMIT + 10];
    spaces[0] = b'{';
    *spaces.last_mut().unwrap() = b'}';
    cases.push(Case::post("over-limit", spaces, Reject));
    let big_key = ctx.call(
        "set_memory",
        json!({"key": "k".repeat(100_000), "value": 1, "auth_token": token}),
    );
    cases.push(Case::json("huge-field", &big_key, Reject));
    let big_query = ctx.call(
        "search_context",
        json!({"session_id": sid, "query": "q".repeat(200_000), "auth_token": token}),
    );
    cases.push(Case::json("huge-field", &big_query, Reject));
    let many_keys: Map<String, Value> = (0..20_000).map(|i| (format!("k{i}"), json!(i))).collect();
    let wide = ctx.call("add_message", json!({"session_id": sid, "content": "wide metadata", "metadata": many_keys, "auth_token": token}));
    cases.push(Case::json("huge-field", &wide, Reject));

    // Deeply nested JSON: 10,000 levels (past any parser's limit), and just under serde's 128.
    cases.push(Case::post(
        "deep-nesting",
        nested(10_000, "[", "]", "1"),
        Reject,
    ));
    cases.push(Case::post(
        "deep-nesting",
        nested(10_000, "{\"a\":", "}", "1"),
        Reject,
    ));
    let deep_params = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"tools/call\",\"params\":{}}}",
        ctx.id(),
        nested(10_000, "{\"a\":", "}", "1")
    );
    cases.push(Case::post("deep-nesting", deep_params, Reject));
    let deep_meta = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"tools/call\",\"params\":{{\"name\":\"add_message\",\"arguments\":{{\"session_id\":\"{sid}\",\"content\":\"deep\",\"auth_token\":\"{token}\",\"metadata\":{}}}}}}}",
        ctx.id(),
        nested(10_000, "{\"a\":", "}", "1")
    );
    cases.push(Case::post("deep-nesting", deep_meta, Reject));
    for depth in [100, 120] {
        let meta = ctx.call("add_message", json!({"session_id": sid, "content": format!("nested {depth}"), "metadata": {"deep": nested_value(depth)}, "auth_token": token}));
        cases.push(Case::json("deep-valid", &meta, NoCrash));
        let mem = ctx.call("set_memory", json!({"key": format!("fuzz/deep{depth}"), "value": nested_value(depth), "auth_token": token}));
        cases.push(Case::json("deep-valid", &mem, NoCrash));
    }

    // Invalid UTF-8 and lone surrogates inside an otherwise valid request.
    let template = ctx
        .call(
            "add_message",
            json!({"session_id": sid, "content": "MARK", "auth_token": token}),
        )
        .to_string();
    for bad in [
        &b"\xff"[..],
        b"\xc3\x28",
        b"\xed\xa0\x80",
        b"\xc0\x80",
        b"\xf4\x90\x80\x80",
        b"\xe2\x82",
        b"\x80\x80\x80",
    ] {
        let (head, tail) = template.split_once("MARK").unwrap();
        let mut body = head.as_bytes().to_vec();
        body.extend_from_slice(bad);
        body.extend_from_slice(tail.as_bytes());
        cases.push(Case::post("invalid-utf8", body, Reject));
    }
    for esc in [
        "\\ud800",
        "\\udfff",
        "\\ud800\\u0041",
        "\\uZZZZ",
        "\\x41",
        "\\",
    ] {
        cases.push(Case::post(
            "bad-escape",
            template.replacen("MARK", esc, 1),
            Reject,
        ));
    }

    // Null bytes: raw (invalid JSON), escaped in each kind of field.
    cases.push(Case::post("nul-raw", b"\x00".to_vec(), Reject));
    cases.push(Case::post(
        "nul-raw",
        template.replacen("MARK", "a\u{0000}b", 1),
        Reject,
    ));
    let mut nul_tail = template.clone().into_bytes();
    nul_tail.push(0);
    cases.push(Case::post("nul-raw", nul_tail, Reject));
    let nul_content = ctx.call(
        "add_message",
        json!({"session_id": sid, "content": "a\u{0000}b", "auth_token": token}),
    );
    cases.push(Case::json("nul-escaped", &nul_content, NoCrash));
    for (tool, args) in [
        (
            "add_message",
            json!({"session_id": sid, "content": "\u{0000}", "auth_token": token}),
        ),
        (
            "add_message",
            json!({"session_id": sid, "content": "x", "metadata": {"k\u{0000}": "v"}, "auth_token": token}),
        ),
        (
            "add_message",
            json!({"session_id": sid, "content": "x", "metadata": {"k": "v\u{0000}"}, "auth_token": token}),
        ),
        (
            "add_message",
            json!({"session_id": format!("{sid}\u{0000}"), "content": "x", "auth_token": token}),
        ),
        (
            "create_session",
            json!({"purpose": "\u{0000}", "auth_token": token}),
        ),
        (
            "set_memory",
            json!({"key": "a\u{0000}b", "value": 1, "auth_token": token}),
        ),
        (
            "set_memory",
            json!({"key": "nul/value", "value": "a\u{0000}b", "auth_token": token}),
        ),
        (
            "authenticate_agent",
            json!({"agent_id": "a\u{0000}b", "agent_type": "claude"}),
        ),
    ] {
        let body = ctx.call(tool, args);
        cases.push(Case::json("nul-escaped", &body, Reject));
    }
    // Searching for a NUL may rightly find nothing; it must not be an internal error.
    for (tool, args) in [
        (
            "search_context",
            json!({"session_id": sid, "query": "a\u{0000}b", "auth_token": token}),
        ),
        (
            "search_by_sender",
            json!({"session_id": sid, "sender": "\u{0000}", "auth_token": token}),
        ),
        (
            "list_memory",
            json!({"prefix": "\u{0000}", "auth_token": token}),
        ),
        (
            "get_memory",
            json!({"key": "fuzz/\u{0000}", "auth_token": token}),
        ),
    ] {
        let body = ctx.call(tool, args);
        cases.push(Case::json("nul-escaped", &body, NoCrash));
    }

    // Batches (JSON-RPC 2.0 batches; MCP 2025-06-18 dropped them).
    let ping1 = ctx.request("ping", json!({}));
    let ping2 = ctx.request("ping", json!({}));
    let list = ctx.request("tools/list", json!({}));
    for body in [
        json!([]),
        json!([1]),
        json!([[]]),
        json!([ping1, ping2]),
        json!([list, {"jsonrpc": "2.0", "method": "notifications/initialized"}]),
        json!([{"jsonrpc": "2.0", "id": {"x": 1}}]),
    ] {
        cases.push(Case::json("batch", &body, NoCrash));
    }

    // Requests before initialize: no session, an unknown session.
    for method in ["tools/list", "ping", "resources/list"] {
        let req = ctx.request(method, json!({}));
        cases.push(Case::json("before-initialize", &req, Reject).session(SessionMode::Missing));
        cases.push(Case::json("unknown-session", &req, Reject).session(SessionMode::Bogus));
    }
    let call = ctx.call(
        "add_message",
        json!({"session_id": sid, "content": "before init", "auth_token": token}),
    );
    cases.push(Case::json("before-initialize", &call, Reject).session(SessionMode::Missing));
    cases.push(Case::json("unknown-session", &call, Reject).session(SessionMode::Bogus));
    cases.push(
        Case::json(
            "before-initialize",
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            NoCrash,
        )
        .session(SessionMode::Missing),
    );
    let reinit = ctx.request("initialize", json!({"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}));
    cases.push(Case::json("re-initialize", &reinit, NoCrash));
    let badinit = ctx.request(
        "initialize",
        json!({"protocolVersion": 2025, "capabilities": [], "clientInfo": "x"}),
    );
    cases.push(Case::json("bad-initialize", &badinit, Reject).session(SessionMode::Missing));
    let oldinit = ctx.request("initialize", json!({"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}));
    cases.push(
        Case::json("old-protocol-initialize", &oldinit, NoCrash).session(SessionMode::Missing),
    );

    // HTTP-level oddities.
    let ping = ctx.request("ping", json!({})).to_string();
    cases.push(Case::post("no-api-key", ping.clone(), Reject).header("x-api-key", ""));
    cases.push(
        Case::post("wrong-api-key", ping.clone(), Reject)
            .header("x-api-key", "wrong-key-wrong-key-wrong"),
    );
    cases.push(
        Case::post("bad-bearer", ping.clone(), Reject)
            .header("x-api-key", "")
            .header("authorization", "Bearer sct_not-a-real-token"),
    );
    cases.push(
        Case::post("content-type", ping.clone(), Reject).header("content-type", "text/plain"),
    );
    cases.push(Case::post("accept", ping.clone(), Reject).header("accept", "text/html"));
    cases.push(
        Case::post("protocol-version-header", ping.clone(), Reject)
            .header("mcp-protocol-version", "1999-01-01"),
    );
    cases.push(Case::post("host", ping.clone(), Reject).header("host", "evil.example"));
    for method in ["GET", "DELETE", "PUT", "PATCH", "OPTIONS"] {
        // rmcp's DELETE is idempotent: an unknown session id gets 202 (see RELIABILITY.md).
        let expect = if method == "DELETE" { NoCrash } else { Reject };
        let mut case = Case::post("http-method", Vec::new(), expect).session(SessionMode::Bogus);
        case.method = method;
        cases.push(case);
    }
    let mut get = Case::post("http-method", Vec::new(), Reject).session(SessionMode::Missing);
    get.method = "GET";
    cases.push(get);
    cases
}

/// Valid requests that random mutation starts from.
fn templates(ctx: &mut Context) -> Vec<Value> {
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
fn random_value(rng: &mut XorShift, depth: u32) -> Value {
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
fn mutate_value(rng: &mut XorShift, v: &mut Value, depth: u32) {
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
fn mutate_members(rng: &mut XorShift, v: &mut Value) {
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
fn random_case(rng: &mut XorShift, templates: &[Value]) -> Case {
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

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// The JSON-RPC messages in a response body (plain JSON or SSE `data:` lines).
fn jsonrpc_messages(body: &[u8]) -> Result<Vec<Value>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_owned())?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return match serde_json::from_str(trimmed).map_err(|e| format!("body is not JSON ({e})"))? {
            Value::Array(items) => Ok(items),
            v => Ok(vec![v]),
        };
    }
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data:") {
            let data = data.trim();
            if !data.is_empty() {
                out.push(
                    serde_json::from_str(data)
                        .map_err(|e| format!("SSE data is not JSON ({e}): {data:.200}"))?,
                );
            }
        }
    }
    Ok(out)
}

fn is_rejection(msg: &Value) -> bool {
    msg.get("error").is_some() || msg["result"]["isError"] == json!(true)
}

/// Bad input must never be an internal or database error: those codes mean the input got past
/// validation and broke something.
fn internal_error(msg: &Value) -> Option<String> {
    let code = msg["result"]["structuredContent"]["code"].as_str()?;
    matches!(code, "INTERNAL_ERROR" | "DATABASE_UNAVAILABLE")
        .then(|| msg.to_string().chars().take(400).collect())
}

struct Http {
    client: reqwest::Client,
    base: String,
    mcp_session: String,
}

#[derive(Default)]
struct Tally {
    sent: usize,
    by_kind: BTreeMap<&'static str, usize>,
    statuses: BTreeMap<u16, usize>,
    by_kind_status: BTreeMap<(&'static str, u16), usize>,
    findings: Vec<String>,
}

impl Http {
    fn request(&self, case: &Case) -> reqwest::RequestBuilder {
        use reqwest::header::{HeaderMap, HeaderValue};
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "accept",
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        headers.insert("mcp-protocol-version", HeaderValue::from_static(PROTOCOL));
        headers.insert("x-api-key", HeaderValue::from_static(API_KEY));
        match case.session {
            SessionMode::Real => {
                headers.insert(
                    "mcp-session-id",
                    HeaderValue::from_str(&self.mcp_session).unwrap(),
                );
            }
            SessionMode::Bogus => {
                headers.insert(
                    "mcp-session-id",
                    HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
                );
            }
            SessionMode::Missing => {}
        }
        // A case's header replaces the default; an empty value removes it.
        for (k, v) in &case.headers {
            if v.is_empty() {
                headers.remove(*k);
            } else {
                headers.insert(*k, HeaderValue::from_str(v).unwrap());
            }
        }
        let mut req = self
            .client
            .request(method, format!("{}/mcp", self.base))
            .headers(headers);
        if !case.body.is_empty() {
            req = req.body(case.body.clone());
        }
        req
    }

    /// A fresh MCP session (initialize + initialized), so that structured cases never run on a
    /// session an earlier random case may have ended.
    async fn new_session(&mut self) {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}});
        let response = self
            .request(&Case::json("setup", &init, Expect::NoCrash).session(SessionMode::Missing))
            .send()
            .await
            .expect("initialize");
        assert_eq!(response.status().as_u16(), 200, "initialize");
        self.mcp_session = response
            .headers()
            .get("mcp-session-id")
            .expect("mcp-session-id")
            .to_str()
            .unwrap()
            .to_owned();
        let _ = response.bytes().await;
        let initialized = Case::json(
            "setup",
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            Expect::NoCrash,
        );
        assert_eq!(
            self.send(&initialized).await,
            Ok(202),
            "notifications/initialized"
        );
    }

    /// Sends one case and judges the answer; `Err` is a finding.
    async fn send(&self, case: &Case) -> Result<u16, String> {
        let response = match tokio::time::timeout(CASE_TIMEOUT, self.request(case).send()).await {
            Err(_) => return Err(format!("no answer within {CASE_TIMEOUT:?}")),
            // A server may close the connection on a body it will not read (over the limit).
            Ok(Err(e)) if case.kind == "over-limit" => {
                return Ok(e.status().map_or(0, |s| s.as_u16()));
            }
            Ok(Err(e)) => return Err(format!("transport error: {e}")),
            Ok(Ok(r)) => r,
        };
        let status = response.status().as_u16();
        // A GET on a live session would be an endless SSE stream; we never send one.
        let body = match tokio::time::timeout(CASE_TIMEOUT, response.bytes()).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Err(format!("HTTP {status}, body broke off: {e}")),
            Err(_) => {
                return Err(format!(
                    "HTTP {status}, body not finished within {CASE_TIMEOUT:?}"
                ));
            }
        };
        if status >= 500 {
            return Err(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
        if status == 200 {
            let messages = jsonrpc_messages(&body)
                .map_err(|e| format!("HTTP 200 with a malformed body: {e}"))?;
            let answers: Vec<&Value> = messages
                .iter()
                .filter(|m| m.get("id").is_some() || m.get("error").is_some())
                .collect();
            if let Some(bad) = answers.iter().find_map(|m| internal_error(m)) {
                return Err(format!("internal error on bad input: {bad}"));
            }
            if case.expect == Expect::Reject {
                if answers.is_empty() {
                    return Err(format!(
                        "HTTP 200 without a JSON-RPC answer: {}",
                        String::from_utf8_lossy(&body[..body.len().min(300)])
                    ));
                }
                if let Some(ok) = answers.iter().find(|m| !is_rejection(m)) {
                    return Err(format!(
                        "accepted: {}",
                        ok.to_string().chars().take(300).collect::<String>()
                    ));
                }
            }
        } else if (200..300).contains(&status) && case.expect == Expect::Reject {
            return Err(format!(
                "HTTP {status} without an answer for a request that needs a rejection"
            ));
        }
        Ok(status)
    }

    async fn healthy(&self) -> Result<(), String> {
        match tokio::time::timeout(
            CASE_TIMEOUT,
            self.client.get(format!("{}/health", self.base)).send(),
        )
        .await
        {
            Ok(Ok(r)) if r.status().as_u16() == 200 => Ok(()),
            Ok(Ok(r)) => Err(format!("GET /health answered {}", r.status())),
            Ok(Err(e)) => Err(format!("GET /health failed: {e}")),
            Err(_) => Err("GET /health timed out".into()),
        }
    }

    /// A raw request inside the fuzz session, for set-up; returns the first JSON-RPC result.
    async fn rpc(&self, body: &Value) -> Value {
        let case = Case::json("setup", body, Expect::NoCrash);
        let response = self.request(&case).send().await.expect("set-up request");
        assert_eq!(response.status().as_u16(), 200, "set-up request {body}");
        let messages = jsonrpc_messages(&response.bytes().await.unwrap()).unwrap();
        messages
            .into_iter()
            .find(|m| m.get("result").is_some())
            .unwrap_or_else(|| panic!("no result for {body}"))["result"]
            .clone()
    }
}

async fn run_case(http: &Http, server: &mut HttpServer, case: &Case, tally: &mut Tally) {
    tally.sent += 1;
    *tally.by_kind.entry(case.kind).or_default() += 1;
    match http.send(case).await {
        Ok(status) => {
            *tally.statuses.entry(status).or_default() += 1;
            *tally.by_kind_status.entry((case.kind, status)).or_default() += 1;
        }
        Err(finding) => {
            let body = String::from_utf8_lossy(&case.body[..case.body.len().min(160)]).into_owned();
            tally.findings.push(format!(
                "[{}] {finding} (session {:?}, body {body:?})",
                case.kind, case.session
            ));
        }
    }
    if let Ok(Some(status)) = server.child.try_wait() {
        let log = server.stderr.lock().unwrap().join("\n");
        panic!(
            "the server died ({status}) on case {} [{}] {:?}; stderr:\n{log}",
            tally.sent,
            case.kind,
            String::from_utf8_lossy(&case.body[..case.body.len().min(500)])
        );
    }
    if let Err(e) = http.healthy().await {
        panic!(
            "unhealthy after case {} [{}] {:?}: {e}",
            tally.sent,
            case.kind,
            String::from_utf8_lossy(&case.body[..case.body.len().min(500)])
        );
    }
}

async fn http_fuzz(backend: Backend, random_cases: usize) -> usize {
    let started = Instant::now();
    let db = TestDb::new(backend).await;
    let mut server = HttpServer::start(&db, &[]).await;
    let pid = server.child.id().unwrap();
    // A fresh connection per request: the server may close a connection on a body it will not
    // read (over the limit), and a pooled connection reused after that fails on the client side.
    let client = reqwest::Client::builder()
        .timeout(CASE_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    // A real MCP session, a token and a chat session for the cases to aim at.
    let mut http = Http {
        client,
        base: server.base.clone(),
        mcp_session: String::new(),
    };
    http.new_session().await;

    let mut ctx = Context {
        token: String::new(),
        chat_session: String::new(),
        tools: Vec::new(),
        next_id: 1,
    };
    let auth = ctx.call(
        "authenticate_agent",
        json!({"agent_id": "fuzzer", "agent_type": "claude"}),
    );
    ctx.token = http.rpc(&auth).await["structuredContent"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = ctx.call(
        "create_session",
        json!({"purpose": "fuzz", "auth_token": ctx.token}),
    );
    ctx.chat_session = http.rpc(&create).await["structuredContent"]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = ctx.request("tools/list", json!({}));
    ctx.tools = http.rpc(&list).await["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["inputSchema"].clone(),
            )
        })
        .collect();

    let structured = structured_cases(&mut ctx);
    let templates = templates(&mut ctx);
    let mut rng = XorShift::new(SEED);
    let mut tally = Tally::default();

    // Warm-up: every structured case once and some random ones, then the measured run repeats
    // the structured cases and sends the random ones. RSS is compared between the two points.
    for case in &structured {
        run_case(&http, &mut server, case, &mut tally).await;
    }
    http.new_session().await;
    for _ in 0..300 {
        let case = random_case(&mut rng, &templates);
        run_case(&http, &mut server, &case, &mut tally).await;
    }
    let rss_before = vm_rss_kb(pid);
    http.new_session().await;
    for case in &structured {
        run_case(&http, &mut server, case, &mut tally).await;
    }
    for _ in 0..random_cases {
        let case = random_case(&mut rng, &templates);
        run_case(&http, &mut server, &case, &mut tally).await;
    }
    let rss_after = vm_rss_kb(pid);

    eprintln!(
        "fuzz http {backend:?}: {} cases ({} structured x2, {} random), {:.1} s, server RSS {} KiB -> {} KiB ({:+} KiB), statuses {:?}",
        tally.sent,
        structured.len(),
        300 + random_cases,
        started.elapsed().as_secs_f64(),
        rss_before,
        rss_after,
        rss_after as i64 - rss_before as i64,
        tally.statuses
    );
    eprintln!("fuzz http {backend:?}: cases by kind {:?}", tally.by_kind);
    if std::env::var_os("SCS_FUZZ_VERBOSE").is_some() {
        eprintln!(
            "fuzz http {backend:?}: (kind, status) {:?}",
            tally.by_kind_status
        );
    }
    let panicked = server
        .stderr
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("panicked"));
    assert!(
        !panicked,
        "the server logged a panic:\n{}",
        server.stderr.lock().unwrap().join("\n")
    );
    assert!(
        tally.findings.is_empty(),
        "{} findings:\n{}",
        tally.findings.len(),
        tally.findings.join("\n")
    );
    assert!(
        rss_after <= rss_before + RSS_GROWTH_LIMIT_KB,
        "server RSS grew by {} KiB over {} cases (limit {RSS_GROWTH_LIMIT_KB} KiB)",
        rss_after - rss_before,
        tally.sent
    );
    tally.sent
}

fn random_cases() -> usize {
    std::env::var("SCS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2400)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_http_bad_input_sqlite() {
    let sent = http_fuzz(Backend::Sqlite, random_cases()).await;
    eprintln!("fuzz_http_bad_input_sqlite: {sent} cases sent, 0 crashes, 0 findings");
}

/// The same structured cases and fewer random ones on PostgreSQL (NUL bytes, deep JSONB, huge
/// values reach a different store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_http_bad_input_postgres() {
    let sent = http_fuzz(Backend::Postgres, random_cases() / 4).await;
    eprintln!("fuzz_http_bad_input_postgres: {sent} cases sent, 0 crashes, 0 findings");
}

// ---------------------------------------------------------------------------------------------
// stdio
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_stdio_bad_lines_sqlite() {
    let started = Instant::now();
    let db = TestDb::new(Backend::Sqlite).await;
    let mut child = tokio::process::Command::new(BIN)
        .args(["--transport", "stdio"])
        .envs(server_env(&db))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    tokio::spawn(async move {
        loop {
            let mut line = Vec::new();
            match stdout.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let stderr_lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = stderr_lines.clone();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });

    let mut sent = 0usize;
    let mut silent = 0usize; // lines that got no answer at all (unparseable ones, by rmcp's design)
    let mut probe = 0u64;
    // Sends raw bytes as one line, then a ping; every stdout line must be a JSON-RPC message.
    // Answers may come in any order (requests run concurrently), so this waits for the ping's
    // answer and, when the line is a request with a usable id, for that request's answer too
    // (at most 2 s after the ping's). Returns the answers other than the ping's.
    async fn exchange(
        stdin: &mut tokio::process::ChildStdin,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
        line: &[u8],
        probe: &mut u64,
    ) -> Vec<Value> {
        *probe += 1;
        let probe_id = json!(format!("probe-{probe}"));
        let expect_id = serde_json::from_slice::<Value>(line).ok().and_then(|v| {
            let id = v.get("id")?;
            (v.get("method").is_some_and(Value::is_string)
                && (id.is_string() || id.is_i64() || id.is_u64()))
            .then(|| id.clone())
        });
        let mut bytes = line.to_vec();
        bytes.push(b'\n');
        bytes.extend_from_slice(
            json!({"jsonrpc": "2.0", "id": probe_id, "method": "ping"})
                .to_string()
                .as_bytes(),
        );
        bytes.push(b'\n');
        stdin
            .write_all(&bytes)
            .await
            .expect("the stdio server stopped reading its input");
        stdin.flush().await.unwrap();
        let shown = || String::from_utf8_lossy(&line[..line.len().min(300)]).into_owned();
        {
            let mut recent = RECENT.lock().unwrap();
            if recent.len() == 12 {
                recent.pop_front();
            }
            recent.push_back(shown());
        }
        let mut answers = Vec::new();
        let mut grace_until: Option<Instant> = None;
        loop {
            let wait = grace_until.map_or(CASE_TIMEOUT, |t| {
                t.saturating_duration_since(Instant::now())
            });
            let raw = match tokio::time::timeout(wait, rx.recv()).await {
                Err(_) if grace_until.is_some() => {
                    eprintln!(
                        "stdio: no answer for id {} of {:?}",
                        expect_id.as_ref().unwrap(),
                        shown()
                    );
                    return answers;
                }
                Err(_) => panic!(
                    "no answer to the probe within {CASE_TIMEOUT:?} after {:?}",
                    shown()
                ),
                Ok(None) => panic!("stdout closed (the server exited) after {:?}", shown()),
                Ok(Some(raw)) => raw,
            };
            let text = String::from_utf8(raw).expect("stdout carries UTF-8 only");
            let msg: Value = serde_json::from_str(text.trim())
                .unwrap_or_else(|e| panic!("non-JSON on stdout ({e}): {text}"));
            assert_eq!(msg["jsonrpc"], "2.0", "not JSON-RPC on stdout: {text}");
            if msg["id"] == probe_id {
                assert!(
                    msg.get("result").is_some(),
                    "ping failed: {msg}; the last lines sent:\n{}",
                    RECENT
                        .lock()
                        .unwrap()
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                grace_until = Some(Instant::now() + Duration::from_secs(2));
            } else {
                answers.push(msg);
            }
            // rmcp answers an envelope it cannot read with -32600 and no id: that counts too.
            let complete = expect_id.as_ref().is_none_or(|id| {
                answers
                    .iter()
                    .any(|a| &a["id"] == id || (a["id"].is_null() && a.get("error").is_some()))
            });
            if grace_until.is_some() && complete {
                return answers;
            }
        }
    }

    // Before initialize: garbage and requests.
    for line in [&b"{not json"[..], b"", b"\xff\xfe", br#"{"jsonrpc":"2.0","id":"pre-1","method":"tools/list"}"#, br#"{"jsonrpc":"2.0","id":"pre-2","method":"server/discover","params":{}}"#, br#"{"jsonrpc":"2.0","id":"pre-3","method":"tools/call","params":{"name":"health","arguments":{}}}"#, br#"[{"jsonrpc":"2.0","id":"pre-4","method":"ping"}]"#] {
        let answers = exchange(&mut stdin, &mut rx, line, &mut probe).await;
        sent += 1;
        if answers.is_empty() {
            silent += 1;
        }
        for a in &answers {
            assert!(a.get("error").is_some() || a.get("result").is_some(), "{a}");
        }
    }
    let init = json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}});
    let answers = exchange(&mut stdin, &mut rx, init.to_string().as_bytes(), &mut probe).await;
    assert!(
        answers
            .iter()
            .any(|a| a["id"] == "init" && a.get("result").is_some()),
        "initialize after garbage: {answers:?}"
    );
    exchange(
        &mut stdin,
        &mut rx,
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        &mut probe,
    )
    .await;

    // Token, session and tool list through the same pipe.
    let auth = json!({"jsonrpc": "2.0", "id": "auth", "method": "tools/call", "params": {"name": "authenticate_agent", "arguments": {"agent_id": "fuzzer", "agent_type": "claude"}}});
    let answers = exchange(&mut stdin, &mut rx, auth.to_string().as_bytes(), &mut probe).await;
    let by_id = |answers: &[Value], id: &str| {
        answers
            .iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no answer {id}: {answers:?}"))
    };
    let token = by_id(&answers, "auth")["result"]["structuredContent"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let create = json!({"jsonrpc": "2.0", "id": "create", "method": "tools/call", "params": {"name": "create_session", "arguments": {"purpose": "fuzz", "auth_token": token}}});
    let answers = exchange(
        &mut stdin,
        &mut rx,
        create.to_string().as_bytes(),
        &mut probe,
    )
    .await;
    let chat_session = by_id(&answers, "create")["result"]["structuredContent"]["session_id"]
        .as_str()
        .expect("session_id")
        .to_owned();
    let answers = exchange(
        &mut stdin,
        &mut rx,
        br#"{"jsonrpc":"2.0","id":"list","method":"tools/list"}"#,
        &mut probe,
    )
    .await;
    let tools = by_id(&answers, "list")["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["inputSchema"].clone(),
            )
        })
        .collect();
    let mut ctx = Context {
        token,
        chat_session,
        tools,
        next_id: 1000,
    };

    // The structured cases that make sense on a pipe (no HTTP headers or sessions; no multi-MB
    // bodies, which stdio has no limit for: the client that spawned us is trusted), then random ones.
    let structured: Vec<Case> = structured_cases(&mut ctx)
        .into_iter()
        .filter(|c| {
            c.session == SessionMode::Real
                && c.headers.is_empty()
                && c.method == "POST"
                && c.body.len() < 1 << 20
        })
        .collect();
    // No random re-initialize here: rmcp then answers ping with -32601 for the rest of the
    // session (see reinitialize_with_an_unknown_version_keeps_ping, which tests that alone).
    let templates: Vec<Value> = templates(&mut ctx)
        .into_iter()
        .filter(|t| t["method"] != "initialize")
        .collect();
    let mut rng = XorShift::new(SEED ^ 0x57d10);
    let mut findings = Vec::new();
    let mut rss_before = 0;
    // SCS_FUZZ_STDIO_ROUNDS=<n> repeats the measured round for a longer run (RSS trend).
    let rounds: usize = std::env::var("SCS_FUZZ_STDIO_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
        .max(2);
    for round in 0..rounds {
        if round == 1 {
            rss_before = vm_rss_kb(pid);
        }
        if round > 0 && std::env::var_os("SCS_FUZZ_VERBOSE").is_some() {
            eprintln!("fuzz stdio: round {round}, RSS {} KiB", vm_rss_kb(pid));
        }
        let mut cases = structured.clone();
        cases.extend((0..300).map(|_| random_case(&mut rng, &templates)));
        for case in &cases {
            // A line is one message: newlines inside a case would split it, so escape them.
            let line: Vec<u8> = case
                .body
                .iter()
                .map(|&b| if b == b'\n' { b' ' } else { b })
                .collect();
            let answers = exchange(&mut stdin, &mut rx, &line, &mut probe).await;
            sent += 1;
            if answers.is_empty() {
                silent += 1;
            }
            if let Some(bad) = answers.iter().find_map(internal_error) {
                findings.push(format!("[{}] internal error over stdio: {bad}", case.kind));
            }
            if case.expect == Expect::Reject
                && case.kind != "invalid-json"
                && case.kind != "truncated-json"
                && case.kind != "invalid-utf8"
                && case.kind != "bad-escape"
                && case.kind != "nul-raw"
                && case.kind != "deep-nesting"
            {
                // A parseable request with an id must be answered, with an error.
                match answers
                    .iter()
                    .find(|a| a.get("id").is_some() || a.get("error").is_some())
                {
                    None => findings.push(format!(
                        "[{}] no answer over stdio: {:.200}",
                        case.kind,
                        String::from_utf8_lossy(&line)
                    )),
                    Some(a) if !is_rejection(a) => {
                        findings.push(format!("[{}] accepted over stdio: {a:.300}", case.kind))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let rss_after = vm_rss_kb(pid);

    // A 5 MB line: answered (CONTENT_TOO_LARGE), and the server goes on.
    let huge = ctx.call("add_message", json!({"session_id": ctx.chat_session, "content": "y".repeat(5 << 20), "auth_token": ctx.token}));
    let answers = exchange(&mut stdin, &mut rx, huge.to_string().as_bytes(), &mut probe).await;
    sent += 1;
    assert!(
        answers.iter().any(is_rejection),
        "a 5 MB message must be rejected: {:.300}",
        format!("{answers:?}")
    );

    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exit on stdin EOF")
        .unwrap();
    assert!(
        status.success(),
        "stdin EOF is a clean exit, not {status:?}"
    );
    let log = stderr_lines.lock().unwrap().join("\n");
    assert!(
        !log.contains("panicked"),
        "the stdio server logged a panic:\n{log}"
    );
    eprintln!(
        "fuzz stdio: {sent} lines sent ({silent} got no answer: unparseable lines, which rmcp drops silently), {probe} probes answered, \
         {:.1} s, RSS {rss_before} KiB -> {rss_after} KiB ({:+} KiB)",
        started.elapsed().as_secs_f64(),
        rss_after as i64 - rss_before as i64
    );
    assert!(
        findings.is_empty(),
        "{} findings:\n{}",
        findings.len(),
        findings.join("\n")
    );
    assert!(
        rss_after <= rss_before + RSS_GROWTH_LIMIT_KB,
        "stdio server RSS grew by {} KiB",
        rss_after - rss_before
    );
}

// ---------------------------------------------------------------------------------------------
// Re-initialize
// ---------------------------------------------------------------------------------------------

/// A second `initialize` on a live session asking for a protocol version the server does not
/// support. FAILS (rmcp 3.11): the answer says `protocolVersion: "2025-11-25"`, but the session then
/// behaves as 2026-07-28: `ping` answers -32601 and tool results carry `resultType`. Same over
/// stdio and HTTP. A client that re-initializes (or a fuzzer) loses ping for the rest of the session.
#[tokio::test]
async fn reinitialize_with_an_unknown_version_keeps_ping() {
    let init = |id: u64, version: &str| json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "reinit", "version": "1"}}});
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ping = json!({"jsonrpc": "2.0", "id": 3, "method": "ping"});
    let db = TestDb::new(Backend::Sqlite).await;
    let mut broken = Vec::new();

    // stdio: one line at a time, each answer read before the next line.
    let mut child = tokio::process::Command::new(BIN)
        .args(["--transport", "stdio"])
        .envs(server_env(&db))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut answer = async |line: &Value| -> Option<Value> {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        line.get("id")?;
        let text = tokio::time::timeout(CASE_TIMEOUT, stdout.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        Some(serde_json::from_str(&text).unwrap())
    };
    answer(&init(1, PROTOCOL)).await;
    answer(&initialized).await;
    let again = answer(&init(2, "2026-07-28")).await.unwrap();
    let pong = answer(&ping).await.unwrap();
    if pong.get("result").is_none() {
        broken.push(format!(
            "stdio: re-initialize answered {} then ping answered {pong}",
            again["result"]["protocolVersion"]
        ));
    }
    drop(stdin);
    let _ = child.wait().await;

    // HTTP: the same inside one MCP session.
    let server = HttpServer::start(&db, &[]).await;
    let http = reqwest::Client::new();
    let post = |body: &Value, session: Option<&str>| {
        let mut req = http
            .post(server.mcp_url())
            .header("x-api-key", API_KEY)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        // Like a client's initialize, the re-initialize carries no MCP-Protocol-Version header
        // (with one that differs from its params, rmcp refuses it with -32600, which is fine).
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
            if body["method"] != "initialize" {
                req = req.header("mcp-protocol-version", PROTOCOL);
            }
        }
        req.send()
    };
    let first = post(&init(1, PROTOCOL), None).await.unwrap();
    let session = first.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = first.bytes().await;
    let _ = post(&initialized, Some(&session))
        .await
        .unwrap()
        .bytes()
        .await;
    let again = post(&init(2, "2026-07-28"), Some(&session))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let again = jsonrpc_messages(&again).unwrap();
    let pong = post(&ping, Some(&session))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let pong = jsonrpc_messages(&pong).unwrap();
    if std::env::var_os("SCS_FUZZ_VERBOSE").is_some() {
        eprintln!("http re-initialize: {again:?}\nhttp ping: {pong:?}");
    }
    if !pong.iter().any(|m| m.get("result").is_some()) {
        broken.push(format!(
            "http: re-initialize answered {:?} then ping answered {pong:?}",
            again
                .iter()
                .map(|m| &m["result"]["protocolVersion"])
                .collect::<Vec<_>>()
        ));
    }
    assert!(
        broken.is_empty(),
        "after a re-initialize with an unsupported version: {broken:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Valid values round-trip through the server
// ---------------------------------------------------------------------------------------------

/// Metadata numbers come back as the same f64. FAILS without serde_json's `float_roundtrip`
/// feature: its default float parser is not correctly rounded, so some values (for example
/// 1.2345678901234567e-7) come back one ulp off, through both backends.
async fn metadata_floats_round_trip(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let token = login(&client, "floats", "claude", false).await;
    let sid = call(
        &client,
        "create_session",
        json!({"purpose": "floats", "auth_token": token}),
    )
    .await
    .ok()["session_id"]
        .clone();
    let mut rng = XorShift::new(SEED ^ 0xf10a7);
    let mut values: Vec<f64> = vec![
        0.1,
        1.2345678901234567e-7,
        5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        1.1063543360794556e18,
    ];
    while values.len() < 200 {
        let v = f64::from_bits(rng.next_u64());
        if v.is_finite() {
            values.push(v);
        }
    }
    let metadata: Map<String, Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("v{i}"), json!(v)))
        .collect();
    // 200 floats are at most ~6.5 KB of JSON, under the 10 KB metadata limit.
    call(
        &client,
        "add_message",
        json!({"session_id": sid, "content": "floats", "metadata": metadata, "auth_token": token}),
    )
    .await
    .ok();
    let read = call(
        &client,
        "get_messages",
        json!({"session_id": sid, "auth_token": token}),
    )
    .await
    .ok();
    let back = &read["messages"][0]["metadata"];
    let changed: Vec<String> = values
        .iter()
        .enumerate()
        .filter(|(i, v)| back[format!("v{i}")].as_f64().map(f64::to_bits) != Some(v.to_bits()))
        .map(|(i, v)| format!("{v:e} -> {}", back[format!("v{i}")]))
        .collect();
    assert!(
        changed.is_empty(),
        "{} of {} metadata floats changed on the way through the server: {:?}",
        changed.len(),
        values.len(),
        &changed[..changed.len().min(5)]
    );
}

/// A stored number must never make later reads fail. FAILS on PostgreSQL without serde_json's
/// `float_roundtrip` feature: JSONB prints 1.7976931348623157e308 (f64::MAX) as a 309-digit integer,
/// which serde_json's default parser rounds to infinity and rejects ("number out of range"), so the
/// write succeeds and then every read of that row is INTERNAL_ERROR: get_messages, get_session and
/// search_context of the session, get_memory, and list_sessions for every caller.
async fn huge_numbers_do_not_poison_reads(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let writer = login(&client, "writer", "claude", false).await;
    let other = login(&client, "other", "gemini", false).await;
    let big = json!({"max": f64::MAX, "min": -f64::MAX, "near": 1.7e308, "tiny": 5e-324});
    let mut broken = Vec::new();
    // Writes: each must succeed (and say so).
    let with_big = call(
        &client,
        "create_session",
        json!({"purpose": "big numbers", "metadata": big, "auth_token": writer}),
    )
    .await;
    if with_big.is_error {
        broken.push(format!(
            "create_session with them: {}",
            with_big.body["code"]
        ));
    }
    let sid = call(
        &client,
        "create_session",
        json!({"purpose": "plain", "auth_token": writer}),
    )
    .await
    .ok()["session_id"]
        .clone();
    let added = call(
        &client,
        "add_message",
        json!({"session_id": sid, "content": "big numbers", "metadata": big, "auth_token": writer}),
    )
    .await;
    if added.is_error {
        broken.push(format!("add_message with them: {}", added.body["code"]));
    }
    let set = call(
        &client,
        "set_memory",
        json!({"key": "big", "value": big, "auth_token": writer}),
    )
    .await;
    if set.is_error {
        broken.push(format!("set_memory with them: {}", set.body["code"]));
    }

    for (what, tool, args) in [
        (
            "get_messages",
            "get_messages",
            json!({"session_id": sid, "auth_token": writer}),
        ),
        (
            "get_session",
            "get_session",
            json!({"session_id": sid, "auth_token": writer}),
        ),
        (
            "search_context",
            "search_context",
            json!({"session_id": sid, "query": "big numbers", "auth_token": writer}),
        ),
        (
            "get_memory",
            "get_memory",
            json!({"key": "big", "auth_token": writer}),
        ),
        (
            "list_sessions (another agent)",
            "list_sessions",
            json!({"auth_token": other}),
        ),
        ("list_sessions (anonymous)", "list_sessions", json!({})),
    ] {
        let reply = call(&client, tool, args).await;
        if reply.is_error {
            broken.push(format!("{what}: {}", reply.body["code"]));
        }
    }
    assert!(
        broken.is_empty(),
        "storing f64::MAX broke these calls: {broken:?}"
    );
    let back = call(
        &client,
        "get_memory",
        json!({"key": "big", "auth_token": writer}),
    )
    .await
    .ok();
    assert_eq!(
        back["value"], big,
        "the numbers come back as they were written"
    );
}

#[tokio::test]
async fn huge_numbers_do_not_poison_reads_sqlite() {
    huge_numbers_do_not_poison_reads(Backend::Sqlite).await;
}

#[tokio::test]
async fn huge_numbers_do_not_poison_reads_postgres() {
    huge_numbers_do_not_poison_reads(Backend::Postgres).await;
}

#[tokio::test]
async fn metadata_floats_round_trip_sqlite() {
    metadata_floats_round_trip(Backend::Sqlite).await;
}

#[tokio::test]
async fn metadata_floats_round_trip_postgres() {
    metadata_floats_round_trip(Backend::Postgres).await;
}

// ---------------------------------------------------------------------------------------------
// Property tests: domain parsers and the visibility rule
// ---------------------------------------------------------------------------------------------

mod props {
    use serde_json::{Value, json};
    use shared_context_server::domain::identity::{
        AgentId, AgentType, Identity, Permission, PermissionTable, Permissions,
    };
    use shared_context_server::domain::input::{
        Content, InputLimits, Limit, Metadata, Purpose, SessionId,
    };
    use shared_context_server::domain::memory::{
        self, MemoryKey, MemoryLimits, MemoryScope, MemoryValue, ScopeFilter, Ttl,
    };
    use shared_context_server::domain::{ErrorCode, Reader, Visibility, VisibilityFilter};

    use crate::support::XorShift;

    const ITERATIONS: usize = 20_000;

    /// Characters that trip parsers: ASCII, whitespace of every kind, controls, NUL, combining
    /// marks, case-changing letters, wide and right-to-left text, and the characters ids use.
    const ALPHABET: &[char] = &[
        'a',
        'b',
        'f',
        'z',
        'A',
        'F',
        'Z',
        '0',
        '9',
        '_',
        '-',
        '.',
        '/',
        ':',
        '%',
        '\'',
        '"',
        '\\',
        ' ',
        '\t',
        '\n',
        '\r',
        '\u{0}',
        '\u{1}',
        '\u{7f}',
        '\u{85}',
        '\u{a0}',
        '\u{2028}',
        '\u{3000}',
        '\u{feff}',
        '\u{200b}',
        '\u{301}',
        'é',
        'İ',
        'ß',
        'Σ',
        '中',
        '🦀',
        '\u{202e}',
        '\u{10ffff}',
    ];
    const WORDS: &[&str] = &[
        "public",
        "private",
        "agent_only",
        "admin_only",
        "PUBLIC",
        "session_",
        "session_0123456789abcdef",
        "session_0123456789ABCDEF",
        "all",
        "ALL",
        "null",
        "claude",
        "Admin",
        "3600",
        "-1",
        "0",
        "31536000",
        "31536001",
        "99999999999999999999",
        "1e3",
    ];

    fn random_string(rng: &mut XorShift) -> String {
        if rng.chance(1, 8) {
            let pad = ["", " ", "\t", "\u{a0}", "\n"];
            return format!("{}{}{}", rng.pick(&pad), rng.pick(WORDS), rng.pick(&pad));
        }
        let mut s = String::new();
        for _ in 0..rng.below(6) {
            if rng.chance(1, 3) {
                let word: &&str = rng.pick(WORDS);
                s.push_str(word);
            } else {
                for _ in 0..rng.below(8) {
                    s.push(*rng.pick(ALPHABET));
                }
            }
        }
        if rng.chance(1, 50) {
            s.push_str(&"k".repeat(rng.below(400) as usize));
        }
        s
    }

    fn random_json(rng: &mut XorShift, depth: u32) -> Value {
        match rng.below(if depth > 3 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(rng.chance(1, 2)),
            2 => match rng.below(4) {
                0 => json!(rng.next_u64()),
                1 => json!(rng.next_u64() as i64),
                2 => json!(rng.below(40_000_000) as i64 - 1_000),
                _ => json!((rng.next_u64() as f64) / 7.0 - 1e18),
            },
            3 | 4 => json!(random_string(rng)),
            5 => Value::Array(
                (0..rng.below(4))
                    .map(|_| random_json(rng, depth + 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..rng.below(4))
                    .map(|_| (random_string(rng), random_json(rng, depth + 1)))
                    .collect(),
            ),
        }
    }

    fn strip_controls(s: &str) -> String {
        s.chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
            .collect()
    }

    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(has_nul),
            Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }

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
                    p == trimmed
                        && trimmed.chars().count() <= memory::MAX_KEY_CHARS
                        && clean(trimmed),
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

    fn random_reader(rng: &mut XorShift, ids: &[&str], types: &[&str]) -> Reader {
        match rng.below(4) {
            0 => Reader::Admin,
            1 => Reader::PublicOnly,
            _ => Reader::Agent {
                agent_id: rng.pick(ids).to_string(),
                agent_type: rng.pick(types).to_string(),
            },
        }
    }

    /// What the read paths apply: the rule, then the optional filter (`$5 IS NULL OR m.visibility = $5`).
    fn visible(
        reader: &Reader,
        filter: VisibilityFilter,
        v: Visibility,
        sender: &str,
        sender_type: &str,
    ) -> bool {
        reader.may_read(v, sender, sender_type) && filter.0.is_none_or(|f| f == v)
    }

    #[test]
    fn prop_visibility_rule_is_monotone_and_filters_only_narrow() {
        let mut rng = XorShift::new(0x0005_eed0_0003);
        let ids = ["alice", "bob", "Alice", "alice ", "", "carol"];
        let types = ["claude", "gemini", "generic", "admin", ""];
        for _ in 0..ITERATIONS {
            let v = *rng.pick(&Visibility::ALL);
            let sender = *rng.pick(&ids);
            let sender_type = *rng.pick(&types);
            let reader = random_reader(&mut rng, &ids, &types);

            // Admin reads everything; anonymous reads exactly the public messages.
            assert!(Reader::Admin.may_read(v, sender, sender_type));
            assert_eq!(
                Reader::PublicOnly.may_read(v, sender, sender_type),
                v == Visibility::Public
            );

            // Monotone: anonymous ⊆ any agent ⊆ admin.
            let agent = Reader::Agent {
                agent_id: rng.pick(&ids).to_string(),
                agent_type: rng.pick(&types).to_string(),
            };
            if Reader::PublicOnly.may_read(v, sender, sender_type) {
                assert!(
                    agent.may_read(v, sender, sender_type),
                    "{agent:?} reads less than anonymous"
                );
            }

            // The rule, case by case, for agents.
            if let Reader::Agent {
                agent_id,
                agent_type,
            } = &reader
            {
                let want = match v {
                    Visibility::Public => true,
                    Visibility::Private => agent_id == sender,
                    Visibility::AgentOnly => agent_type == sender_type,
                    Visibility::AdminOnly => false,
                };
                assert_eq!(
                    reader.may_read(v, sender, sender_type),
                    want,
                    "{reader:?} reading {v} by {sender}/{sender_type}"
                );
            }

            // A filter only narrows: filtered ⊆ unfiltered, and the filters together give it back.
            let unfiltered = visible(&reader, VisibilityFilter(None), v, sender, sender_type);
            let mut any = false;
            for f in Visibility::ALL {
                let filtered = visible(&reader, VisibilityFilter(Some(f)), v, sender, sender_type);
                assert!(
                    !filtered || unfiltered,
                    "filter {f} widened what {reader:?} reads"
                );
                any |= filtered;
            }
            assert_eq!(any, unfiltered);

            // sql_params names the same reader kind the rule uses.
            let (kind, id, ty) = reader.sql_params();
            match &reader {
                Reader::Admin => assert_eq!((kind, id, ty), ("admin", "", "")),
                Reader::PublicOnly => assert_eq!((kind, id, ty), ("public", "", "")),
                Reader::Agent {
                    agent_id,
                    agent_type,
                } => assert_eq!(
                    (kind, id, ty),
                    ("agent", agent_id.as_str(), agent_type.as_str())
                ),
            }
        }
    }

    #[test]
    fn prop_identity_and_permissions() {
        let mut rng = XorShift::new(0x0005_eed0_0004);
        let table = PermissionTable::default();
        let types = [
            "claude", "gemini", "codex", "cursor", "admin", "system", "test", "generic", "unknown",
            "reviewer", "Claude",
        ];
        for _ in 0..ITERATIONS {
            let requested = Permissions::of(
                &Permission::ALL
                    .into_iter()
                    .filter(|_| rng.chance(1, 2))
                    .collect::<Vec<_>>(),
            );
            let type_name: &&str = rng.pick(&types);
            let agent_type = AgentType::parse(type_name).unwrap();
            let granted = table.grant(&agent_type, requested);
            let allowed = table.for_type(&agent_type);
            // Never more than the type allows (plus read, which everyone has).
            for p in granted.iter() {
                assert!(
                    p == Permission::Read || allowed.contains(p),
                    "{p} granted to {agent_type}"
                );
            }
            assert!(granted.contains(Permission::Read));
            if matches!(agent_type.as_str(), "generic" | "unknown" | "reviewer") {
                assert_eq!(
                    granted,
                    Permissions::READ_ONLY,
                    "{agent_type} got {granted}"
                );
            }

            // Reader::of: admin permission makes an admin reader, anonymous reads public only.
            let identity = Identity::Agent {
                agent_id: AgentId::parse("someone").unwrap(),
                agent_type: agent_type.clone(),
                permissions: granted,
                expires_at: chrono::Utc::now(),
            };
            let reader = Reader::of(&identity);
            assert_eq!(
                matches!(reader, Reader::Admin),
                granted.contains(Permission::Admin)
            );
            assert_eq!(identity.is_admin(), granted.contains(Permission::Admin));
            assert_eq!(
                identity.require(Permission::Write).is_ok(),
                granted.contains(Permission::Write)
            );
            assert_eq!(Reader::of(&Identity::Anonymous), Reader::PublicOnly);
            assert!(Identity::Anonymous.require(Permission::Write).is_err());
            assert!(Identity::Anonymous.require(Permission::Read).is_ok());
        }
    }
}
