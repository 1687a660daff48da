//! Whether a settings schema accepts `{}`, the settings of a backend the
//! configuration does not list, decided without building a validator.
//!
//! Building a JSON Schema validator costs milliseconds (it checks the schema
//! against the draft 2020-12 meta-schema first), more than the rest of a
//! command put together. For the one instance `{}`, most keywords cannot
//! fail, and the few that can are simple to evaluate exactly. Where a schema
//! uses anything else (`$ref`, unknown keywords), the answer is "don't know"
//! and the caller builds the validator, which also reports the precise
//! violation when `{}` is refused. `check` always builds it, so a schema that
//! is itself malformed is still reported there.

use serde_json::{Map, Value};

/// `Some(true)` if `schema` accepts the empty object, `Some(false)` if it
/// refuses it, `None` if this cannot tell.
pub(crate) fn accepts_empty_object(schema: &Value) -> Option<bool> {
    match schema {
        Value::Bool(accepts) => Some(*accepts),
        Value::Object(keywords) => all(keywords.iter().map(|(k, v)| keyword(keywords, k, v))),
        _ => None,
    }
}

fn keyword(schema: &Map<String, Value>, name: &str, value: &Value) -> Option<bool> {
    match name {
        // Annotations, and keywords that only apply to properties present.
        "$schema"
        | "$id"
        | "$comment"
        | "$anchor"
        | "$defs"
        | "definitions"
        | "title"
        | "description"
        | "default"
        | "examples"
        | "deprecated"
        | "readOnly"
        | "writeOnly"
        | "properties"
        | "patternProperties"
        | "additionalProperties"
        | "propertyNames"
        | "dependentRequired"
        | "dependentSchemas"
        | "dependencies"
        | "unevaluatedProperties"
        | "maxProperties" => Some(true),
        // `then` and `else` are evaluated with their `if`.
        "then" | "else" => Some(true),
        "type" => match value {
            Value::String(name) => Some(name == "object"),
            Value::Array(names) => Some(names.iter().any(|name| name == "object")),
            _ => None,
        },
        "required" => Some(value.as_array()?.is_empty()),
        "minProperties" => Some(value.as_u64()? == 0),
        "const" => Some(is_empty_object(value)),
        "enum" => Some(value.as_array()?.iter().any(is_empty_object)),
        "allOf" => all(value.as_array()?.iter().map(accepts_empty_object)),
        "anyOf" => {
            let results: Option<Vec<bool>> =
                value.as_array()?.iter().map(accepts_empty_object).collect();
            Some(results?.contains(&true))
        }
        "oneOf" => {
            let results: Option<Vec<bool>> =
                value.as_array()?.iter().map(accepts_empty_object).collect();
            Some(results?.iter().filter(|accepted| **accepted).count() == 1)
        }
        "not" => accepts_empty_object(value).map(|accepted| !accepted),
        "if" => {
            let branch = if accepts_empty_object(value)? {
                "then"
            } else {
                "else"
            };
            schema.get(branch).map_or(Some(true), accepts_empty_object)
        }
        _ => None,
    }
}

/// `false` as soon as one is `false`; `None` if none is but one is unknown.
fn all(results: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut known = true;
    for result in results {
        match result {
            Some(false) => return Some(false),
            Some(true) => {}
            None => known = false,
        }
    }
    known.then_some(true)
}

fn is_empty_object(value: &Value) -> bool {
    value.as_object().is_some_and(Map::is_empty)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_bundled_kinds_of_schema() {
        let closed = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"site": {"enum": ["a", "b"], "default": "a"}},
        });
        assert_eq!(accepts_empty_object(&closed), Some(true));
        let conditional = json!({
            "type": "object",
            "if": {"required": ["chart"], "properties": {"chart": {"const": "v2"}}},
            "then": {"properties": {"a": false}},
            "else": {"properties": {"b": false}},
        });
        assert_eq!(accepts_empty_object(&conditional), Some(true));
        assert_eq!(
            accepts_empty_object(&json!({"required": ["api_key_env"]})),
            Some(false)
        );
        assert_eq!(
            accepts_empty_object(&json!({"type": "string"})),
            Some(false)
        );
        assert_eq!(accepts_empty_object(&json!({"$ref": "#/$defs/x"})), None);
        assert_eq!(accepts_empty_object(&json!({"x-vendor": 1})), None);
        assert_eq!(
            accepts_empty_object(&json!({"if": true, "then": {"minProperties": 1}})),
            Some(false)
        );
    }

    /// Schemas built from the keywords above, nested.
    fn schema() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(json!(true)),
            Just(json!(false)),
            Just(json!({})),
            Just(json!({"type": "object"})),
            Just(json!({"type": ["string", "object"]})),
            Just(json!({"type": "array"})),
            Just(json!({"required": []})),
            Just(json!({"required": ["a"]})),
            Just(json!({"minProperties": 0})),
            Just(json!({"minProperties": 1})),
            Just(json!({"maxProperties": 0})),
            Just(json!({"const": {}})),
            Just(json!({"const": {"a": 1}})),
            Just(json!({"enum": [1, {}]})),
            Just(json!({"enum": ["x"]})),
            Just(json!({"properties": {"a": false}, "additionalProperties": false})),
            Just(json!({"dependentRequired": {"a": ["b"]}})),
        ];
        leaf.prop_recursive(3, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..3).prop_map(|s| json!({"allOf": s})),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|s| json!({"anyOf": s})),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|s| json!({"oneOf": s})),
                inner.clone().prop_map(|s| json!({"not": s})),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(i, t, e)| json!({"if": i, "then": t, "else": e})),
                (inner.clone(), inner.clone()).prop_map(|(i, t)| json!({"if": i, "then": t})),
                (inner.clone(), inner).prop_map(|(a, b)| {
                    let mut merged = a.as_object().cloned().unwrap_or_default();
                    if let Some(b) = b.as_object() {
                        merged.extend(b.clone());
                    }
                    Value::Object(merged)
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        /// Whenever it answers, it answers as the real validator does.
        #[test]
        fn agrees_with_the_validator(schema in schema()) {
            if let Some(accepted) = accepts_empty_object(&schema) {
                let validator = jsonschema::draft202012::new(&schema).unwrap();
                prop_assert_eq!(accepted, validator.is_valid(&json!({})), "{}", schema);
            }
        }
    }
}
