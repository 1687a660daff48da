//! The bundled plugins' output checked against facts about the upstream
//! components it configures, as recorded in `tests/fixtures/reference` (each
//! file names its upstream source). Values are read through the binary, as a
//! user would get them.

use std::collections::BTreeSet;

use floe_telemetry_tests::{TestCommand, read_to_string, workspace_root};
use serde_json::{Map, Value};

fn reference(file: &str) -> String {
    read_to_string(workspace_root().join("tests/fixtures/reference").join(file))
}

fn json_of(call: &str, name: &str) -> Value {
    let output = TestCommand::new().args([call, name, "-o", "json"]).run();
    output.assert_success();
    output.json()
}

/// `call name -o json` with `config:` set to `settings`.
fn json_with(call: &str, name: &str, settings: Value) -> Value {
    let dir = floe_telemetry_tests::Dir::new();
    let config = dir.write(
        "floe.yaml",
        serde_json::json!({"backends": [{"backend": name, "config": settings}]}).to_string(),
    );
    let output = TestCommand::new()
        .args([call, name, "-o", "json", "-c"])
        .arg(config)
        .run();
    output.assert_success();
    output.json()
}

/// The keys of a `.keys` reference file, plus those its header lists as
/// read by the templates without a default in values.yaml.
fn chart_keys(file: &str) -> BTreeSet<String> {
    let text = reference(file);
    let mut keys: BTreeSet<String> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(line) = text.lines().find(|l| l.starts_with("# template-only")) {
        let list = line.split_once(':').map(|(_, rest)| rest).unwrap_or("");
        keys.extend(
            list.split_whitespace()
                .map(|key| key.split('(').next().unwrap_or(key).to_owned()),
        );
    }
    keys
}

/// Asserts that every leaf of `values` under the `jaeger` alias is a key of
/// the chart in `file`.
#[track_caller]
fn assert_chart_keys(values: &Value, file: &str) {
    let keys = chart_keys(file);
    let paths = leaf_paths(values);
    assert!(paths.len() > 1, "{values:#}");
    for path in paths {
        // `jaeger.enabled` is the dependency condition Helm reads for the
        // subchart aliased `jaeger`, not a value of the chart.
        if path == "jaeger.enabled" {
            continue;
        }
        let key = path
            .strip_prefix("jaeger.")
            .unwrap_or_else(|| panic!("{path} is outside the jaeger alias"));
        // A key whose default is an empty map (`resources`) takes any map.
        let known = keys.contains(key)
            || key
                .match_indices('.')
                .any(|(at, _)| keys.contains(&key[..at]));
        assert!(known, "{key} is not a value of {file}\n{values:#}");
    }
}

