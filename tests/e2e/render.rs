//! `render collector` and `render helm`: whole configurations composed from
//! the bundled backends, compared with golden files
//! (`tests/fixtures/golden`; `FLOE_UPDATE_GOLDEN=1` rewrites them), merged
//! onto a base, and with their conflicts.

use std::path::Path;

use floe_telemetry_tests::{Dir, TestCommand, TestOutput, read_to_string, workspace_root};
use serde_json::{Value, json};

/// `render <what>` with a configuration listing `backends` (name, settings).
pub fn render(what: &str, backends: &[(&str, Value)], extra: &[&str]) -> TestOutput {
    let dir = Dir::new();
    let entries: Vec<Value> = backends
        .iter()
        .map(|(name, config)| json!({"backend": name, "config": config}))
        .collect();
    let config = dir.write("floe.yaml", json!({ "backends": entries }).to_string());
    TestCommand::new()
        .args(["render", what, "-c"])
        .arg(config)
        .args(extra)
        .run()
}

/// Fails unless `text` equals the golden file `name`, or rewrites it when
/// `FLOE_UPDATE_GOLDEN` is set.
#[track_caller]
fn assert_golden(name: &str, text: &str) {
    let path = workspace_root().join("tests/fixtures/golden").join(name);
    if std::env::var_os("FLOE_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let golden = read_to_string(&path);
    assert_eq!(
        text,
        golden,
        "differs from {} (FLOE_UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"))
}

#[test]
fn one_backend_golden() {
    let output = render("collector", &[("jaeger", json!({}))], &[]);
    output.assert_success();
    assert_golden("collector-jaeger.yaml", &output.stdout);
}

#[test]
fn two_backends_golden() {
    let backends = [("jaeger", json!({})), ("datadog", json!({}))];
    let output = render("collector", &backends, &[]);
    output.assert_success();
    assert_golden("collector-jaeger-datadog.yaml", &output.stdout);
    let output = render("helm", &backends, &[]);
    output.assert_success();
    assert_golden("helm-jaeger-datadog.yaml", &output.stdout);
}

#[test]
fn three_backends_golden() {
    let backends = [
        ("jaeger", json!({"chart": "v2"})),
        (
            "datadog",
            json!({"site": "datadoghq.eu", "signals": ["traces", "logs"]}),
        ),
        ("grafana-cloud", json!({"zone": "prod-eu-west-2"})),
    ];
    let output = render("collector", &backends, &[]);
    output.assert_success();
    assert_golden(
        "collector-jaeger-datadog-grafana-cloud.yaml",
        &output.stdout,
    );
    let output = render("helm", &backends, &[]);
    output.assert_success();
    assert_golden("helm-jaeger-datadog-grafana-cloud.yaml", &output.stdout);
}

#[test]
fn each_signal_lists_only_the_backends_that_serve_it() {
    let output = render(
        "collector",
        &[
            ("jaeger", json!({})),
            ("datadog", json!({"signals": ["metrics"]})),
            ("grafana-cloud", json!({})),
        ],
        &["-o", "json"],
    );
    output.assert_success();
    let config = output.json();
    let pipelines = &config["service"]["pipelines"];
    assert_eq!(
        pipelines["traces"]["exporters"],
        json!(["otlp/jaeger", "otlphttp/grafana_cloud"])
    );
    assert_eq!(
        pipelines["metrics"]["exporters"],
        json!(["datadog", "otlphttp/grafana_cloud"])
    );
    assert_eq!(
        pipelines["logs"]["exporters"],
        json!(["otlphttp/grafana_cloud"])
    );
    assert_eq!(
        config["service"]["extensions"],
        json!(["basicauth/grafana_cloud"])
    );
    // JSON keeps the same stable order as YAML.
    let keys: Vec<&String> = config.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "receivers",
            "processors",
            "exporters",
            "extensions",
            "service"
        ]
    );
}

#[test]
fn without_a_configuration_file_it_is_jaeger() {
    let output = TestCommand::new().args(["render", "collector"]).run();
    output.assert_success();
    assert_golden("collector-jaeger.yaml", &output.stdout);
}

/// A base collector configuration reading a log file, with the collector's
/// own telemetry off so that it opens no port of its own.
pub fn filelog_base(log: &Path) -> String {
    format!(
        "\
receivers:
  filelog:
    include: [{}]
    start_at: beginning
    poll_interval: 100ms
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 200
  batch:
    timeout: 200ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [filelog]
      processors: [memory_limiter, batch]
",
        log.display()
    )
}

#[test]
fn a_base_keeps_its_receivers_processors_and_pipelines() {
    let dir = Dir::new();
    let base = dir.write("base.yaml", filelog_base(&dir.join("app.log")));
    let output = render(
        "collector",
        &[("grafana-cloud", json!({"auth": "header"}))],
        &["--base", base.to_str().unwrap()],
    );
    output.assert_success();
    let config = yaml(&output.stdout);
    let base = yaml(&read_to_string(&base));
    for key in ["receivers", "processors"] {
        assert_eq!(config[key], base[key], "{key}\n{output}");
    }
    assert_eq!(config["service"]["telemetry"], base["service"]["telemetry"]);
    assert_eq!(
        config["service"]["pipelines"],
        json!({"logs": {
            "receivers": ["filelog"],
            "processors": ["memory_limiter", "batch"],
            "exporters": ["otlphttp/grafana_cloud"]
        }})
    );
    assert!(config["receivers"].get("otlp").is_none(), "{output}");
}

