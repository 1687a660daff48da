//! `render helm --chart floe-platform`, proven on the real chart: what the
//! binary printed is rendered with the official Helm SDK (see
//! [`floe_telemetry_tests::helm`]), and the rendered manifests are checked:
//! the collector's configuration, its environment, and Jaeger.

use std::collections::BTreeMap;

use floe_telemetry_tests::helm::{floe_platform_chart, render as helm_render};
use floe_telemetry_tests::{Dir, TestCommand, TestOutput, read_to_string, workspace_root};
use serde::Deserialize;
use serde_json::{Value, json};

const RELEASE: &str = "floe-platform";
const NAMESPACE: &str = "floe";
const CONFIGMAP: &str = "floe-platform/charts/otel/templates/configmap.yaml";
const DEPLOYMENT: &str = "floe-platform/charts/otel/templates/deployment.yaml";

/// The chart's own pipeline head, which every pipeline must repeat whole.
fn pipeline(exporters: &[&str]) -> Value {
    json!({"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": exporters})
}

/// What one rendering must hold.
struct Expected {
    /// Every exporter of the relay configuration, with its body.
    exporters: Value,
    /// `service.extensions`.
    extensions: Value,
    /// `service.pipelines`.
    pipelines: Value,
    /// Each variable the configuration reads from a Secret: (name, Secret).
    secrets: &'static [(&'static str, &'static str)],
    /// Whether the chart's Jaeger is deployed.
    jaeger: bool,
}

/// `render helm --chart floe-platform -c FILE` for a configuration file
/// written from `config`.
pub fn platform_values(dir: &Dir, file: &str, config: &str) -> TestOutput {
    let config = dir.write(file, config);
    let output = TestCommand::new()
        .args(["render", "helm", "--chart", "floe-platform", "-c"])
        .arg(config)
        .run();
    output.assert_success();
    output
}

/// The YAML documents of every rendered template, by template path (empty
/// templates and NOTES.txt left out).
fn documents(rendered: &BTreeMap<String, String>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (path, text) in rendered {
        if path.ends_with("NOTES.txt") {
            continue;
        }
        for document in serde_norway::Deserializer::from_str(text) {
            let value = Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{path} is not YAML: {e}\n{text}"));
            if !value.is_null() {
                out.push((path.clone(), value));
            }
        }
    }
    out
}

fn only(documents: &[(String, Value)], template: &str) -> Value {
    let found: Vec<&Value> = documents
        .iter()
        .filter(|(path, _)| path == template)
        .map(|(_, value)| value)
        .collect();
    assert_eq!(found.len(), 1, "expected one document from {template}");
    found[0].clone()
}

/// The `${env:NAME}` names in `value`.
fn env_reads(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            for piece in text.split("${env:").skip(1) {
                let name = piece.split(['}', ':']).next().unwrap_or_default();
                if !out.iter().any(|n| n == name) {
                    out.push(name.to_owned());
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| env_reads(v, out)),
        Value::Object(object) => object.values().for_each(|v| env_reads(v, out)),
        _ => {}
    }
}

