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
