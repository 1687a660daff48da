//! Backend settings from a configuration file: each bundled backend's
//! defaults, what each setting changes, and how invalid settings are refused
//! (with the file and the path, exit 2, and no call into the plugin).

use floe_telemetry_tests::{Dir, TestCommand, TestOutput, fixture_plugin, read_to_string};
use serde_json::{Value, json};

use crate::calls::expected;
use crate::util::floe_in;

/// Runs `args` with the configuration `yaml` (written to a file) and
/// returns the run and the file's path.
fn with_config(yaml: &str, args: &[&str]) -> (TestOutput, String) {
    let dir = Dir::new();
    let file = dir.write("floe-telemetry.yaml", yaml);
    let output = TestCommand::new().arg("-c").arg(&file).args(args).run();
    (output, file.display().to_string())
}

/// The JSON output of `call` for `name` with `config:` set to `settings`.
fn output_of(call: &str, name: &str, settings: Value) -> Value {
    let yaml = json!({"backends": [{"backend": name, "config": settings}]}).to_string();
    let (output, _) = with_config(&yaml, &[call, name, "-o", "json"]);
    output.assert_success();
    output.json()
}

/// `base` with each `(pointer, value)` replaced (`null` removes the key).
fn changed(base: Value, changes: &[(&str, Value)]) -> Value {
    let mut value = base;
    for (pointer, new) in changes {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let object = value
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("no object at {parent}"));
        if new.is_null() {
            object.remove(key);
        } else {
            object.insert(key.to_owned(), new.clone());
        }
    }
    value
}

#[test]
fn an_empty_config_is_the_defaults() {
    for name in ["jaeger", "datadog", "grafana-cloud"] {
        for call in ["exporter-config", "helm-values"] {
            assert_eq!(
                output_of(call, name, json!({})),
                expected(name, call),
                "{name} {call}"
            );
            assert_eq!(
                output_of(call, name, json!(null)),
                expected(name, call),
                "{name} {call}"
            );
        }
    }
}

#[test]
fn a_backend_the_config_does_not_list_has_its_defaults() {
    let (output, _) = with_config(
        "backends:\n  - backend: datadog\n    config: {site: datadoghq.eu}\n",
        &["exporter-config", "jaeger", "-o", "json"],
    );
    output.assert_success();
    assert_eq!(output.json(), expected("jaeger", "exporter-config"));
}

#[test]
fn the_config_file_can_come_from_the_environment_and_be_json() {
    let dir = Dir::new();
    let file = dir.write(
        "telemetry.json",
        r#"{"backends": [{"backend": "datadog", "config": {"site": "ap1.datadoghq.com"}}]}"#,
    );
    let output = TestCommand::new()
        .env("FLOE_TELEMETRY_CONFIG", &file)
        .args(["exporter-config", "datadog", "-o", "json"])
        .run();
    output.assert_success();
    assert_eq!(
        output.json()["exporters"]["datadog"]["api"]["site"],
        "ap1.datadoghq.com"
    );
}

#[test]
fn each_datadog_setting_changes_exactly_its_part() {
    let base = expected("datadog", "exporter-config");
    for site in [
        "datadoghq.com",
        "us3.datadoghq.com",
        "us5.datadoghq.com",
        "datadoghq.eu",
        "ddog-gov.com",
        "ap1.datadoghq.com",
        "ap2.datadoghq.com",
    ] {
        assert_eq!(
            output_of("exporter-config", "datadog", json!({"site": site})),
            changed(
                base.clone(),
                &[("/exporters/datadog/api/site", json!(site))]
            )
        );
    }
    assert_eq!(
        output_of(
            "exporter-config",
            "datadog",
            json!({"api_key_env": "DATADOG_KEY"})
        ),
        changed(
            base.clone(),
            &[("/exporters/datadog/api/key", json!("${env:DATADOG_KEY}"))]
        )
    );
    assert_eq!(
        output_of("exporter-config", "datadog", json!({"signals": ["traces"]})),
        // Only a subset of the signals needs saying, by the pipelines it goes in.
        changed(
            base,
            &[(
                "/service",
                json!({"pipelines": {"traces": {"exporters": ["datadog"]}}})
            )]
        )
    );
}