/// Renders the chart with exactly the values `output` printed (plus the
/// two subcharts the fixture does not carry turned off) and checks the
/// manifests against `expected`; returns the relay configuration's text.
fn check_rendering(output: &TestOutput, expected: &Expected) -> String {
    let mut values: Value = serde_norway::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not YAML: {e}\n{output}"));
    for chart in ["dagster", "minio"] {
        assert!(values.get(chart).is_none(), "{output}");
        values[chart] = json!({"enabled": false});
    }
    let rendered = helm_render(&floe_platform_chart(), &values, RELEASE, NAMESPACE)
        .unwrap_or_else(|error| panic!("{error}\nvalues:\n{}", output.stdout));
    let documents = documents(&rendered);

    // The collector's configuration: exactly the expected components.
    let configmap = only(&documents, CONFIGMAP);
    let relay_text = configmap["data"]["relay"]
        .as_str()
        .expect("the ConfigMap has data.relay")
        .to_owned();
    let relay: Value = serde_norway::from_str(&relay_text).expect("relay is YAML");
    assert_eq!(relay["exporters"], expected.exporters, "{relay_text}");
    assert_eq!(
        relay["service"]["extensions"], expected.extensions,
        "{relay_text}"
    );
    assert_eq!(
        relay["service"]["pipelines"], expected.pipelines,
        "{relay_text}"
    );
    for id in expected.extensions.as_array().unwrap() {
        assert!(
            relay["extensions"].get(id.as_str().unwrap()).is_some(),
            "{id} is listed but not defined\n{relay_text}"
        );
    }
    let Value::Object(relay_object) = &relay else {
        panic!("relay is not a mapping")
    };
    let problems = floe_host::render::validate(relay_object);
    assert!(problems.is_empty(), "{problems:#?}\n{relay_text}");

    // Every variable it reads is in the collector's environment; a backend's
    // comes from its Secret, never as a literal value.
    let deployment = only(&documents, DEPLOYMENT);
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("the Deployment has containers");
    assert_eq!(containers.len(), 1, "{deployment:#}");
    let env = containers[0]["env"].as_array().cloned().unwrap_or_default();
    let mut reads = Vec::new();
    env_reads(&relay, &mut reads);
    for (name, _) in expected.secrets {
        assert!(reads.iter().any(|r| r == name), "{name} is not read");
    }
    for name in &reads {
        let found: Vec<&Value> = env.iter().filter(|e| e["name"] == *name).collect();
        assert_eq!(found.len(), 1, "{name} in the environment: {env:#?}");
        let var = found[0];
        assert!(var.get("value").is_none(), "{name} has a literal value");
        match expected.secrets.iter().find(|(n, _)| n == name) {
            Some((_, secret)) => assert_eq!(
                var["valueFrom"],
                json!({"secretKeyRef": {"name": secret, "key": name}}),
                "{name}"
            ),
            // The chart's own, such as MY_POD_IP, from the pod's fields.
            None => assert!(var["valueFrom"].get("fieldRef").is_some(), "{var:#}"),
        }
    }

    // Jaeger: deployed only when selected; then the exporter's endpoint is a
    // Service of this rendering, on a port it exposes.
    let jaeger_workloads: Vec<&str> = documents
        .iter()
        .filter(|(path, doc)| {
            path.starts_with("floe-platform/charts/jaeger/")
                && matches!(
                    doc["kind"].as_str(),
                    Some("Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob")
                )
        })
        .map(|(path, _)| path.as_str())
        .collect();
    if expected.jaeger {
        assert_eq!(
            jaeger_workloads,
            ["floe-platform/charts/jaeger/templates/allinone-deploy.yaml"]
        );
        let endpoint = relay["exporters"]["otlp/jaeger"]["endpoint"]
            .as_str()
            .expect("otlp/jaeger has an endpoint");
        let (host, port) = endpoint.rsplit_once(':').expect("host:port");
        let port: u64 = port.parse().expect("a port number");
        let services: Vec<&Value> = documents
            .iter()
            .map(|(_, doc)| doc)
            .filter(|doc| doc["kind"] == "Service" && doc["metadata"]["name"] == host)
            .collect();
        assert_eq!(services.len(), 1, "no Service {host} in the rendering");
        let ports = services[0]["spec"]["ports"].as_array().unwrap();
        assert!(
            ports.iter().any(|p| p["port"] == port),
            "Service {host} does not expose {port}: {ports:#?}"
        );
    } else {
        assert_eq!(jaeger_workloads, [] as [&str; 0]);
        assert!(
            !documents
                .iter()
                .any(|(path, _)| path.starts_with("floe-platform/charts/jaeger/")),
            "a Jaeger manifest was rendered"
        );
    }
    relay_text
}

/// The chart's `otlp/jaeger`, which Helm cannot remove: defined, unused.
fn charts_own_jaeger_exporter() -> Value {
    json!({"endpoint": "floe-platform-jaeger-collector:4317", "tls": {"insecure": true}})
}

#[test]
fn one_backend_from_floes_manifest() {
    let dir = Dir::new();
    let output = platform_values(
        &dir,
        "manifest.yaml",
        "apiVersion: floe.dev/v1\nkind: Manifest\nmetadata: {name: demo}\nplugins:\n  compute: {type: duckdb}\n  telemetry_backend:\n    type: datadog\n    version: \"0.1.0\"\n    connection_secret_ref: datadog-credentials\n    config: {site: datadoghq.eu}\n",
    );
    check_rendering(
        &output,
        &Expected {
            exporters: json!({
                "datadog": {"api": {"key": "${env:DD_API_KEY}", "site": "datadoghq.eu"}},
                "otlp/jaeger": charts_own_jaeger_exporter()
            }),
            extensions: json!(["health_check"]),
            pipelines: json!({
                "traces": pipeline(&["datadog"]),
                "metrics": pipeline(&["datadog"]),
                "logs": pipeline(&["datadog"])
            }),
            secrets: &[("DD_API_KEY", "datadog-credentials")],
            jaeger: false,
        },
    );
    assert!(
        output.stderr.contains(
            "note: the collector reads DD_API_KEY from the Secret datadog-credentials; create it \
             before installing: kubectl create secret generic datadog-credentials --namespace \
             <namespace> --from-literal=DD_API_KEY=<DD_API_KEY>"
        ),
        "{output}"
    );
}

