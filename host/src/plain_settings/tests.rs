use proptest::prelude::*;
use serde_json::json;

use super::*;

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(schema)
        .unwrap_or_else(|error| panic!("{schema} was judged, but it is no valid schema: {error}"))
}

#[test]
fn the_bundled_kinds_of_schema() {
    let closed = json!({
        "$schema": DRAFT_2020_12,
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "site": {"enum": ["a", "b"], "default": "a"},
            "endpoint": {"type": "string", "pattern": "^[a-z]+:[0-9]{1,5}$"},
        },
    });
    assert_eq!(judge(&closed, &json!({})), Some(true));
    assert_eq!(
        judge(&closed, &json!({"site": "b", "endpoint": "x:4317"})),
        Some(true)
    );
    assert_eq!(judge(&closed, &json!({"site": "c"})), Some(false));
    assert_eq!(
        judge(&closed, &json!({"endpoint": "http://x:4317"})),
        Some(false)
    );
    assert_eq!(judge(&closed, &json!({"sight": "a"})), Some(false));
    let conditional = json!({
        "type": "object",
        "if": {"required": ["chart"], "properties": {"chart": {"const": "v2"}}},
        "then": {"properties": {"a": false}},
        "else": {"properties": {"b": false}},
    });
    assert_eq!(judge(&conditional, &json!({})), Some(true));
    assert_eq!(
        judge(&conditional, &json!({"chart": "v2", "b": 1})),
        Some(true)
    );
    assert_eq!(
        judge(&conditional, &json!({"chart": "v2", "a": 1})),
        Some(false)
    );
    assert_eq!(
        judge(&json!({"required": ["api_key_env"]}), &json!({})),
        Some(false)
    );
    assert_eq!(judge(&json!({"type": "string"}), &json!({})), Some(false));
    assert_eq!(judge(&json!({"type": "integer"}), &json!(1.0)), Some(true));
    assert_eq!(judge(&json!({"const": 1}), &json!(1.0)), Some(true));
}

#[test]
fn what_it_leaves_to_the_validator() {
    let empty = json!({});
    for schema in [
        json!({"$ref": "#/$defs/x"}),
        json!({"x-vendor": 1}),
        json!({"properties": {"a": {"$ref": "#"}}}),
        json!({"$defs": {"a": {"type": 5}}}),
        json!({"$schema": "http://json-schema.org/draft-07/schema#"}),
        json!({"properties": {"a": {"$schema": DRAFT_2020_12}}}),
        // Values the meta-schema refuses.
        json!({"type": "strnig"}),
        json!({"type": []}),
        json!({"required": "a"}),
        json!({"required": ["a", "a"]}),
        json!({"minLength": -1}),
        json!({"title": 3}),
        json!({"allOf": []}),
        json!({"pattern": 1}),
        json!({"properties": {"a": {"type": 5}}}),
    ] {
        assert_eq!(judge(&schema, &empty), None, "{schema}");
    }
    // A pattern is compiled when a value is matched against it: one that
    // does not compile leaves that value to the validator (and is reported
    // by `check`); unused, it goes unnoticed here.
    for pattern in ["(", "(?=a)"] {
        let schema = json!({"properties": {"a": {"pattern": pattern}}});
        assert_eq!(judge(&schema, &json!({"a": "x"})), None, "{schema}");
        assert_eq!(judge(&schema, &json!({"b": "x"})), Some(true), "{schema}");
    }
    // A long array against `uniqueItems`, which the validator hashes.
    let long: Vec<u32> = (0..=MAX_UNIQUE_ITEMS as u32).collect();
    assert_eq!(judge(&json!({"uniqueItems": true}), &json!(long)), None);
    // Line ends, which the two regex dialects treat differently.
    assert_eq!(judge(&json!({"pattern": "^a.$"}), &json!("a\r")), None);
    // Integers beyond a float's precision, compared with a float.
    let big = json!({"maximum": 9007199254740993u64});
    assert_eq!(judge(&big, &json!(9.007199254740992e15)), None);
}

/// Schemas built from the keywords judged here, nested, with some the
/// validator would refuse.
fn schema() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!(true)),
        Just(json!(false)),
        Just(json!({})),
        Just(json!({"type": "object"})),
        Just(json!({"type": ["string", "null"]})),
        Just(json!({"type": "integer"})),
        Just(json!({"type": "number", "minimum": 1, "exclusiveMaximum": 2.5})),
        Just(json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true})),
        Just(json!({"minItems": 1, "maxItems": 2})),
        Just(json!({"required": []})),
        Just(json!({"required": ["a"]})),
        Just(json!({"minProperties": 1, "maxProperties": 2})),
        Just(json!({"const": {}})),
        Just(json!({"const": 1})),
        Just(json!({"const": [1, "a"]})),
        Just(json!({"enum": [1, {}, "a:1"]})),
        Just(json!({"enum": ["x"]})),
        Just(json!({"minLength": 1, "maxLength": 3})),
        Just(json!({"pattern": "^[a-z]+:[0-9]{1,5}$"})),
        Just(json!({"pattern": "é|b"})),
        Just(json!({"pattern": "^\\d+$"})),
        Just(json!({"pattern": "^a.$"})),
        Just(json!({"properties": {"a": false}, "additionalProperties": false})),
        Just(
            json!({"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}})
        ),
        Just(json!({"dependentRequired": {"a": ["b"]}})),
        Just(json!({"title": "t", "description": "d", "default": 3, "examples": [1]})),
        Just(json!({"type": "strnig"})),
        Just(json!({"format": "email"})),
        Just(json!({"format": "x-unknown", "$defs": {"d": {"minLength": 2}}})),
    ];
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(|s| json!({"allOf": s})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|s| json!({"anyOf": s})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|s| json!({"oneOf": s})),
            inner.clone().prop_map(|s| json!({"not": s})),
            inner
                .clone()
                .prop_map(|s| json!({"properties": {"a": s, "b": true}})),
            inner.clone().prop_map(|s| json!({"items": s})),
            inner
                .clone()
                .prop_map(|s| json!({"additionalProperties": s})),
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

/// Settings-like values: the kinds of value above, in objects and arrays.
fn instance() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!(null)),
        Just(json!(true)),
        Just(json!(0)),
        Just(json!(1)),
        Just(json!(1.0)),
        Just(json!(2.5)),
        Just(json!(-3)),
        Just(json!("")),
        Just(json!("a")),
        Just(json!("a:1")),
        Just(json!("ab:65536")),
        Just(json!("é")),
        Just(json!("123")),
        Just(json!("١٢٣")),
        Just(json!("a\n")),
        Just(json!("x")),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[abc]", inner, 0..3)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4_000, ..ProptestConfig::default() })]

    /// Whenever it answers, the schema is valid and the real validator
    /// answers the same.
    #[test]
    fn agrees_with_the_validator(schema in schema(), instance in instance()) {
        if let Some(accepted) = judge(&schema, &instance) {
            prop_assert_eq!(accepted, validator(&schema).is_valid(&instance), "{} {}", schema, instance);
        }
    }
}
