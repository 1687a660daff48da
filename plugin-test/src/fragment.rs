//! Rules about the collector fragment (and, for credentials, the Helm
//! values): what `otlp_exporter_config` returns with `{}` settings.

use floe_plugin_api::JsonObject;
use floe_plugin_api::serde_json::Value;

/// The signals a pipeline can carry.
const SIGNALS: [&str; 3] = ["traces", "metrics", "logs"];

/// Every component id the fragment defines or names, and every pipeline
/// id, is one the collector accepts.
pub(crate) fn component_ids(fragment: &JsonObject) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |place: String, id: &str| {
        if !is_component_id(id) {
            problems.push(format!(
                "fragment: {place}: {id:?} is not a collector component id: `type` or \
                 `type/name`, the type letters, digits and `_` starting with a letter, the name \
                 without spaces or `/`"
            ));
        }
    };
    for section in ["exporters", "extensions"] {
        for id in map(fragment, section).keys() {
            check(format!("`{section}`"), id);
        }
    }
    let service = map(fragment, "service");
    for id in strings(service.get("extensions")) {
        check("`service.extensions`".to_owned(), id);
    }
    for (pipeline, body) in map(service, "pipelines") {
        check("`service.pipelines`".to_owned(), pipeline);
        if let Value::Object(body) = body {
            for id in strings(body.get("exporters")) {
                check(format!("`service.pipelines.{pipeline}.exporters`"), id);
            }
        }
    }
    problems
}

/// The collector's id syntax: `type` or `type/name`.
pub(crate) fn is_component_id(id: &str) -> bool {
    let (kind, name) = match id.split_once('/') {
        Some((kind, name)) => (kind, Some(name)),
        None => (id, None),
    };
    let kind_ok = (1..=63).contains(&kind.len())
        && kind.starts_with(|c: char| c.is_ascii_alphabetic())
        && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let name_ok = name.is_none_or(|name| {
        !name.is_empty()
            && name.len() <= 1024
            && !name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    });
    kind_ok && name_ok
}

/// Every field whose key looks like a credential holds `${env:NAME}`
/// references only (after an optional scheme such as `Basic `), never a
/// value. `what` names the output in messages; values are never quoted.
pub(crate) fn literal_credentials(what: &'static str) -> impl Fn(&JsonObject) -> Vec<String> {
    move |output| {
        let mut problems = Vec::new();
        for (key, value) in output {
            walk(what, key, key, value, &mut problems);
        }
        problems
    }
}

/// `path` leads to `value`, under `key` (an array's items are under the
/// array's key).
fn walk(what: &str, path: &str, key: &str, value: &Value, problems: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                walk(what, &format!("{path}.{key}"), key, value, problems);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(what, &format!("{path}[{index}]"), key, item, problems);
            }
        }
        Value::Null | Value::Bool(_) => {}
        _ if !looks_secret(key) => {}
        Value::String(text) if is_reference(text) => {}
        _ => problems.push(format!(
            "{what}: `{path}` looks like a credential but holds a value; write an `${{env:NAME}}` \
             reference for the collector to resolve, and take NAME from a setting ending in \
             `_env`"
        )),
    }
}

/// Whether an output key names a secret: the host's credential words
/// (`key`, `token`, `password`, `secret`, `authorization`, `*_key`, ...),
/// in keys and header names alike (`-` counts as `_`).
fn looks_secret(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "key",
        "apikey",
        "token",
        "password",
        "passwd",
        "secret",
        "credential",
        "credentials",
        "authorization",
        "proxy_authorization",
        "bearer",
        "basic_auth",
    ];
    const SUFFIXES: &[&str] = &[
        "_key",
        "_apikey",
        "_token",
        "_password",
        "_passwd",
        "_secret",
        "_credential",
        "_credentials",
    ];
    let key = key.to_ascii_lowercase().replace('-', "_");
    // Names of variables or files hold no secret.
    if key.ends_with("_env") || key.ends_with("_file") {
        return false;
    }
    EXACT.contains(&key.as_str()) || SUFFIXES.iter().any(|suffix| key.ends_with(suffix))
}

