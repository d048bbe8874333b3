//! The fixed cases: every category of malformed input at least once.

use serde_json::{Map, Value, json};

use super::cases::{
    Case, Context, Expect, SessionMode, nested, nested_value, sized_body, wrong_type_cases,
};
use super::{BODY_LIMIT, PROTOCOL};

/// The fixed cases: every category of the brief at least once.
pub(super) fn structured_cases(ctx: &mut Context) -> Vec<Case> {
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
