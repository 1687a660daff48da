//! Whether settings plainly satisfy a backend's schema, decided without
//! building a validator.
//!
//! Building a JSON Schema validator costs milliseconds (it checks the schema
//! against the draft 2020-12 meta-schema first, then compiles it), more than
//! the rest of a command put together, and every command that calls a
//! plugin validates its settings first. Backend schemas use a small set of
//! keywords (types, properties, enums, patterns, conditions), each simple to
//! evaluate exactly. So a schema made only of those, each well formed, is
//! judged here; anything else (`$ref`, unknown keywords, a value
//! the meta-schema would refuse) makes the answer "don't know", and the
//! caller builds the validator. Only "valid" is taken from here: settings
//! that fail are validated again by the real validator, which says exactly
//! why. A pattern is compiled only to match a value, so one that does not
//! compile goes unnoticed while no setting uses it; `check` always builds
//! the validator, which reports it.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use regex::Regex;
use serde_json::{Map, Number, Value};

use crate::settings::MAX_PATTERN;

/// The dialect this judges: a schema declaring another is left to the
/// validator.
const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// The longest array checked for `uniqueItems` here, item against item;
/// a longer one is left to the validator, which hashes them.
const MAX_UNIQUE_ITEMS: usize = 64;

/// `Some(true)` if `schema` certainly accepts `instance`, `Some(false)` if
/// it certainly refuses it, `None` if this cannot tell.
pub(crate) fn judge(schema: &Value, instance: &Value) -> Option<bool> {
    if let Some(dialect) = schema.get("$schema") {
        let dialect = dialect.as_str()?;
        if dialect.trim_end_matches('#') != DRAFT_2020_12 {
            return None;
        }
    }
    if !well_formed(schema, true) {
        return None;
    }
    accepts(schema, instance, &mut Patterns::default())
}

/// Compiled patterns by source; `None` for one this does not take.
#[derive(Default)]
struct Patterns(HashMap<String, Option<Regex>>);

impl Patterns {
    /// The pattern as the validator reads it: ECMA-262 syntax translated to
    /// the `regex` crate's, the engine the host configures it with.
    fn get(&mut self, pattern: &str) -> Option<&Regex> {
        self.0
            .entry(pattern.to_owned())
            .or_insert_with(|| {
                let translated = jsonschema_regex::to_rust_regex(pattern).ok()?;
                Regex::new(&translated).ok()
            })
            .as_ref()
    }
}

/// Whether every keyword of `schema`, and of each schema inside it, is one
/// this evaluates, with a value the draft 2020-12 meta-schema allows.
fn well_formed(schema: &Value, root: bool) -> bool {
    let keywords = match schema {
        Value::Bool(_) => return true,
        Value::Object(keywords) => keywords,
        _ => return false,
    };
    keywords.iter().all(|(name, value)| match name.as_str() {
        "$schema" => root && value.is_string(),
        // `format` asserts nothing in draft 2020-12 unless a dialect says
        // so, and the only dialect judged here does not.
        "title" | "description" | "$comment" | "format" => value.is_string(),
        "default" | "const" => true,
        "examples" | "enum" => value.is_array(),
        "deprecated" | "readOnly" | "writeOnly" | "uniqueItems" => value.is_boolean(),
        "type" => match value {
            Value::String(name) => is_type_name(name),
            Value::Array(names) => {
                !names.is_empty()
                    && names
                        .iter()
                        .all(|name| name.as_str().is_some_and(is_type_name))
                    && distinct_strings(names)
            }
            _ => false,
        },
        "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties" | "maxProperties" => {
            value.as_u64().is_some()
        }
        "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => value.is_number(),
        // Compiled only when a value is matched against it: compiling every
        // pattern of a schema would cost what this module saves. One too
        // long to translate goes to the validator, which refuses it.
        "pattern" => value.as_str().is_some_and(|p| p.len() <= MAX_PATTERN),
        "required" => is_name_set(value),
        "dependentRequired" => value
            .as_object()
            .is_some_and(|names| names.values().all(is_name_set)),
        // Definitions matter only through `$ref`, which is left to the
        // validator; they must still be schemas.
        "properties" | "$defs" => value
            .as_object()
            .is_some_and(|properties| properties.values().all(|schema| well_formed(schema, false))),
        "additionalProperties" | "items" | "not" | "if" | "then" | "else" => {
            well_formed(value, false)
        }
        "allOf" | "anyOf" | "oneOf" => value.as_array().is_some_and(|schemas| {
            !schemas.is_empty() && schemas.iter().all(|schema| well_formed(schema, false))
        }),
        _ => false,
    })
}