/// `${env:NAME}`, possibly after an authentication scheme word
/// (`Basic ${env:NAME}`), and nothing else.
fn is_reference(text: &str) -> bool {
    let rest = match text.split_once(' ') {
        Some((scheme, rest)) if scheme.chars().all(|c| c.is_ascii_alphabetic()) => rest,
        _ => text,
    };
    let Some(name) = rest
        .strip_prefix("${env:")
        .and_then(|rest| rest.strip_suffix('}'))
    else {
        return false;
    };
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The fragment holds what a host composes: `exporters` and `extensions`
/// (maps of component ids), `service.extensions` (the ids of extensions it
/// defines) and `service.pipelines` (per signal, the exporters of that
/// signal); and it defines at least one exporter.
pub(crate) fn shape(fragment: &JsonObject) -> Vec<String> {
    let mut problems = Vec::new();
    for key in fragment.keys() {
        if !matches!(key.as_str(), "exporters" | "extensions" | "service") {
            problems.push(format!(
                "fragment: `{key}`: a backend's fragment holds only `exporters`, `extensions` \
                 and `service`; receivers and processors belong to the user's configuration"
            ));
        }
    }
    for section in ["exporters", "extensions", "service"] {
        match fragment.get(section) {
            None | Some(Value::Object(_)) => {}
            Some(_) => problems.push(format!("fragment: `{section}` is not a mapping")),
        }
    }
    for section in ["exporters", "extensions"] {
        for (id, body) in map(fragment, section) {
            if !matches!(body, Value::Object(_) | Value::Null) {
                problems.push(format!(
                    "fragment: `{section}.{id}` is not a mapping of the component's settings"
                ));
            }
        }
    }
    if map(fragment, "exporters").is_empty() {
        problems.push(
            "fragment: no `exporters`: the backend exports nothing; define its exporter".to_owned(),
        );
    }
    let service = map(fragment, "service");
    for key in service.keys() {
        if !matches!(key.as_str(), "extensions" | "pipelines") {
            problems.push(format!(
                "fragment: `service.{key}`: a backend's fragment sets only `service.extensions` \
                 and `service.pipelines`"
            ));
        }
    }
    match service.get("extensions") {
        None => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            let defined = map(fragment, "extensions");
            for id in strings(service.get("extensions")) {
                if !defined.contains_key(id) {
                    problems.push(format!(
                        "fragment: `service.extensions` lists {id}, which the fragment does not \
                         define under `extensions`"
                    ));
                }
            }
        }
        Some(_) => problems.push("fragment: `service.extensions` is not a list of ids".to_owned()),
    }
    match service.get("pipelines") {
        None | Some(Value::Object(_)) => {}
        Some(_) => problems.push("fragment: `service.pipelines` is not a mapping".to_owned()),
    }
    for (pipeline, body) in map(service, "pipelines") {
        let Value::Object(body) = body else {
            problems.push(format!(
                "fragment: `service.pipelines.{pipeline}` is not a mapping"
            ));
            continue;
        };
        for key in body.keys().filter(|key| *key != "exporters") {
            problems.push(format!(
                "fragment: `service.pipelines.{pipeline}.{key}`: a backend's pipeline names only \
                 `exporters`; receivers and processors are the user's"
            ));
        }
        match body.get("exporters") {
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            _ => problems.push(format!(
                "fragment: `service.pipelines.{pipeline}.exporters` is not a list of exporter ids"
            )),
        }
    }
    problems
}

/// The fragment's pipelines send only its own exporters, and only signals
/// the backend declares (`None`: an API 1.0 plugin, all three).
pub(crate) fn pipelines(fragment: &JsonObject, declared: Option<&[String]>) -> Vec<String> {
    let mut problems = Vec::new();
    let exporters = map(fragment, "exporters");
    let service = map(fragment, "service");
    for (pipeline, body) in map(service, "pipelines") {
        let signal = pipeline.split('/').next().unwrap_or_default();
        if !SIGNALS.contains(&signal) {
            problems.push(format!(
                "fragment: `service.pipelines.{pipeline}`: {signal:?} is not a signal; a pipeline \
                 is `traces`, `metrics` or `logs`, optionally followed by `/name`"
            ));
        } else if declared.is_some_and(|declared| !declared.iter().any(|s| s == signal)) {
            problems.push(format!(
                "fragment: `service.pipelines.{pipeline}`: the backend does not declare {signal} \
                 (SIGNALS: {}); add it to SIGNALS, or leave the pipeline out",
                declared.unwrap_or_default().join(", ")
            ));
        }
        let Value::Object(body) = body else { continue };
        for id in strings(body.get("exporters")) {
            if !exporters.contains_key(id) {
                problems.push(format!(
                    "fragment: `service.pipelines.{pipeline}.exporters` names {id}, which the \
                     fragment does not define under `exporters`"
                ));
            }
        }
    }
    problems
}

fn map<'a>(object: &'a JsonObject, key: &str) -> &'a JsonObject {
    static EMPTY: std::sync::OnceLock<JsonObject> = std::sync::OnceLock::new();
    match object.get(key) {
        Some(Value::Object(inner)) => inner,
        _ => EMPTY.get_or_init(JsonObject::new),
    }
}

fn strings(value: Option<&Value>) -> impl Iterator<Item = &str> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

#[cfg(test)]
mod tests {
    use floe_plugin_api::json_object;

    use super::*;

    #[test]
    fn ids() {
        for good in [
            "otlp",
            "otlphttp/acme",
            "basicauth/grafana_cloud",
            "otlp/a-b.c",
        ] {
            assert!(is_component_id(good), "{good}");
        }
        for bad in [
            "",
            "otlp/",
            "/x",
            "otlp/a/b",
            "otlp http",
            "1otlp",
            "otlp/a b",
        ] {
            assert!(!is_component_id(bad), "{bad}");
        }
    }

    #[test]
    fn credentials_are_references_never_values() {
        let output = json_object!({
            "exporters": {
                "datadog": {"api": {"key": "${env:DD_API_KEY}", "site": "datadoghq.com"}},
                "otlphttp/a": {"headers": {
                    "Authorization": "Basic ${env:BASIC}",
                    "x-api-key": "hunter2",
                    "x-token": "Bearer ${env:A} ${env:B}"
                }},
                "otlp/b": {"tls": {"key_file": "/etc/tls.key"}, "token": 42}
            }
        });
        let problems = literal_credentials("fragment")(&output);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems[0].starts_with("fragment: `exporters.otlphttp/a.headers.x-api-key` looks")
        );
        assert!(problems[1].contains("`exporters.otlphttp/a.headers.x-token`"));
        assert!(problems[2].contains("`exporters.otlp/b.token`"));
        assert!(!problems.iter().any(|p| p.contains("hunter2")));
    }

    #[test]
    fn pipelines_name_own_exporters_and_declared_signals() {
        let fragment = json_object!({
            "exporters": {"datadog": {}},
            "service": {"pipelines": {
                "traces": {"exporters": ["datadog"]},
                "metrics": {"exporters": ["otlp"]},
                "spans": {"exporters": ["datadog"]}
            }}
        });
        let problems = pipelines(&fragment, Some(&["traces".to_owned()]));
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("the backend does not declare metrics (SIGNALS: traces)"));
        assert!(problems[1].contains("names otlp, which the fragment does not define"));
        assert!(problems[2].contains("\"spans\" is not a signal"));
    }
}