#[test]
fn an_id_the_base_already_has_is_renamed_apart_and_said() {
    let dir = Dir::new();
    let base = dir.write(
        "base.yaml",
        "receivers: {otlp: {protocols: {grpc: {}}}}\n\
         exporters: {datadog: {api: {key: '${env:OTHER_KEY}'}}}\n\
         service: {pipelines: {traces: {receivers: [otlp], exporters: [datadog]}}}\n",
    );
    let output = render(
        "collector",
        &[("datadog", json!({}))],
        &["--base", base.to_str().unwrap(), "-o", "json"],
    );
    output.assert_success();
    let config = output.json();
    assert_eq!(
        config["exporters"]["datadog"]["api"]["key"],
        "${env:OTHER_KEY}"
    );
    assert_eq!(
        config["exporters"]["datadog/datadog"]["api"]["key"],
        "${env:DD_API_KEY}"
    );
    assert_eq!(
        config["service"]["pipelines"]["traces"]["exporters"],
        json!(["datadog", "datadog/datadog"])
    );
    assert!(
        output.stderr.contains(
            "note: exporter datadog of datadog is datadog/datadog here: the base configuration \
             already has datadog"
        ),
        "{output}"
    );
}

#[test]
fn a_backend_with_no_pipeline_in_the_base_is_an_error_naming_it() {
    let dir = Dir::new();
    let base = dir.write("base.yaml", filelog_base(&dir.join("app.log")));
    let output = render(
        "collector",
        &[("jaeger", json!({}))],
        &["--base", base.to_str().unwrap()],
    );
    output.assert_code(1);
    assert!(
        output.stderr.contains(
            "error: jaeger: `exporters.otlp/jaeger` serves traces, but the base configuration \
             has no pipeline for it"
        ),
        "{output}"
    );
    assert!(output.stdout.is_empty(), "{output}");
}

#[test]
fn a_broken_base_is_refused_with_its_problems() {
    let dir = Dir::new();
    let base = dir.write(
        "base.yaml",
        "receivers: {otlp: {}}\n\
         processors: {memory_limiter: {limit_mib: 100}}\n\
         service: {pipelines: {traces: {receivers: [otlp, otlp], processors: [memory_limiter, batch]}}}\n",
    );
    let output = render(
        "collector",
        &[("jaeger", json!({}))],
        &["--base", base.to_str().unwrap()],
    );
    output.assert_code(1);
    for expected in [
        "error: the base configuration: `processors.memory_limiter.check_interval` is required",
        "error: the base configuration: `service.pipelines.traces.receivers` lists otlp twice",
        "error: the base configuration: `service.pipelines.traces.processors` lists batch, which is not defined under processors",
    ] {
        assert!(output.stderr.contains(expected), "{expected}\n{output}");
    }

    let not_yaml = dir.write("broken.yaml", "receivers: [\n");
    let output = render(
        "collector",
        &[("jaeger", json!({}))],
        &["--base", not_yaml.to_str().unwrap()],
    );
    output.assert_code(2);
    assert!(
        output.stderr.contains("not a valid YAML or JSON document"),
        "{output}"
    );
}

#[test]
fn helm_values_merge_onto_a_base_file() {
    let dir = Dir::new();
    let base = dir.write(
        "values.yaml",
        "mode: deployment\n\
         jaeger:\n  enabled: false\n  query:\n    replicaCount: 2\n    service: {type: NodePort}\n",
    );
    let output = render(
        "helm",
        &[("jaeger", json!({})), ("datadog", json!({}))],
        &["--base", base.to_str().unwrap(), "-o", "json"],
    );
    output.assert_success();
    assert_eq!(
        output.json(),
        json!({
            "mode": "deployment",
            "jaeger": {
                "enabled": true,
                "query": {"replicaCount": 2, "service": {"type": "LoadBalancer"}},
                "collector": {"service": {"type": "ClusterIP"}}
            }
        })
    );
}

#[test]
fn the_readmes_deployment_base_takes_jaeger_and_datadog() {
    let dir = Dir::new();
    // As in docs/configuration.md, "Deploying with helm install".
    let base = dir.write(
        "collector-base.yaml",
        r#"receivers:
  otlp:
    protocols:
      grpc: {endpoint: "${env:MY_POD_IP}:4317"}
      http: {endpoint: "${env:MY_POD_IP}:4318"}
processors:
  memory_limiter: {check_interval: 5s, limit_percentage: 80, spike_limit_percentage: 25}
  batch: {}
extensions:
  health_check: {endpoint: "${env:MY_POD_IP}:13133"}
service:
  extensions: [health_check]
  pipelines:
    traces: {receivers: [otlp], processors: [memory_limiter, batch]}
    logs: {receivers: [otlp], processors: [memory_limiter, batch]}
"#,
    );
    let output = render(
        "collector",
        &[
            (
                "jaeger",
                json!({"chart": "v2", "endpoint": "jaeger.observability:4317"}),
            ),
            (
                "datadog",
                json!({"site": "datadoghq.eu", "signals": ["traces", "logs"]}),
            ),
        ],
        &["--base", base.to_str().unwrap(), "-o", "json"],
    );
    output.assert_success();
    let config = output.json();
    assert_eq!(config["service"]["extensions"], json!(["health_check"]));
    assert_eq!(
        config["service"]["pipelines"]["traces"]["exporters"],
        json!(["otlp/jaeger", "datadog"])
    );
    assert_eq!(
        config["service"]["pipelines"]["logs"]["exporters"],
        json!(["datadog"])
    );
}