#[test]
fn jaeger_alone_keeps_only_the_traces_pipeline() {
    let dir = Dir::new();
    let output = platform_values(&dir, "floe.yaml", "backends: [{backend: jaeger}]\n");
    check_rendering(
        &output,
        &Expected {
            exporters: json!({"otlp/jaeger": charts_own_jaeger_exporter()}),
            extensions: json!(["health_check"]),
            pipelines: json!({"traces": pipeline(&["otlp/jaeger"])}),
            secrets: &[],
            jaeger: true,
        },
    );
    assert!(!output.stderr.contains("kubectl"), "{output}");
}

/// Datadog on its EU site and Jaeger: the deployment the walkthrough shows.
pub const DATADOG_EU_AND_JAEGER: &str =
    "backends:\n  - backend: datadog\n    config:\n      site: datadoghq.eu\n  - backend: jaeger\n";

#[test]
fn two_backends_datadog_eu_and_jaeger() {
    let dir = Dir::new();
    let output = platform_values(&dir, "floe.yaml", DATADOG_EU_AND_JAEGER);
    let relay = check_rendering(
        &output,
        &Expected {
            exporters: json!({
                "datadog": {"api": {"key": "${env:DD_API_KEY}", "site": "datadoghq.eu"}},
                "otlp/jaeger": charts_own_jaeger_exporter()
            }),
            extensions: json!(["health_check"]),
            pipelines: json!({
                "traces": pipeline(&["datadog", "otlp/jaeger"]),
                "metrics": pipeline(&["datadog"]),
                "logs": pipeline(&["datadog"])
            }),
            secrets: &[("DD_API_KEY", "floe-telemetry-datadog")],
            jaeger: true,
        },
    );
    // Shown with --nocapture: the values printed and what the chart made of them.
    eprintln!(
        "--- values ---\n{}--- stderr ---\n{}--- relay ---\n{relay}",
        output.stdout, output.stderr
    );
}

#[test]
fn three_backends_with_a_named_secret() {
    let dir = Dir::new();
    let output = platform_values(
        &dir,
        "floe.yaml",
        "backends:\n  - backend: jaeger\n  - backend: datadog\n    config: {signals: [traces, logs]}\n  - backend: grafana-cloud\n    connection_secret_ref: grafana-cloud\n    config: {zone: prod-eu-west-2}\n",
    );
    let grafana_endpoint = "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp";
    check_rendering(
        &output,
        &Expected {
            exporters: json!({
                "otlp/jaeger": charts_own_jaeger_exporter(),
                "datadog": {"api": {"key": "${env:DD_API_KEY}", "site": "datadoghq.com"}},
                "otlphttp/grafana_cloud": {
                    "endpoint": grafana_endpoint,
                    "auth": {"authenticator": "basicauth/grafana_cloud"}
                }
            }),
            extensions: json!(["health_check", "basicauth/grafana_cloud"]),
            pipelines: json!({
                "traces": pipeline(&["otlp/jaeger", "datadog", "otlphttp/grafana_cloud"]),
                "metrics": pipeline(&["otlphttp/grafana_cloud"]),
                "logs": pipeline(&["datadog", "otlphttp/grafana_cloud"])
            }),
            secrets: &[
                ("DD_API_KEY", "floe-telemetry-datadog"),
                ("GRAFANA_CLOUD_INSTANCE_ID", "grafana-cloud"),
                ("GRAFANA_CLOUD_API_TOKEN", "grafana-cloud"),
            ],
            jaeger: true,
        },
    );
    let notes: Vec<&str> = output
        .stderr
        .lines()
        .filter(|l| l.starts_with("note:"))
        .collect();
    assert_eq!(notes.len(), 2, "{output}");
    assert!(
        notes[1].ends_with(
            "kubectl create secret generic grafana-cloud --namespace <namespace> \
             --from-literal=GRAFANA_CLOUD_INSTANCE_ID=<GRAFANA_CLOUD_INSTANCE_ID> \
             --from-literal=GRAFANA_CLOUD_API_TOKEN=<GRAFANA_CLOUD_API_TOKEN>"
        ),
        "{output}"
    );
}

