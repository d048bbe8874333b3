//! Typed tool results: every tool declares the Rust type of its successful result, `tools/list`
//! advertises that type's JSON Schema as the tool's `outputSchema`, and `structuredContent` is a
//! value of it (plus `success: true`). Errors keep their one envelope (`render::failure`), which
//! every output schema admits as the second branch of an `anyOf`, so a client that validates
//! error results too (older TypeScript SDKs and Inspectors do) still shows the error.
//!
//! **How a new tool declares its output** (three steps; tests/it/output_schema.rs checks them):
//! 1. A result struct with `#[derive(Serialize, JsonSchema)]`, then `tool_output!(MyResult);`.
//!    Document a field with `///` only where its name does not say it. A field left out when
//!    empty is `Option` with `#[serde(skip_serializing_if = "Option::is_none")]`.
//! 2. On the tool: `#[tool(description = "…", output_schema = output::schema::<MyResult>())]`.
//! 3. The tool body returns `Ok(my_result)` (its text is then the compact JSON), or
//!    `Ok(Output::typed(my_result).with_text(text))` for a read with its own text.
//!
//! `outputSchema` is not part of the model-visible token budget (clients give the model a tool's
//! name, description and inputSchema; docs/BENCHMARKS.md has both figures), but it is kept
//! compact all the same: no `$schema`, no titles, no integer formats, shared `$defs`.

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A tool's successful result. Implement it with `tool_output!` on the result type.
pub trait ToolOutput: Serialize + JsonSchema + 'static {
    /// The result as `structuredContent`. Serializing our own result types cannot fail (string
    /// keys, no custom serializers that error); should it, the body says so instead of
    /// panicking. A result of many messages builds its value by moving its fields instead
    /// (`MessagePage`), and its tests check that the value is the one serde gives.
    fn into_body(self) -> Value
    where
        Self: Sized,
    {
        serde_json::to_value(&self)
            .unwrap_or_else(|e| json!({"serialization_error": e.to_string()}))
    }
}

/// `impl ToolOutput for …` for each type listed.
macro_rules! tool_output {
    ($($ty:ty),+ $(,)?) => {
        $(impl $crate::mcp::output::ToolOutput for $ty {})+
    };
}
pub(crate) use tool_output;

/// A tool's result as sent: the structured object, and its text when the tool writes one (reads);
/// otherwise the text is the object's compact JSON.
pub struct Output {
    pub body: Value,
    pub text: Option<String>,
}

impl Output {
    /// A typed result.
    pub fn typed<T: ToolOutput>(result: T) -> Self {
        Self {
            body: result.into_body(),
            text: None,
        }
    }

    pub fn with_text(mut self, text: String) -> Self {
        self.text = Some(text);
        self
    }
}

impl<T: ToolOutput> From<T> for Output {
    fn from(result: T) -> Self {
        Self::typed(result)
    }
}

/// The `outputSchema` of a tool whose successful result is `T`: `T`'s schema (as serialized)
/// with `success: true`, or the error envelope.
pub fn schema<T: ToolOutput>() -> Arc<JsonObject> {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let root = serde_json::to_value(generator.into_root_schema_for::<T>()).unwrap_or_default();
    let Value::Object(mut success) = root else {
        unreachable!("a struct's schema is an object")
    };
    for noise in ["$schema", "title", "description"] {
        success.remove(noise);
    }
    let mut defs = match success.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    if let Value::Object(props) = success.entry("properties").or_insert_with(|| json!({})) {
        props.insert("success".into(), json!({"const": true}));
    }
    if let Value::Array(required) = success.entry("required").or_insert_with(|| json!([])) {
        required.push("success".into());
    }
    defs.insert("ToolError".into(), error_schema());
    let mut schema = Map::new();
    schema.insert("type".into(), "object".into());
    schema.insert(
        "anyOf".into(),
        json!([Value::Object(success), {"$ref": "#/$defs/ToolError"}]),
    );
    schema.insert("$defs".into(), Value::Object(defs));
    strip_noise(&mut schema);
    Arc::new(schema)
}

