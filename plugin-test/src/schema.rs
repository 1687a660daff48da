//! Rules about the settings schema.

use floe_plugin_api::JsonObject;
use floe_plugin_api::serde_json::Value;

/// Every object schema with properties, the root included, refuses unknown
/// keys: a misspelt setting is an error, not silently ignored.
pub(crate) fn closed(schema: &JsonObject) -> Vec<String> {
    let mut problems = Vec::new();
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        problems.push(
            "settings schema: the root has no \"type\": \"object\"; settings are a mapping"
                .to_owned(),
        );
    }
    closed_at(None, schema, &mut problems);
    problems
}

fn closed_at(path: Option<&str>, schema: &JsonObject, problems: &mut Vec<String>) {
    let is_object = schema.get("type").and_then(Value::as_str) == Some("object")
        || schema.contains_key("properties");
    let closed = ["additionalProperties", "unevaluatedProperties"]
        .iter()
        .any(|key| schema.get(*key) == Some(&Value::Bool(false)));
    if is_object && !closed {
        let place = path.map_or_else(|| "the root".to_owned(), |path| format!("`{path}`"));
        problems.push(format!(
            "settings schema: {place} is an object without \"additionalProperties\": false; add \
             it, so that a misspelt setting is an error"
        ));
    }
    for (key, property) in properties(schema) {
        if let Value::Object(property) = property {
            let child = match path {
                Some(path) => format!("{path}.{key}"),
                None => key.clone(),
            };
            closed_at(Some(&child), property, problems);
        }
    }
}

fn properties(schema: &JsonObject) -> impl Iterator<Item = (&String, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

/// Every setting (a property of the root) says what it is, and either
/// has a default or says that it is optional: `floe-telemetry schema NAME`
/// is its documentation.
pub(crate) fn documented(schema: &JsonObject) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, property) in properties(schema) {
        let Value::Object(property) = property else {
            // `false` forbids a key, `true` allows anything: neither is a
            // setting to document.
            continue;
        };
        let description = property
            .get("description")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        if description.is_empty() {
            problems.push(format!(
                "settings schema: `{key}` has no \"description\"; say what it sets, in one line"
            ));
        }
        if !property.contains_key("default") && !says_optional(description) {
            problems.push(format!(
                "settings schema: `{key}` has no \"default\", and its description does not say \
                 it is optional; give it a default, or begin its description with \"optional:\" \
                 and say what happens without it"
            ));
        }
    }
    problems
}

/// Whether a description marks its setting optional: the word `optional`.
fn says_optional(description: &str) -> bool {
    description
        .split(|c: char| !c.is_alphanumeric())
        .any(|word| word.eq_ignore_ascii_case("optional"))
}

/// Why the schema refuses `{}`, the settings of a backend listed without
/// `config:`; validated as the host validates settings.
pub(crate) fn refuses_empty(schema: &JsonObject) -> Vec<String> {
    let schema = Value::Object(schema.clone());
    let validator = match jsonschema::options()
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(&schema)
    {
        Ok(validator) => validator,
        Err(error) => {
            return vec![format!(
                "the settings schema is not a JSON Schema the host can use: {error}"
            )];
        }
    };
    let empty = Value::Object(JsonObject::new());
    validator
        .iter_errors(&empty)
        .map(|error| {
            format!(
                "the settings schema refuses `{{}}`: {error}; every setting needs a default or \
                 must be optional, so that a backend listed without `config:` works"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use floe_plugin_api::json_object;

    use super::*;

    #[test]
    fn open_objects_are_named_at_any_depth() {
        let schema = json_object!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"tls": {"type": "object", "properties": {"ca": {"type": "object"}}}}
        });
        let problems = closed(&schema);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].starts_with("settings schema: `tls` is an object without"));
        assert!(problems[1].starts_with("settings schema: `tls.ca` is an object without"));
    }

    #[test]
    fn optional_is_a_word_of_the_description() {
        assert!(says_optional("Optional: the URL; without it, the zone's"));
        assert!(says_optional("the URL (optional)"));
        assert!(!says_optional("the URL, not optionally"));
    }

    #[test]
    fn a_required_setting_refuses_empty_settings() {
        let schema = json_object!({
            "type": "object",
            "additionalProperties": false,
            "required": ["region"],
            "properties": {"region": {"type": "string"}}
        });
        let problems = refuses_empty(&schema);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].contains("\"region\" is a required property"),
            "{}",
            problems[0]
        );
    }
}
