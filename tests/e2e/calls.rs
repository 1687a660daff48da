//! `exporter-config` and `helm-values` of the bundled plugins: what each
//! returns, in each output format, and what an unknown name gets.

use floe_telemetry_tests::{BUNDLED, TestCommand, TestOutput};
use serde_json::{Value, json};

/// The two calls every plugin answers, by subcommand.
const CALLS: &[&str] = &["exporter-config", "helm-values"];

/// What each bundled plugin returns with its default settings, by name and
/// call.
pub fn expected(name: &str, call: &str) -> Value {
    match (name, call) {
        ("jaeger", "exporter-config") => json!({"exporters": {"otlp/jaeger": {
            "endpoint": "jaeger-collector:4317",
            "tls": {"insecure": true}
        }}}),
        ("jaeger", "helm-values") => json!({"jaeger": {
            "enabled": true,
            "collector": {"service": {"type": "ClusterIP"}},
            "query": {"service": {"type": "LoadBalancer"}}
        }}),
        // The seed's example, with `site` under `api` where the exporter reads it.
        ("datadog", "exporter-config") => json!({
            "exporters": {"datadog": {"api": {
                "key": "${env:DD_API_KEY}",
                "site": "datadoghq.com"
            }}}
        }),
        ("grafana-cloud", "exporter-config") => json!({
            "extensions": {"basicauth/grafana_cloud": {"client_auth": {
                "username": "${env:GRAFANA_CLOUD_INSTANCE_ID}",
                "password": "${env:GRAFANA_CLOUD_API_TOKEN}"
            }}},
            "exporters": {"otlphttp/grafana_cloud": {
                "endpoint": "https://otlp-gateway-prod-us-east-0.grafana.net/otlp",
                "auth": {"authenticator": "basicauth/grafana_cloud"}
            }},
            "service": {"extensions": ["basicauth/grafana_cloud"]}
        }),
        ("console", "exporter-config") => {
            json!({"exporters": {"debug": {"verbosity": "basic"}}})
        }
        // Hosted services, and the collector's own log: nothing to deploy.
        ("console" | "datadog" | "grafana-cloud", "helm-values") => json!({}),
        _ => unreachable!("no expectation for {name} {call}"),
    }
}

fn call(args: &[&str]) -> TestOutput {
    let output = TestCommand::new().args(args).run();
    output.assert_success();
    output
}

fn parse_yaml(output: &TestOutput) -> Value {
    serde_norway::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not YAML: {e}\n{output}"))
}

#[test]
fn json_output_is_exactly_what_the_plugin_returns() {
    for name in BUNDLED {
        for call_name in CALLS {
            let output = call(&[call_name, name, "-o", "json"]);
            assert_eq!(
                output.json(),
                expected(name, call_name),
                "{call_name} {name}\n{output}"
            );
        }
    }
}

#[test]
fn yaml_is_the_default_and_holds_the_same_value() {
    for name in BUNDLED {
        for call_name in CALLS {
            let default = call(&[call_name, name]);
            let yaml = call(&[call_name, name, "-o", "yaml"]);
            assert_eq!(default.stdout, yaml.stdout, "{call_name} {name}");
            assert_eq!(
                parse_yaml(&yaml),
                expected(name, call_name),
                "{call_name} {name}\n{yaml}"
            );
        }
    }
}

#[test]
fn verbose_logs_stay_off_stdout() {
    let output = call(&["exporter-config", "jaeger", "-o", "json", "-v"]);
    assert_eq!(output.json(), expected("jaeger", "exporter-config"));
}

#[test]
fn an_unknown_name_exits_2_and_names_the_known_backends() {
    for call_name in CALLS {
        let output = TestCommand::new()
            .args([call_name, "no-such-backend"])
            .run();
        output.assert_code(2);
        assert_eq!(output.stdout, "", "{output}");
        for name in BUNDLED {
            assert!(
                output.stderr.contains(name),
                "{name} is not named\n{output}"
            );
        }
    }
}