fn is_type_name(name: &str) -> bool {
    matches!(
        name,
        "null" | "boolean" | "object" | "array" | "number" | "integer" | "string"
    )
}

/// An array of distinct strings, as `required` takes.
fn is_name_set(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|names| distinct_strings(names))
}

/// Whether `values` are all strings, none twice. In one pass: the schema is
/// the plugin's, and its lists may be as long as a message allows.
fn distinct_strings(values: &[Value]) -> bool {
    let mut seen = HashSet::with_capacity(values.len());
    values
        .iter()
        .all(|value| value.as_str().is_some_and(|name| seen.insert(name)))
}

/// Evaluates a well-formed `schema` against `instance`.
fn accepts(schema: &Value, instance: &Value, patterns: &mut Patterns) -> Option<bool> {
    let keywords = match schema {
        Value::Bool(accepts) => return Some(*accepts),
        Value::Object(keywords) => keywords,
        _ => return None,
    };
    let mut known = true;
    for (name, value) in keywords {
        match keyword(keywords, name, value, instance, patterns) {
            Some(true) => {}
            Some(false) => return Some(false),
            None => known = false,
        }
    }
    known.then_some(true)
}

fn keyword(
    schema: &Map<String, Value>,
    name: &str,
    value: &Value,
    instance: &Value,
    patterns: &mut Patterns,
) -> Option<bool> {
    match (name, instance) {
        ("type", _) => Some(match value {
            Value::Array(names) => names.iter().any(|name| has_type(instance, name)),
            name => has_type(instance, name),
        }),
        ("enum", _) => any_equal(value.as_array()?, instance),
        ("const", _) => equal(value, instance),
        ("allOf", _) => all(value.as_array()?, |s| accepts(s, instance, patterns)),
        ("anyOf" | "oneOf", _) => {
            let results: Option<Vec<bool>> = value
                .as_array()?
                .iter()
                .map(|s| accepts(s, instance, patterns))
                .collect();
            let accepted = results?.iter().filter(|accepted| **accepted).count();
            Some(if name == "anyOf" {
                accepted > 0
            } else {
                accepted == 1
            })
        }
        ("not", _) => accepts(value, instance, patterns).map(|accepted| !accepted),
        ("if", _) => {
            let branch = if accepts(value, instance, patterns)? {
                "then"
            } else {
                "else"
            };
            match schema.get(branch) {
                Some(branch) => accepts(branch, instance, patterns),
                None => Some(true),
            }
        }
        ("minLength", Value::String(text)) => Some(chars(text) >= value.as_u64()?),
        ("maxLength", Value::String(text)) => Some(chars(text) <= value.as_u64()?),
        ("pattern", Value::String(text)) => {
            // ECMA-262's `.` matches none of these, the `regex` crate's
            // matches all but `\n`: leave such text to the validator.
            if text.contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
                return None;
            }
            Some(patterns.get(value.as_str()?)?.is_match(text))
        }
        ("minimum", Value::Number(n)) => Some(compare(n, value.as_number()?)?.is_ge()),
        ("maximum", Value::Number(n)) => Some(compare(n, value.as_number()?)?.is_le()),
        ("exclusiveMinimum", Value::Number(n)) => Some(compare(n, value.as_number()?)?.is_gt()),
        ("exclusiveMaximum", Value::Number(n)) => Some(compare(n, value.as_number()?)?.is_lt()),
        ("items", Value::Array(items)) => all(items, |item| accepts(value, item, patterns)),
        ("minItems", Value::Array(items)) => Some(items.len() as u64 >= value.as_u64()?),
        ("maxItems", Value::Array(items)) => Some(items.len() as u64 <= value.as_u64()?),
        ("uniqueItems", Value::Array(items)) if value == &Value::Bool(true) => {
            if items.len() > MAX_UNIQUE_ITEMS {
                return None;
            }
            for (i, item) in items.iter().enumerate() {
                if any_equal(&items[..i], item)? {
                    return Some(false);
                }
            }
            Some(true)
        }
        ("required", Value::Object(object)) => Some(has_keys(object, value.as_array()?)),
        ("dependentRequired", Value::Object(object)) => {
            Some(value.as_object()?.iter().all(|(present, needed)| {
                !object.contains_key(present)
                    || needed
                        .as_array()
                        .is_some_and(|names| has_keys(object, names))
            }))
        }
        ("minProperties", Value::Object(object)) => Some(object.len() as u64 >= value.as_u64()?),
        ("maxProperties", Value::Object(object)) => Some(object.len() as u64 <= value.as_u64()?),
        ("properties", Value::Object(object)) => {
            let properties = value.as_object()?;
            let present: Vec<_> = object
                .iter()
                .filter_map(|(key, item)| properties.get(key).map(|schema| (schema, item)))
                .collect();
            all(&present, |(schema, item)| accepts(schema, item, patterns))
        }
        ("additionalProperties", Value::Object(object)) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional: Vec<&Value> = object
                .iter()
                .filter(|(key, _)| !properties.is_some_and(|p| p.contains_key(*key)))
                .map(|(_, item)| item)
                .collect();
            all(&additional, |item| accepts(value, item, patterns))
        }
        // Annotations; `then` and `else` go with their `if`; and keywords
        // about a kind of value the instance is not.
        _ => Some(true),
    }
}

