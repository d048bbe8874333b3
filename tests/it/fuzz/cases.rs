//! The case types and the generators' context: what a request is, what it must get back, and the
//! valid-looking arguments (ids, tokens, schemas) that bad cases start from.

use serde_json::{Map, Value, json};

/// What a case must get back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    /// A rejection: HTTP 4xx, or a JSON-RPC error, or a tool result with isError.
    Reject,
    /// Anything but a server error: any status below 500, and a well-formed body when 200.
    NoCrash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionMode {
    /// The MCP session from a real initialize.
    Real,
    /// No Mcp-Session-Id header (a request "before initialize").
    Missing,
    /// A session id the server never issued.
    Bogus,
}

#[derive(Debug, Clone)]
pub(super) struct Case {
    pub(super) kind: &'static str,
    pub(super) method: &'static str,
    pub(super) body: Vec<u8>,
    pub(super) session: SessionMode,
    /// Extra or replacing headers; `("x-api-key", "")` removes the key.
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) expect: Expect,
}

impl Case {
    pub(super) fn post(kind: &'static str, body: impl Into<Vec<u8>>, expect: Expect) -> Self {
        Self {
            kind,
            method: "POST",
            body: body.into(),
            session: SessionMode::Real,
            headers: Vec::new(),
            expect,
        }
    }
    pub(super) fn json(kind: &'static str, value: &Value, expect: Expect) -> Self {
        Self::post(kind, value.to_string(), expect)
    }
    pub(super) fn session(mut self, mode: SessionMode) -> Self {
        self.session = mode;
        self
    }
    pub(super) fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// Ids, tokens and schemas the generators fill valid-looking arguments from.
pub(super) struct Context {
    pub(super) token: String,
    pub(super) chat_session: String,
    pub(super) tools: Vec<(String, Value)>,
    pub(super) next_id: u64,
}

impl Context {
    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn call(&mut self, tool: &str, args: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": self.id(), "method": "tools/call", "params": {"name": tool, "arguments": args}})
    }

    pub(super) fn request(&mut self, method: &str, params: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": self.id(), "method": method, "params": params})
    }

    /// A value of the schema's own type, plausible for the property's name.
    pub(super) fn filler(&self, name: &str, schema: &Value) -> Value {
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
    pub(super) fn base_args(&self, schema: &Value) -> Map<String, Value> {
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
pub(super) fn schema_types(schema: &Value) -> Vec<String> {
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
pub(super) fn wrong_values(schema: &Value, required: bool) -> Vec<Value> {
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
pub(super) fn wrong_type_cases(ctx: &mut Context) -> Vec<(String, Value)> {
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

pub(super) fn nested(depth: usize, open: &str, close: &str, core: &str) -> String {
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

pub(super) fn nested_value(depth: usize) -> Value {
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
pub(super) fn sized_body(ctx: &mut Context, size: usize, tool: &str, field: &str) -> Vec<u8> {
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