#[test]
fn every_jaeger_v1_layout_uses_only_keys_of_the_jaeger_3_chart() {
    let resources = serde_json::json!({"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}});
    for settings in [
        serde_json::json!({"collector_service_type": "NodePort", "resources": resources}),
        serde_json::json!({"storage": {"type": "cassandra"}}),
        serde_json::json!({"storage": {"type": "cassandra", "cassandra_host": "cassandra"}}),
        serde_json::json!({"storage": {"type": "elasticsearch"}}),
        serde_json::json!({"storage": {"type": "elasticsearch", "elasticsearch_url": "https://es:9200"}}),
    ] {
        assert_chart_keys(
            &json_with("helm-values", "jaeger", settings),
            "jaeger-3.4.1.keys",
        );
    }
}

#[test]
fn every_jaeger_v2_layout_uses_only_keys_of_the_jaeger_4_chart() {
    let keys = chart_keys("jaeger.keys");
    assert!(keys.contains("jaeger.service.type") && keys.contains("storage.type"));
    let resources = serde_json::json!({"limits": {"cpu": "1", "memory": "2Gi"}});
    for settings in [
        serde_json::json!({"chart": "v2"}),
        serde_json::json!({"chart": "v2", "service_type": "LoadBalancer", "resources": resources}),
        serde_json::json!({"chart": "v2", "storage": {"type": "cassandra", "cassandra_host": "c"}}),
        serde_json::json!({"chart": "v2", "storage": {"type": "elasticsearch", "elasticsearch_url": "http://es:9200"}}),
    ] {
        let values = json_with("helm-values", "jaeger", settings);
        assert_chart_keys(&values, "jaeger.keys");
        // One deployment: none of the 3.x chart's separate components.
        for gone in [
            "collector",
            "query",
            "agent",
            "allInOne",
            "provisionDataStore",
        ] {
            assert!(values["jaeger"].get(gone).is_none(), "{gone}\n{values:#}");
        }
    }
}

#[test]
fn jaeger_exporter_tls_uses_only_configtls_client_fields() {
    let components = reference("collector-components.md");
    assert!(components.contains("`tls` (configtls client config: `insecure`"));
    for settings in [
        serde_json::json!({}),
        serde_json::json!({"protocol": "http", "tls": {"insecure": false, "ca_file": "/ca.pem"}}),
        serde_json::json!({"tls": {"insecure": false, "ca_file": "/ca.pem"}}),
    ] {
        let config = json_with("exporter-config", "jaeger", settings);
        for (id, exporter) in config["exporters"].as_object().unwrap() {
            assert!(id == "otlp/jaeger" || id == "otlphttp/jaeger", "{id}");
            for field in exporter["tls"].as_object().unwrap().keys() {
                assert!(
                    ["insecure", "ca_file"].contains(&field.as_str())
                        && components.contains(&format!("`{field}`")),
                    "tls.{field}"
                );
            }
        }
    }
}

/// Every leaf key path of `value`, dotted the way the `.keys` files are:
/// lists and empty maps are leaves, and a segment holding `.` is quoted.
fn leaf_paths(value: &Value) -> Vec<String> {
    fn walk(value: &Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    let segment = if key.contains('.') {
                        format!("\"{key}\"")
                    } else {
                        key.clone()
                    };
                    let path = if prefix.is_empty() {
                        segment
                    } else {
                        format!("{prefix}.{segment}")
                    };
                    walk(child, &path, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out
}

#[test]
fn jaeger_helm_values_use_only_keys_of_the_jaeger_3_chart() {
    let chart_keys: BTreeSet<String> = reference("jaeger-3.4.1.keys")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    assert!(
        chart_keys.contains("collector.service.type"),
        "unexpected .keys format"
    );

    let values = json_of("helm-values", "jaeger");
    let paths = leaf_paths(&values);
    assert!(paths.len() > 1, "{values:#}");
    for path in paths {
        // The chart is a subchart aliased `jaeger`; `jaeger.enabled` is the
        // dependency condition Helm reads, not a value of the chart.
        if path == "jaeger.enabled" {
            continue;
        }
        let key = path
            .strip_prefix("jaeger.")
            .unwrap_or_else(|| panic!("{path} is outside the jaeger alias"));
        assert!(
            chart_keys.contains(key),
            "{key} is not a value of jaeger chart 3.4.1"
        );
    }
}

/// The backticked names on the line of `components` that starts with `lead`.
fn listed_fields(components: &str, lead: &str) -> BTreeSet<String> {
    let line = components
        .lines()
        .find(|line| line.trim_start().trim_start_matches("- ").starts_with(lead))
        .unwrap_or_else(|| panic!("no line starting {lead:?} in collector-components.md"));
    line.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The value at dotted `path` in `object`, if any.
fn at<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let (first, rest) = match path.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (path, None),
    };
    let value = object.get(first)?;
    match rest {
        None => Some(value),
        Some(rest) => at(value.as_object()?, rest),
    }
}

#[test]
fn datadog_exporter_uses_no_rejected_or_removed_field() {
    let components = reference("collector-components.md");
    let rejected = listed_fields(&components, "confighttp fields that Validate REJECTS");
    let removed = listed_fields(&components, "Removed keys that now cause errors");
    // The reference still says what these checks were written against.
    for field in [
        "endpoint",
        "headers",
        "auth",
        "compression",
        "http2_read_idle_timeout",
        "http2_ping_timeout",
    ] {
        assert!(
            rejected.contains(field),
            "{field} is no longer listed as rejected"
        );
    }
    for field in ["tags", "send_metadata", "use_resource_metadata"] {
        assert!(
            removed.contains(field),
            "{field} is no longer listed as removed"
        );
    }

    let config = json_of("exporter-config", "datadog");
    let exporter = config["exporters"]["datadog"]
        .as_object()
        .unwrap_or_else(|| panic!("no datadog exporter in {config:#}"));
    for field in rejected.iter().chain(&removed) {
        assert!(
            at(exporter, field).is_none(),
            "the datadog exporter sets {field}"
        );
    }
    for field in ["api.key", "api.site"] {
        let value = at(exporter, field).and_then(Value::as_str);
        assert!(
            value.is_some_and(|v| !v.is_empty()),
            "the datadog exporter lacks {field}"
        );
    }
    let key = at(exporter, "api.key").and_then(Value::as_str).unwrap();
    assert!(
        key.starts_with("${env:") && key.ends_with('}'),
        "api.key {key:?} is a literal"
    );
}

#[test]
fn grafana_cloud_exporter_authenticates_through_a_configured_basicauth_extension() {
    let config = json_of("exporter-config", "grafana-cloud");
    let exporters = config["exporters"].as_object().expect("an exporters map");
    assert!(!exporters.is_empty(), "{config:#}");

    for (id, exporter) in exporters {
        let authenticator = exporter["auth"]["authenticator"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has no auth.authenticator"));
        let extension = config["extensions"][authenticator]
            .as_object()
            .unwrap_or_else(|| panic!("{authenticator} is not configured in {config:#}"));
        assert!(
            authenticator.split('/').next() == Some("basicauth"),
            "{authenticator}"
        );
        let modes = ["client_auth", "htpasswd"]
            .iter()
            .filter(|m| extension.contains_key(**m));
        assert_eq!(
            modes.count(),
            1,
            "{authenticator} needs exactly one of client_auth, htpasswd"
        );

        let endpoint = exporter["endpoint"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} endpoint"));
        let zone = endpoint
            .strip_prefix("https://otlp-gateway-")
            .and_then(|rest| rest.strip_suffix(".grafana.net/otlp"))
            .unwrap_or_else(|| panic!("{endpoint} is not a Grafana Cloud OTLP gateway"));
        assert!(
            !zone.is_empty()
                && zone
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{zone:?} is not a zone"
        );
    }
}

/// Settings for `backend` that exercise every documented choice: each value
/// of each setting with an `enum` (one level of nesting, as `storage.type`),
/// each default, alone and with every value of `chart` when there is one.
/// Some are invalid together (a v1-only setting with `chart: v2`): the
/// caller keeps those the binary accepts.
fn documented_settings(backend: &str) -> Vec<Value> {
    let schema = json_of("schema", backend);
    let properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut singles = vec![serde_json::json!({})];
    for (key, property) in &properties {
        let mut values: Vec<Value> = property["enum"].as_array().cloned().unwrap_or_default();
        values.extend(property.get("default").cloned());
        // An `enum` inside an object setting: the object with just that key
        // (`storage: {type: ...}`; the schema refuses it when another key is
        // required too).
        for (inner, nested) in property["properties"].as_object().into_iter().flatten() {
            for value in nested["enum"].as_array().into_iter().flatten() {
                values.push(serde_json::json!({ inner: value }));
            }
        }
        for value in values {
            singles.push(serde_json::json!({ key: value }));
        }
    }
    let charts: Vec<Value> = properties
        .get("chart")
        .and_then(|c| c["enum"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut out = singles.clone();
    for chart in &charts {
        for single in &singles {
            let mut settings = single.clone();
            settings["chart"] = chart.clone();
            out.push(settings);
        }
    }
    out
}

/// `call backend -o json` with `settings`, or `None` when the settings are
/// not a valid combination (exit 2).
fn try_json_with(call: &str, backend: &str, settings: &Value) -> Option<Value> {
    let dir = floe_telemetry_tests::Dir::new();
    let config = dir.write(
        "floe.yaml",
        serde_json::json!({"backends": [{"backend": backend, "config": settings}]}).to_string(),
    );
    let output = TestCommand::new()
        .args([call, backend, "-o", "json", "-c"])
        .arg(config)
        .run();
    match output.code() {
        0 => Some(output.json()),
        2 => None,
        _ => panic!("{settings}\n{output}"),
    }
}

#[test]
fn every_documented_setting_emits_only_keys_of_the_chart_it_targets() {
    let list = json_of("list", "-v");
    for plugin in list["plugins"].as_array().unwrap() {
        let backend = plugin["name"].as_str().unwrap();
        let self_hosted = plugin["self_hosted"].as_bool().unwrap();
        let mut accepted = 0;
        for settings in documented_settings(backend) {
            let Some(values) = try_json_with("helm-values", backend, &settings) else {
                continue;
            };
            accepted += 1;
            if !self_hosted {
                // Nothing of its own to deploy, so no chart to target.
                assert_eq!(values, serde_json::json!({}), "{backend} {settings}");
                continue;
            }
            if backend == "console" {
                // It runs inside the collector: nothing to deploy either.
                assert_eq!(values, serde_json::json!({}), "{backend} {settings}");
                continue;
            }
            assert_eq!(backend, "jaeger", "which chart does {backend} target?");
            let chart = if settings["chart"] == "v2" {
                "jaeger.keys"
            } else {
                "jaeger-3.4.1.keys"
            };
            assert_chart_keys(&values, chart);
        }
        assert!(accepted > 2, "{backend}: only {accepted} settings accepted");
    }
}

/// The backticked field names on the `confighttp` and own-fields lines of
/// the `otlphttp` section.
fn otlphttp_fields(components: &str) -> BTreeSet<String> {
    let mut fields = listed_fields(components, "own fields:");
    fields.extend(listed_fields(components, "`endpoint`, `headers`"));
    // The confighttp list goes on over a second line.
    fields.extend(listed_fields(components, "`auth` (->"));
    fields
}

#[test]
fn every_composed_component_uses_only_documented_fields() {
    let components = reference("collector-components.md");
    let rejected = listed_fields(&components, "confighttp fields that Validate REJECTS");
    let removed = listed_fields(&components, "Removed keys that now cause errors");
    let http_fields = otlphttp_fields(&components);
    assert!(http_fields.contains("endpoint") && http_fields.contains("headers"));
    let mut checked = 0;
    for backend in floe_telemetry_tests::BUNDLED {
        for settings in documented_settings(backend) {
            let dir = floe_telemetry_tests::Dir::new();
            let config = dir.write(
                "floe.yaml",
                serde_json::json!({"backends": [{"backend": backend, "config": settings}]})
                    .to_string(),
            );
            let output = TestCommand::new()
                .args(["render", "collector", "-o", "json", "-c"])
                .arg(config)
                .run();
            if output.code() == 2 {
                continue;
            }
            output.assert_success();
            let composed = output.json();
            for (id, exporter) in composed["exporters"].as_object().unwrap() {
                let exporter = exporter.as_object().unwrap();
                match id.split('/').next().unwrap() {
                    "datadog" => {
                        for field in rejected.iter().chain(&removed) {
                            assert!(at(exporter, field).is_none(), "{id} sets {field}");
                        }
                    }
                    // configgrpc shares these field names with confighttp.
                    "otlphttp" | "otlp" => {
                        for field in exporter.keys() {
                            assert!(http_fields.contains(field), "{id}.{field} ({settings})");
                        }
                    }
                    // The debug exporter's settings, as its README
                    // (opentelemetry-collector, exporter/debugexporter) lists them.
                    "debug" => {
                        for field in exporter.keys() {
                            assert!(
                                ["verbosity", "sampling_initial", "sampling_thereafter"]
                                    .contains(&field.as_str()),
                                "{id}.{field}"
                            );
                        }
                        let verbosity = exporter["verbosity"].as_str().unwrap_or_default();
                        assert!(["basic", "normal", "detailed"].contains(&verbosity));
                    }
                    other => panic!("no reference facts for exporter type {other}"),
                }
                checked += 1;
            }
            for (id, extension) in composed["extensions"].as_object().into_iter().flatten() {
                assert!(id.starts_with("basicauth/"), "{id}");
                let modes = ["client_auth", "htpasswd"]
                    .iter()
                    .filter(|m| extension.get(**m).is_some())
                    .count();
                assert_eq!(modes, 1, "{id} needs exactly one of client_auth, htpasswd");
            }
        }
    }
    assert!(checked > 10, "only {checked} exporters checked");
}

#[test]
fn the_collector_chart_takes_a_rendered_config_under_config() {
    // docs/configuration.md: the rendered config goes under `config:` of the
    // opentelemetry-collector chart, with `mode` and the contrib image.
    let keys = chart_keys("opentelemetry-collector.keys");
    for key in [
        "mode",
        "image.repository",
        "config.receivers.otlp.protocols.grpc.endpoint",
        "config.service.pipelines.traces.exporters",
        "config.extensions.health_check.endpoint",
        "extraEnvs",
    ] {
        assert!(keys.contains(key), "{key}");
    }
}
