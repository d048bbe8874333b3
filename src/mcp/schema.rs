//! Input schemas every client accepts: Gemini's function declarations reject JSON-schema type
//! unions, so `["string", "null"]` becomes `"string"` (the field stays optional; null still parses).

use serde_json::{Map, Value};

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
}