/// The error envelope of `render::failure`; error codes may add fields (a conflict's details).
fn error_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "success": {"const": false},
            "code": {"type": "string"},
            "error": {"type": "string"},
            "suggestions": {"type": "array", "items": {"type": "string"}},
            "retry_after": {"type": "number"},
        },
        "required": ["success", "code", "error", "suggestions"],
    })
}

/// Integer `format`s ("int64", "uint32": unknown to many validators, which then warn or fail),
/// titles, and `additionalProperties: true` (the default), recursively.
fn strip_noise(schema: &mut Map<String, Value>) {
    if schema
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| {
            f.starts_with("int") || f.starts_with("uint") || f == "double" || f == "float"
        })
    {
        schema.remove("format");
    }
    if schema.get("title").is_some_and(Value::is_string) {
        schema.remove("title");
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(true)) {
        schema.remove("additionalProperties");
    }
    split_type_unions(schema);
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        props.values_mut().for_each(spell_out_any);
    }
    if let Some(items) = schema.get_mut("items") {
        spell_out_any(items);
    }
    super::schema::each_subschema(schema, strip_noise);
}

/// `type: ["string", "null"]` (schemars' `Option<T>`) becomes `anyOf` with one `type` per branch:
/// a type array is legal JSON Schema, but the Inspector's `--strict` portability check fails it,
/// since clients that map schemas onto a single-`type` dialect (Gemini's OpenAPI subset) reject it.
fn split_type_unions(schema: &mut Map<String, Value>) {
    if schema.contains_key("anyOf") {
        return;
    }
    let Some(Value::Array(types)) = schema.get("type") else {
        return;
    };
    let branches: Vec<Value> = types.iter().map(|t| json!({ "type": t })).collect();
    schema.remove("type");
    schema.insert("anyOf".into(), Value::Array(branches));
}

/// A schema that constrains nothing (`true`, or an object with no validation keyword: a free JSON
/// value such as a memory value) is spelled out as "any JSON type": the Inspector's `--strict`
/// check fails a bare `true` and warns on a keyword-less object.
fn spell_out_any(schema: &mut Value) {
    const VALIDATING: [&str; 9] = [
        "type",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "const",
        "enum",
        "properties",
        "items",
    ];
    let description = match schema {
        Value::Bool(true) => None,
        Value::Object(o) if !VALIDATING.iter().any(|k| o.contains_key(*k)) => {
            o.get("description").cloned()
        }
        _ => return,
    };
    let kinds = ["object", "array", "string", "number", "boolean", "null"];
    let mut any =
        json!({ "anyOf": kinds.iter().map(|t| json!({ "type": t })).collect::<Vec<_>>() });
    if let Some(d) = description {
        any["description"] = d;
    }
    *schema = any;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, JsonSchema)]
    struct Page {
        count: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        next: Option<i64>,
        items: Vec<Item>,
    }

    #[derive(Serialize, JsonSchema)]
    struct Item {
        id: i64,
    }

    tool_output!(Page);

    #[test]
    fn schema_is_the_type_or_the_error_envelope_without_noise() {
        let s = Value::Object((*schema::<Page>()).clone());
        assert_eq!(s["type"], "object");
        assert!(s.get("$schema").is_none() && s.get("title").is_none());
        let success = &s["anyOf"][0];
        assert_eq!(success["properties"]["success"], json!({"const": true}));
        assert_eq!(success["required"], json!(["count", "items", "success"]));
        assert_eq!(success["properties"]["count"].get("format"), None);
        assert_eq!(s["anyOf"][1], json!({"$ref": "#/$defs/ToolError"}));
        assert!(s["$defs"]["Item"].is_object() && s["$defs"]["ToolError"].is_object());
        assert!(!s.to_string().contains("\"title\""));
        assert_eq!(
            success["properties"]["next"],
            json!({"anyOf": [{"type": "integer"}, {"type": "null"}]}),
            "an optional field is one type per branch, never a type array"
        );
    }

    #[test]
    fn typed_output_serializes_the_result() {
        let out = Output::from(Page {
            count: 1,
            next: None,
            items: vec![Item { id: 7 }],
        });
        assert_eq!(out.body, json!({"count": 1, "items": [{"id": 7}]}));
        assert!(out.text.is_none());
    }
}
