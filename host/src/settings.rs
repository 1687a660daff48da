//! Checking a backend's settings against the JSON Schema it publishes.

use floe_plugin_api::JsonObject;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::config::Violation;
use crate::{Error, plain_settings};

/// Every way `settings` break `schema`, each at its path below `prefix`
/// (e.g. `backends[1].config`). `name` is the backend's, for the hints.
///
/// A value is quoted only where it cannot be a credential: never under a key
/// ending in `_env` (the name of a variable, but a secret pasted there by
/// mistake must not be shown).
pub(crate) fn violations(
    schema: &JsonObject,
    settings: &JsonObject,
    prefix: &str,
    name: &str,
) -> Result<Vec<Violation>, Error> {
    validate(
        &Value::Object(schema.clone()),
        &Value::Object(settings.clone()),
        prefix,
        name,
    )
}

/// [`violations`] before a call: settings the schema plainly accepts pass
/// without a validator being built (see `plain_settings`), which costs
/// more than the rest of a command. Anything else, failures included, goes
/// to the validator, for its exact messages.
pub(crate) fn violations_before_call(
    schema: &JsonObject,
    settings: &JsonObject,
    prefix: &str,
    name: &str,
) -> Result<Vec<Violation>, Error> {
    let schema = Value::Object(schema.clone());
    let instance = Value::Object(settings.clone());
    if plainly_valid(&schema, &instance) {
        tracing::debug!(backend = %name, "settings plainly valid, no validator built");
        return Ok(Vec::new());
    }
    validate(&schema, &instance, prefix, name)
}

/// Whether `schema` plainly accepts `instance` (see `plain_settings`):
/// `false` when it refuses it, and when it takes a validator to tell.
pub(crate) fn plainly_valid(schema: &Value, instance: &Value) -> bool {
    plain_settings::judge(schema, instance) == Some(true)
}

/// [`violations`], with the schema and the settings as JSON values.
fn validate(
    schema: &Value,
    instance: &Value,
    prefix: &str,
    name: &str,
) -> Result<Vec<Violation>, Error> {
    if let Some(reason) = overlong_pattern(schema) {
        return Err(Error::InvalidSchema { reason });
    }
    tracing::debug!(backend = %name, "building the settings validator");
    // Patterns come from the plugin: the `regex` engine matches in linear
    // time, so no pattern can make validation hang, where the default
    // backtracking engine could. A pattern it cannot take (look-around) is
    // reported like any other invalid schema.
    let validator = jsonschema::options()
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(schema)
        .map_err(|error| Error::InvalidSchema {
            reason: error.to_string(),
        })?;
    let mut found = Vec::new();
    for error in validator.iter_errors(instance) {
        let segments = pointer_segments(error.instance_path().as_str());
        let path = dotted(prefix, &segments);
        let under_env_key = segments.last().is_some_and(|s| s.ends_with("_env"));
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = known_keys(schema, &segments);
                for key in unexpected {
                    found.push(Violation::new(
                        dotted(&path, std::slice::from_ref(key)),
                        format!("unknown setting; {name} takes {}", list(&known)),
                    ));
                }
            }
            ValidationErrorKind::Enum { options } => {
                let value = if under_env_key {
                    "the value".to_owned()
                } else {
                    error.instance().to_string()
                };
                let options = match options.as_array() {
                    Some(items) => items
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    None => options.to_string(),
                };
                found.push(Violation::new(
                    path,
                    format!("{value} is not one of [{options}]"),
                ));
            }
            ValidationErrorKind::Pattern { .. } if under_env_key => {
                found.push(Violation::new(
                    path,
                    "is not an environment variable name (letters, digits and `_`, not starting \
                     with a digit); put the secret in the collector's environment and its name here",
                ));
            }
            // A regular expression tells a person little; the setting's
            // description says what form is expected.
            ValidationErrorKind::Pattern { .. } => match description(schema, &segments) {
                Some(description) => found.push(Violation::new(
                    path,
                    format!(
                        "{} is not of the form this setting takes: {description}",
                        error.instance()
                    ),
                )),
                None => found.push(Violation::new(path, error.to_string())),
            },
            ValidationErrorKind::FalseSchema => {
                found.push(Violation::new(
                    path,
                    format!(
                        "not allowed together with the other settings given; see the \
                         descriptions in `floe-telemetry schema {name}`"
                    ),
                ));
            }
            _ if under_env_key => {
                found.push(Violation::new(
                    path,
                    error.masked_with("the value").to_string(),
                ));
            }
            _ => found.push(Violation::new(path, error.to_string())),
        }
    }
    found.dedup();
    Ok(found)
}

/// The longest pattern (in bytes) a schema may hold. Real ones are a few
/// hundred bytes; translating a pattern to the `regex` crate's syntax takes
/// time that grows with the square of some patterns' length (a few MiB of
/// `\cA` would take days), and this happens in the host, with no time limit.
pub(crate) const MAX_PATTERN: usize = 4096;

/// Why `schema` holds a pattern too long to translate, if it does: a
/// `pattern` value or a `patternProperties` key anywhere in it.
fn overlong_pattern(schema: &Value) -> Option<String> {
    let too_long = |what: &str, pattern: &str| {
        (pattern.len() > MAX_PATTERN).then(|| {
            format!(
                "a {what} of {} bytes, over the {MAX_PATTERN} this host translates",
                pattern.len()
            )
        })
    };
    match schema {
        Value::Object(keywords) => keywords.iter().find_map(|(name, value)| {
            let here = match (name.as_str(), value) {
                ("pattern", Value::String(pattern)) => too_long("pattern", pattern),
                ("patternProperties", Value::Object(patterns)) => patterns
                    .keys()
                    .find_map(|pattern| too_long("patternProperties key", pattern)),
                _ => None,
            };
            here.or_else(|| overlong_pattern(value))
        }),
        Value::Array(items) => items.iter().find_map(overlong_pattern),
        _ => None,
    }
}