#[test]
fn each_grafana_cloud_setting_changes_exactly_its_part() {
    let base = expected("grafana-cloud", "exporter-config");
    let endpoint = "/exporters/otlphttp~1grafana_cloud/endpoint";
    let gateway = json!("https://otlp-gateway-prod-eu-west-2.grafana.net/otlp");
    assert_eq!(
        output_of(
            "exporter-config",
            "grafana-cloud",
            json!({"zone": "prod-eu-west-2"})
        ),
        changed(base.clone(), &[(endpoint, gateway.clone())])
    );
    assert_eq!(
        output_of(
            "exporter-config",
            "grafana-cloud",
            json!({"endpoint": gateway})
        ),
        changed(base.clone(), &[(endpoint, gateway.clone())])
    );
    assert_eq!(
        output_of(
            "exporter-config",
            "grafana-cloud",
            json!({"instance_id_env": "GC_ID", "api_token_env": "GC_TOKEN"})
        ),
        changed(
            base,
            &[
                (
                    "/extensions/basicauth~1grafana_cloud/client_auth/username",
                    json!("${env:GC_ID}")
                ),
                (
                    "/extensions/basicauth~1grafana_cloud/client_auth/password",
                    json!("${env:GC_TOKEN}")
                ),
            ]
        )
    );
    assert_eq!(
        output_of(
            "exporter-config",
            "grafana-cloud",
            json!({"auth": "header"})
        ),
        json!({"exporters": {"otlphttp/grafana_cloud": {
            "endpoint": "https://otlp-gateway-prod-us-east-0.grafana.net/otlp",
            "headers": {"Authorization": "Basic ${env:GRAFANA_CLOUD_BASIC_AUTH}"}
        }}})
    );
}