#[test]
fn floes_demo_manifest_selects_console() {
    let dir = Dir::new();
    let manifest = read_to_string(workspace_root().join("tests/fixtures/floe-demo-manifest.yaml"));
    let output = platform_values(&dir, "manifest.yaml", &manifest);
    check_rendering(
        &output,
        &Expected {
            exporters: json!({
                "debug": {"verbosity": "basic"},
                "otlp/jaeger": charts_own_jaeger_exporter()
            }),
            extensions: json!(["health_check"]),
            pipelines: json!({
                "traces": pipeline(&["debug"]),
                "metrics": pipeline(&["debug"]),
                "logs": pipeline(&["debug"])
            }),
            secrets: &[],
            jaeger: false,
        },
    );
}

#[test]
fn a_pinned_version_other_than_the_installed_one_exits_2_naming_both() {
    let dir = Dir::new();
    let manifest = dir.write(
        "manifest.yaml",
        "apiVersion: floe.dev/v1\nkind: Manifest\nplugins:\n  telemetry_backend:\n    type: console\n    version: \"2.0.0\"\n    config: {verbosity: loud}\n",
    );
    let output = TestCommand::new()
        .args(["render", "helm", "--chart", "floe-platform", "-c"])
        .arg(&manifest)
        .run();
    output.assert_code(2);
    assert_eq!(output.stdout, "", "{output}");
    for expected in [
        "plugins.telemetry_backend.version: pins console 2.0.0, but the installed console plugin is 0.1.0",
        "plugins.telemetry_backend.config.verbosity:",
    ] {
        assert!(output.stderr.contains(expected), "{expected}\n{output}");
    }
}

#[test]
fn the_chart_refuses_values_against_its_schema() {
    // The check above would be empty if the SDK did not apply the schemas.
    let values = json!({"dagster": {"enabled": false}, "minio": {"enabled": false},
        "otel": {"mode": "sidecar"}});
    let error = helm_render(&floe_platform_chart(), &values, RELEASE, NAMESPACE).unwrap_err();
    assert!(error.contains("mode"), "{error}");
}

/// The real collector (see [`floe_telemetry_tests::otelcol`]) has none of
/// the chart's receivers and extensions, so it cannot take a rendered relay
/// configuration whole. What it can check is the part made of components
/// it has: the chart's processors as rendered, and Grafana Cloud's exporter
/// in header mode as rendered, in the rendered logs pipeline, fed by a file
/// instead of OTLP.
#[test]
fn the_real_collector_accepts_the_rendered_processors_and_exporter() {
    let otelcol = floe_telemetry_tests::otelcol(
        "the_real_collector_accepts_the_rendered_processors_and_exporter",
    );
    let dir = Dir::new();
    let output = platform_values(
        &dir,
        "floe.yaml",
        "backends:\n  - backend: grafana-cloud\n    config: {auth: header, zone: prod-eu-west-2}\n",
    );
    let endpoint = "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp";
    let relay = check_rendering(
        &output,
        &Expected {
            exporters: json!({
                "otlp/jaeger": charts_own_jaeger_exporter(),
                "otlphttp/grafana_cloud": {
                    "endpoint": endpoint,
                    "headers": {"Authorization": "Basic ${env:GRAFANA_CLOUD_BASIC_AUTH}"}
                }
            }),
            extensions: json!(["health_check"]),
            pipelines: json!({
                "traces": pipeline(&["otlphttp/grafana_cloud"]),
                "metrics": pipeline(&["otlphttp/grafana_cloud"]),
                "logs": pipeline(&["otlphttp/grafana_cloud"])
            }),
            secrets: &[("GRAFANA_CLOUD_BASIC_AUTH", "floe-telemetry-grafana-cloud")],
            jaeger: false,
        },
    );
    let relay: Value = serde_norway::from_str(&relay).unwrap();
    let logs = &relay["service"]["pipelines"]["logs"];
    let config = json!({
        "receivers": {"filelog": {"include": [dir.join("app.log")]}},
        "processors": relay["processors"],
        "exporters": {"otlphttp/grafana_cloud": relay["exporters"]["otlphttp/grafana_cloud"]},
        "service": {"pipelines": {"logs": {
            "receivers": ["filelog"],
            "processors": logs["processors"],
            "exporters": logs["exporters"]
        }}}
    });
    let file = dir.write("collector.yaml", serde_norway::to_string(&config).unwrap());
    let validated = std::process::Command::new(&otelcol)
        .args(["validate", "--config"])
        .arg(&file)
        .env("GRAFANA_CLOUD_BASIC_AUTH", "MTIzNDU2OmdsY19leGFtcGxl")
        .output()
        .expect("run otelcol-contrib");
    assert!(
        validated.status.success(),
        "otelcol-contrib validate failed ({}):\n{}\n{}",
        validated.status,
        String::from_utf8_lossy(&validated.stderr),
        read_to_string(&file)
    );
}