/// The unescaped segments of a JSON pointer (`/a/0/b~1c` → `a`, `0`, `b/c`).
fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// `prefix.a[0].b`: numbers index lists, other segments are keys.
fn dotted(prefix: &str, segments: &[String]) -> String {
    let mut path = prefix.to_owned();
    for segment in segments {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push('.');
            path.push_str(segment);
        }
    }
    path
}

/// The schema of the value at `segments`, found by following `properties`
/// and `items` from the root.
fn node_at<'s>(schema: &'s Value, segments: &[String]) -> Option<&'s Value> {
    let mut node = schema;
    for segment in segments {
        node = node
            .get("properties")
            .and_then(|properties| properties.get(segment))
            .or_else(|| node.get("items"))?;
    }
    Some(node)
}

/// The `description` the schema gives the value at `segments`.
fn description<'s>(schema: &'s Value, segments: &[String]) -> Option<&'s str> {
    node_at(schema, segments)?.get("description")?.as_str()
}

/// The properties the schema declares for the object at `segments`.
fn known_keys(schema: &Value, segments: &[String]) -> Vec<String> {
    let Some(node) = node_at(schema, segments) else {
        return Vec::new();
    };
    node.get("properties")
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

fn list(keys: &[String]) -> String {
    if keys.is_empty() {
        "no settings here".to_owned()
    } else {
        keys.iter()
            .map(|key| format!("`{key}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_overlong_pattern_anywhere_is_refused_before_translation() {
        let long = "a".repeat(MAX_PATTERN + 1);
        let fits = "a".repeat(MAX_PATTERN);
        assert_eq!(overlong_pattern(&json!({"pattern": fits})), None);
        for schema in [
            json!({"properties": {"x": {"pattern": long}}}),
            json!({"allOf": [{"patternProperties": {long.clone(): true}}]}),
        ] {
            let error = violations(&object(schema), &JsonObject::new(), "p", "b").unwrap_err();
            assert!(error.to_string().contains("over the 4096"), "{error}");
        }
    }

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(object) => object,
            other => panic!("{other} is not an object"),
        }
    }

    #[test]
    fn a_pattern_built_to_backtrack_is_matched_in_linear_time() {
        // Exponential for a backtracking engine on a non-matching input.
        let schema = object(json!({
            "type": "object",
            "properties": {"name": {"type": "string", "pattern": "^(a+)+$"}}
        }));
        let settings = object(json!({"name": format!("{}b", "a".repeat(64))}));
        let found = violations(&schema, &settings, "config", "hostile").unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "config.name");
    }

    #[test]
    fn a_pattern_the_engine_cannot_take_is_an_invalid_schema() {
        let schema = object(json!({"properties": {"x": {"pattern": "(?=a)"}}}));
        let error = violations(&schema, &JsonObject::new(), "config", "x").unwrap_err();
        assert!(matches!(error, Error::InvalidSchema { .. }), "{error}");
    }

    fn schema() -> JsonObject {
        object(json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "site": {"enum": ["a.example", "b.example"]},
                "key_env": {"type": "string", "pattern": "^[A-Z_]+$"},
                "tls": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {"insecure": {"type": "boolean"}}
                },
                "signals": {"type": "array", "items": {"enum": ["traces"]}}
            }
        }))
    }

    fn check(settings: Value) -> Vec<String> {
        violations(&schema(), &object(settings), "backends[1].config", "demo")
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn valid_settings_pass() {
        assert!(check(json!({})).is_empty());
        assert!(check(json!({"site": "a.example", "tls": {"insecure": false}})).is_empty());
    }

    #[test]
    fn every_violation_has_its_path() {
        let found = check(json!({
            "site": "c.example",
            "tls": {"insecure": "yes", "insecur": true},
            "signals": ["traces", "logs"],
            "sight": 1
        }));
        assert!(
            found.contains(
                &r#"backends[1].config.site: "c.example" is not one of ["a.example", "b.example"]"#
                    .to_owned()
            ),
            "{found:#?}"
        );
        assert!(
            found.contains(
                &"backends[1].config.sight: unknown setting; demo takes `site`, `key_env`, `tls`, `signals`"
                    .to_owned()
            ),
            "{found:#?}"
        );
        assert!(
            found.contains(
                &"backends[1].config.tls.insecur: unknown setting; demo takes `insecure`"
                    .to_owned()
            ),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|v| v.starts_with("backends[1].config.tls.insecure: ")),
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .any(|v| v.starts_with("backends[1].config.signals[1]: ")),
            "{found:#?}"
        );
        assert_eq!(found.len(), 5, "{found:#?}");
    }

    #[test]
    fn values_under_env_keys_are_never_quoted() {
        for value in [
            json!("sk-live-0123456789"),
            json!(42),
            json!(["sk-live-0123456789"]),
        ] {
            let found = check(json!({ "key_env": value }));
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(
                found[0].starts_with("backends[1].config.key_env: "),
                "{found:?}"
            );
            assert!(
                !found[0].contains("sk-live") && !found[0].contains("42"),
                "{found:?}"
            );
        }
    }

    #[test]
    fn a_broken_schema_is_the_plugin_s_fault() {
        let broken = object(json!({"type": "no-such-type"}));
        assert!(matches!(
            violations(&broken, &JsonObject::new(), "x", "demo"),
            Err(Error::InvalidSchema { .. })
        ));
    }
}