#[test]
fn each_jaeger_setting_changes_exactly_its_part() {
    let exporter = expected("jaeger", "exporter-config");
    let helm = expected("jaeger", "helm-values");
    assert_eq!(
        output_of(
            "exporter-config",
            "jaeger",
            json!({"endpoint": "jaeger.observability:4317"})
        ),
        changed(
            exporter.clone(),
            &[(
                "/exporters/otlp~1jaeger/endpoint",
                json!("jaeger.observability:4317")
            )]
        )
    );
    assert_eq!(
        output_of("exporter-config", "jaeger", json!({"protocol": "http"})),
        json!({"exporters": {"otlphttp/jaeger": {
            "endpoint": "http://jaeger-collector:4318",
            "tls": {"insecure": true}
        }}})
    );
    assert_eq!(
        output_of(
            "exporter-config",
            "jaeger",
            json!({"tls": {"insecure": false, "ca_file": "/etc/ssl/jaeger-ca.pem"}})
        ),
        changed(
            exporter.clone(),
            &[(
                "/exporters/otlp~1jaeger/tls",
                json!({"insecure": false, "ca_file": "/etc/ssl/jaeger-ca.pem"})
            )]
        )
    );
    // Helm settings leave the exporter alone, and the other way round.
    assert_eq!(
        output_of("exporter-config", "jaeger", json!({"chart": "v2"})),
        exporter
    );
    assert_eq!(
        output_of("helm-values", "jaeger", json!({"protocol": "http"})),
        helm
    );
    assert_eq!(
        output_of(
            "helm-values",
            "jaeger",
            json!({"query_service_type": "ClusterIP"})
        ),
        changed(
            helm.clone(),
            &[("/jaeger/query/service/type", json!("ClusterIP"))]
        )
    );
    let resources =
        json!({"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}});
    assert_eq!(
        output_of("helm-values", "jaeger", json!({"resources": resources})),
        changed(
            helm.clone(),
            &[
                ("/jaeger/collector/resources", resources.clone()),
                ("/jaeger/query/resources", resources.clone()),
            ]
        )
    );
    assert_eq!(
        output_of("helm-values", "jaeger", json!({"chart": "v2"})),
        json!({"jaeger": {
            "enabled": true,
            "jaeger": {"service": {"type": "ClusterIP"}},
            "storage": {"type": "memory"}
        }})
    );
    assert_eq!(
        output_of(
            "helm-values",
            "jaeger",
            json!({"chart": "v2", "storage": {"type": "cassandra", "cassandra_host": "cassandra.db"}})
        ),
        json!({"jaeger": {
            "enabled": true,
            "jaeger": {"service": {"type": "ClusterIP"}},
            "storage": {"type": "cassandra", "cassandra": {"host": "cassandra.db"}}
        }})
    );
}

/// Runs `call name` with `config:` set to `settings` for `name`, the second
/// entry of the file, expecting refusal: exit 2, nothing on stdout, and each
/// of `paths` named with the file on stderr.
#[track_caller]
fn assert_refused(name: &str, settings: Value, paths: &[&str]) -> TestOutput {
    let other = if name == "jaeger" {
        "datadog"
    } else {
        "jaeger"
    };
    let yaml = json!({"backends": [
        {"backend": other},
        {"backend": name, "config": settings}
    ]})
    .to_string();
    let (output, file) = with_config(&yaml, &["exporter-config", name]);
    output.assert_code(2);
    assert_eq!(output.stdout, "", "{output}");
    for path in paths {
        let expected = format!("error: {file}: {path}: ");
        assert!(
            output
                .stderr
                .lines()
                .any(|line| line.starts_with(&expected)),
            "no line starting {expected:?}\n{output}"
        );
    }
    output
}

#[test]
fn invalid_jaeger_settings_are_refused_with_their_path() {
    for (settings, path) in [
        (json!({"endpoint": 4317}), "backends[1].config.endpoint"),
        (
            json!({"endpoint": "jaeger-collector"}),
            "backends[1].config.endpoint",
        ),
        (
            json!({"endpoint": "http://jaeger:4317"}),
            "backends[1].config.endpoint",
        ),
        (
            json!({"endpoint": "jaeger:99999"}),
            "backends[1].config.endpoint",
        ),
        (json!({"protocol": "thrift"}), "backends[1].config.protocol"),
        (
            json!({"tls": {"insecure": "yes"}}),
            "backends[1].config.tls.insecure",
        ),
        (
            json!({"tls": {"insecure": true, "ca_file": "/ca.pem"}}),
            "backends[1].config.tls.insecure",
        ),
        (
            json!({"tls": {"insecur": true}}),
            "backends[1].config.tls.insecur",
        ),
        (json!({"chart": "v3"}), "backends[1].config.chart"),
        (
            json!({"storage": {"type": "memory"}}),
            "backends[1].config.storage.type",
        ),
        (
            json!({"chart": "v2", "storage": {"type": "badger"}}),
            "backends[1].config.storage.type",
        ),
        (
            json!({"service_type": "LoadBalancer"}),
            "backends[1].config.service_type",
        ),
    ] {
        assert_refused("jaeger", settings, &[path]);
    }
    assert_refused(
        "jaeger",
        json!({"resources": {"limits": {"memory": "lots"}}}),
        &["backends[1].config.resources.limits.memory"],
    );
}

#[test]
fn invalid_datadog_settings_are_refused_with_their_path() {
    let output = assert_refused(
        "datadog",
        json!({"site": "datadoghq.xx"}),
        &["backends[1].config.site"],
    );
    assert!(
        output
            .stderr
            .contains(r#""datadoghq.xx" is not one of ["datadoghq.com", "#),
        "{output}"
    );
    for (settings, path) in [
        (json!({"site": true}), "backends[1].config.site"),
        (json!({"sites": "datadoghq.eu"}), "backends[1].config.sites"),
        (
            json!({"api_key_env": "1BAD-NAME"}),
            "backends[1].config.api_key_env",
        ),
        (
            json!({"signals": ["traces", "profiles"]}),
            "backends[1].config.signals[1]",
        ),
    ] {
        assert_refused("datadog", settings, &[path]);
    }
    assert_refused(
        "datadog",
        json!({"signals": []}),
        &["backends[1].config.signals"],
    );
}

#[test]
fn invalid_grafana_cloud_settings_are_refused_with_their_path() {
    for (settings, path) in [
        (json!({"zone": "eu"}), "backends[1].config.zone"),
        (
            json!({"endpoint": "http://otlp.example"}),
            "backends[1].config.endpoint",
        ),
        (
            json!({"zone": "prod-eu-west-2", "endpoint": "https://otlp.example/otlp"}),
            "backends[1].config.zone",
        ),
        (json!({"auth": "oauth"}), "backends[1].config.auth"),
        (
            json!({"auth": "header", "api_token_env": "T"}),
            "backends[1].config.api_token_env",
        ),
    ] {
        assert_refused("grafana-cloud", settings, &[path]);
    }
    assert_refused(
        "grafana-cloud",
        json!({"region": "prod-eu-west-2"}),
        &["backends[1].config.region"],
    );
}

#[test]
fn every_violation_in_the_file_is_reported_at_once() {
    let (output, file) = with_config(
        "backends:\n\
         \x20 - backend: jaeger\n\
         \x20   config: {protocol: udp}\n\
         \x20 - backend: datadog\n\
         \x20   config: {site: datadoghq.xx, signal: [traces]}\n\
         \x20 - backend: nosuch\n\
         \x20 - backend: datadog\n\
         \x20   extra: 1\n",
        &["helm-values", "jaeger"],
    );
    output.assert_code(2);
    for path in [
        "backends[0].config.protocol",
        "backends[1].config.site",
        "backends[1].config.signal",
        "backends[2].backend",
        "backends[3].extra",
    ] {
        assert!(
            output.stderr.contains(&format!("error: {file}: {path}: ")),
            "{path}\n{output}"
        );
    }
}

#[test]
fn a_broken_or_missing_file_exits_2_naming_it() {
    let (output, file) = with_config("backends: [", &["exporter-config", "jaeger"]);
    output.assert_code(2);
    assert!(output.stderr.contains(&file), "{output}");
    let output = TestCommand::new()
        .args(["exporter-config", "jaeger", "-c", "/nonexistent/floe.yaml"])
        .run();
    output.assert_code(2);
    assert!(output.stderr.contains("/nonexistent/floe.yaml"), "{output}");
}

/// The recorder fixture, alone in a plugin directory, with a marker file.
struct Recorder {
    dir: Dir,
    marker: std::path::PathBuf,
}

impl Recorder {
    fn new() -> Self {
        let dir = Dir::new();
        dir.copy(
            fixture_plugin("recorder"),
            "plugins/libfloe_fixture_recorder.so",
        );
        let marker = dir.join("calls.txt");
        Self { dir, marker }
    }

    fn run(&self, yaml: &str, args: &[&str]) -> TestOutput {
        self.command(yaml).args(args).run()
    }

    fn command(&self, yaml: &str) -> TestCommand {
        let config = self.dir.write("floe.yaml", yaml);
        let mut command = floe_in(self.dir.join("plugins"));
        command
            .env("FLOE_FIXTURE_MARKER", &self.marker)
            .arg("--config")
            .arg(config);
        command
    }

    fn forget_calls(&self) {
        let _ = std::fs::remove_file(&self.marker);
    }

    fn calls(&self) -> String {
        if self.marker.exists() {
            read_to_string(&self.marker)
        } else {
            String::new()
        }
    }
}

#[test]
fn settings_that_fail_validation_never_reach_the_plugin() {
    let recorder = Recorder::new();
    for (yaml, path) in [
        (
            "backends: [{backend: recorder, config: {color: blue}}]",
            "backends[0].config.color",
        ),
        (
            "backends: [{backend: recorder, config: {colour: red}}]",
            "backends[0].config.colour",
        ),
        (
            "backends: [{backend: recorder, config: {port: \"80\"}}]",
            "backends[0].config.port",
        ),
        (
            "backends: [{backend: recorder, config: {port: 0}}]",
            "backends[0].config.port",
        ),
        (
            "backends: [{backend: recorder, config: {token: abc}}]",
            "backends[0].config.token",
        ),
    ] {
        for command in [
            &["exporter-config", "recorder"][..],
            &["helm-values", "recorder"],
            &["check-connection", "recorder"],
            &["check"],
        ] {
            let output = recorder.run(yaml, command);
            output.assert_code(2);
            assert!(output.stderr.contains(path), "{path}\n{output}");
            assert_eq!(
                recorder.calls(),
                "",
                "{command:?} called the plugin\n{output}"
            );
        }
    }
    // And valid settings do reach it.
    let output = recorder.run(
        "backends: [{backend: recorder, config: {color: green}}]",
        &["exporter-config", "recorder", "-o", "json"],
    );
    output.assert_success();
    assert_eq!(
        output.json()["exporters"]["otlp/recorder"]["endpoint"],
        "green.invalid:4317"
    );
    assert_eq!(recorder.calls(), "configure\notlp_exporter_config\n");
}

/// A command sends the call it will make with the plugin file, and the
/// plugin process makes it right after loading, while the host validates
/// the settings: but only when its schema plainly accepts them. Settings
/// that need the validator wait for it. Either way the plugin is called
/// once, and only with valid settings.
#[test]
fn a_call_is_made_ahead_only_with_settings_the_schema_plainly_accepts() {
    let recorder = Recorder::new();
    let valid = "backends: [{backend: recorder, config: {color: green, port: 4317}}]";
    let run = |schema_by_ref: bool| {
        recorder.forget_calls();
        let mut command = recorder.command(valid);
        if schema_by_ref {
            command.env("FLOE_FIXTURE_REF_SCHEMA", "1");
        }
        let output = command
            .args(["-vv", "exporter-config", "recorder", "-o", "json"])
            .run();
        output.assert_success();
        assert_eq!(
            output.json()["exporters"]["otlp/recorder"]["endpoint"],
            "green.invalid:4317",
            "{output}"
        );
        assert_eq!(
            recorder.calls(),
            "configure\notlp_exporter_config\n",
            "{output}"
        );
        output
    };
    let ahead = run(false);
    assert!(ahead.stderr.contains("answered ahead"), "{ahead}");
    let waited = run(true);
    assert!(
        waited
            .stderr
            .contains("asked ahead, not called: its settings need the validator"),
        "{waited}"
    );
    assert!(
        waited.stderr.contains("building the settings validator"),
        "{waited}"
    );
    assert!(!waited.stderr.contains("answered ahead"), "{waited}");
}

/// Valid settings are not called ahead when something else in the file can
/// still be refused once the plugins are loaded: the note that no plugin
/// was called stays true.
#[test]
fn a_refused_configuration_calls_no_plugin_even_one_with_valid_settings() {
    let recorder = Recorder::new();
    for (yaml, error) in [
        (
            "backends: [{backend: recorder, config: {color: green}}, {backend: nowhere}]",
            "backends[1].backend",
        ),
        (
            "backends: [{backend: recorder, config: {color: green, token: abc}}]",
            "backends[0].config.token",
        ),
    ] {
        recorder.forget_calls();
        let output = recorder.run(yaml, &["exporter-config", "recorder"]);
        output.assert_code(2);
        assert!(output.stderr.contains(error), "{output}");
        assert!(output.stderr.contains("no plugin was called"), "{output}");
        assert_eq!(recorder.calls(), "", "{output}");
    }
}

#[test]
fn schema_prints_each_backend_s_schema() {
    for name in ["jaeger", "datadog", "grafana-cloud"] {
        let output = TestCommand::new().args(["schema", name]).run();
        output.assert_success();
        let schema = output.json();
        assert_eq!(schema["type"], "object", "{name}");
        assert_eq!(schema["additionalProperties"], false, "{name}");
        let yaml = TestCommand::new()
            .args(["schema", name, "-o", "yaml"])
            .run();
        yaml.assert_success();
        let back: Value = serde_norway::from_str(&yaml.stdout).unwrap();
        assert_eq!(back, schema, "{name}");
    }
    let datadog = TestCommand::new().args(["schema", "datadog"]).run().json();
    assert_eq!(
        datadog["properties"]["site"]["enum"],
        json!([
            "datadoghq.com",
            "us3.datadoghq.com",
            "us5.datadoghq.com",
            "datadoghq.eu",
            "ddog-gov.com",
            "ap1.datadoghq.com",
            "ap2.datadoghq.com"
        ])
    );
    TestCommand::new()
        .args(["schema", "nosuch"])
        .run()
        .assert_code(2);
}

#[test]
fn without_a_name_the_one_selected_backend_is_printed() {
    // No file: jaeger.
    let output = TestCommand::new()
        .args(["exporter-config", "-o", "json"])
        .run();
    output.assert_success();
    assert_eq!(output.json(), expected("jaeger", "exporter-config"));
    // One backend in the file: that one, with its settings.
    let (output, _) = with_config(
        "backends: [{backend: datadog, config: {site: datadoghq.eu}}]",
        &["exporter-config", "-o", "json"],
    );
    output.assert_success();
    assert_eq!(
        output.json()["exporters"]["datadog"]["api"]["site"],
        "datadoghq.eu"
    );
    // Two: which one is ambiguous.
    let (output, file) = with_config(
        "backends: [{backend: datadog}, {backend: jaeger}]",
        &["helm-values"],
    );
    output.assert_code(2);
    assert!(
        output.stderr.contains(&format!(
            "error: {file}: selects 2 backends (datadog, jaeger)"
        )),
        "{output}"
    );
}

/// Building a JSON Schema validator costs milliseconds a run, so settings a
/// bundled backend's schema plainly accepts (typical ones, and none) pass
/// without one; a mistake still gets the validator's exact report.
#[test]
fn typical_settings_are_validated_without_building_a_validator() {
    let typical = [
        (
            "jaeger",
            json!({"endpoint": "jaeger-collector.observability:4317", "protocol": "grpc",
                   "tls": {"insecure": false, "ca_file": "/etc/otelcol/ca.pem"}, "chart": "v2"}),
        ),
        (
            "datadog",
            json!({"site": "datadoghq.eu", "api_key_env": "DD_API_KEY"}),
        ),
        (
            "grafana-cloud",
            json!({"zone": "prod-eu-west-2", "auth": "header"}),
        ),
        ("console", json!({})),
    ];
    for (name, settings) in typical {
        for settings in [settings, json!({})] {
            let yaml = json!({"backends": [{"backend": name, "config": settings}]}).to_string();
            let (output, _) = with_config(&yaml, &["-vv", "exporter-config", name]);
            output.assert_success();
            let log = &output.stderr;
            assert!(
                log.contains("settings plainly valid, no validator built"),
                "{name} {settings}: {log}"
            );
            assert!(
                !log.contains("building the settings validator"),
                "{name} {settings}: {log}"
            );
        }
    }
    let misspelt = json!({"backends": [{"backend": "jaeger", "config": {"endpiont": "x:1"}}]});
    let (output, file) = with_config(&misspelt.to_string(), &["-vv", "exporter-config", "jaeger"]);
    output.assert_code(2);
    assert!(
        output.stderr.contains("building the settings validator"),
        "{output}"
    );
    assert!(
        output.stderr.contains(&format!(
            "error: {file}: backends[0].config.endpiont: unknown setting"
        )),
        "{output}"
    );
}
