//! Input schemas every client accepts, in as few tokens as say everything once. Gemini's function
//! declarations reject JSON-schema type unions, so `["string", "null"]` becomes `"string"` (the
//! field stays optional; null still parses). The schema sits in every agent's context on every
//! turn, so what a model does not need goes: `$schema`, the struct's `title`, integer `format`s and
//! `additionalProperties: true` (the default). Parameters shared by many tools are described here,
//! once: `auth_token` is explained by `authenticate_agent` and the server instructions.

use serde_json::{Map, Value};

/// The description of a parameter many tools take; `None` leaves it undescribed.
fn shared_description(name: &str) -> Option<Option<&'static str>> {
    match name {
        // Explained once, in the server instructions.
        "auth_token" | "max_tokens" => Some(None),
        "idempotency_key" => Some(Some(
            "Unique per request; a retry with the same key returns the first result.",
        )),
        _ => None,
    }
}

/// Everything the model does not need removed, and shared parameters described once.
pub fn compact(schema: &mut Map<String, Value>) {
    simplify_nullable(schema);
    schema.remove("$schema");
    schema.remove("title");
    strip_noise(schema);
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        for (name, prop) in props.iter_mut() {
            if let (Some(text), Value::Object(prop)) = (shared_description(name), prop) {
                match text {
                    Some(text) => prop.insert("description".into(), text.into()),
                    None => prop.remove("description"),
                };
            }
        }
    }
}

/// `format` and `additionalProperties: true`, recursively.
fn strip_noise(schema: &mut Map<String, Value>) {
    schema.remove("format");
    if schema.get("additionalProperties") == Some(&Value::Bool(true)) {
        schema.remove("additionalProperties");
    }
    each_subschema(schema, strip_noise);
}

/// Runs `rewrite` on every object right below `schema` (a value, or an item of an array value):
/// the recursion step of the input and output schema rewrites.
pub(super) fn each_subschema(
    schema: &mut Map<String, Value>,
    mut rewrite: impl FnMut(&mut Map<String, Value>),
) {
    for value in schema.values_mut() {
        match value {
            Value::Object(inner) => rewrite(inner),
            Value::Array(items) => items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(&mut rewrite),
            _ => {}
        }
    }
}

/// The parameter names a tool accepts, from its input schema.
pub fn accepted_names(schema: &Map<String, Value>) -> Vec<&str> {
    match schema.get("properties") {
        Some(Value::Object(props)) => props.keys().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Rewrites nullable unions in a tool input schema, recursively.
pub fn simplify_nullable(schema: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = schema.get("type") {
        let non_null: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        if non_null.len() == 1 {
            schema.insert("type".into(), non_null[0].clone());
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = schema.get(key) {
            let non_null: Vec<Value> = options
                .iter()
                .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"))
                .cloned()
                .collect();
            if non_null.len() == 1 && options.len() == 2 {
                schema.remove(key);
                if let Value::Object(inner) = &non_null[0] {
                    for (k, v) in inner {
                        schema.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
    }
    for value in schema.values_mut() {
        match value {
            Value::Object(inner) => simplify_nullable(inner),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        simplify_nullable(inner);
                    }
                }
            }
            _ => {}
        }
    }
    if schema.get("default").is_some_and(Value::is_null) {
        schema.remove("default");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removes_null_from_unions() {
        let mut s = json!({
            "type": "object",
            "properties": {
                "a": {"type": ["string", "null"], "default": null},
                "b": {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}]},
                "c": {"type": ["integer", "null"], "format": "int64"},
                "d": {"type": "array", "items": {"type": ["string", "null"]}}
            }
        });
        simplify_nullable(s.as_object_mut().unwrap());
        assert_eq!(s["properties"]["a"], json!({"type": "string"}));
        assert_eq!(s["properties"]["b"], json!({"$ref": "#/$defs/X"}));
        assert_eq!(s["properties"]["c"]["type"], "integer");
        assert_eq!(s["properties"]["d"]["items"]["type"], "string");
    }

    #[test]
    fn compact_drops_noise_and_describes_shared_parameters_once() {
        let mut s = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "P",
            "type": "object",
            "properties": {
                "limit": {"type": ["integer", "null"], "format": "int64", "description": "1-10"},
                "metadata": {"type": "object", "additionalProperties": true},
                "auth_token": {"type": "string", "description": "Your token"},
                "idempotency_key": {"type": "string", "description": "long"}
            }
        });
        compact(s.as_object_mut().unwrap());
        assert_eq!(
            s,
            json!({"type": "object", "properties": {
                "limit": {"type": "integer", "description": "1-10"},
                "metadata": {"type": "object"},
                "auth_token": {"type": "string"},
                "idempotency_key": {"type": "string", "description": "Unique per request; a retry with the same key returns the first result."}
            }})
        );
        assert_eq!(
            accepted_names(s.as_object().unwrap()),
            ["auth_token", "idempotency_key", "limit", "metadata"]
        );
    }
}