/// `false` as soon as one is `false`; `None` if none is but one is unknown.
fn all<T>(items: &[T], mut judge: impl FnMut(&T) -> Option<bool>) -> Option<bool> {
    let mut known = true;
    for item in items {
        match judge(item) {
            Some(false) => return Some(false),
            Some(true) => {}
            None => known = false,
        }
    }
    known.then_some(true)
}

/// Whether `object` has every key `names` lists.
fn has_keys(object: &Map<String, Value>, names: &[Value]) -> bool {
    names
        .iter()
        .all(|name| name.as_str().is_some_and(|name| object.contains_key(name)))
}

fn has_type(instance: &Value, name: &Value) -> bool {
    match (name.as_str(), instance) {
        (Some("null"), Value::Null)
        | (Some("boolean"), Value::Bool(_))
        | (Some("object"), Value::Object(_))
        | (Some("array"), Value::Array(_))
        | (Some("number"), Value::Number(_))
        | (Some("string"), Value::String(_)) => true,
        (Some("integer"), Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// Length in Unicode code points, as JSON Schema counts it.
fn chars(text: &str) -> u64 {
    text.chars().count() as u64
}

/// Whether `instance` equals one of `values`; `None` when that turns on
/// numbers this cannot compare exactly.
fn any_equal(values: &[Value], instance: &Value) -> Option<bool> {
    let mut known = true;
    for value in values {
        match equal(value, instance) {
            Some(true) => return Some(true),
            Some(false) => {}
            None => known = false,
        }
    }
    known.then_some(false)
}

/// JSON Schema's equality: numbers by value (`1` equals `1.0`), arrays item
/// by item, objects key by key.
fn equal(a: &Value, b: &Value) -> Option<bool> {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => Some(compare(a, b)? == Ordering::Equal),
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Some(false);
            }
            let pairs: Vec<_> = a.iter().zip(b).collect();
            all(&pairs, |(a, b)| equal(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            if a.len() != b.len() || a.keys().any(|key| !b.contains_key(key)) {
                return Some(false);
            }
            let pairs: Vec<_> = a.iter().map(|(key, value)| (value, &b[key])).collect();
            all(&pairs, |(a, b)| equal(a, b))
        }
        (a, b) => Some(a == b),
    }
}

/// Compares two numbers exactly, or `None`: integers as integers, and a
/// float with an integer only where the integer is exact as a float.
fn compare(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (integer(a), integer(b)) {
        return Some(a.cmp(&b));
    }
    let exact = |n: &Number| match integer(n) {
        Some(i) if i.unsigned_abs() <= 1 << 53 => Some(i as f64),
        Some(_) => None,
        None => n.as_f64(),
    };
    exact(a)?.partial_cmp(&exact(b)?)
}

fn integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

#[cfg(test)]
mod tests;
