//! Each rule, broken by a backend type, fails with a message that names
//! what is wrong; a backend that follows them all passes.

use floe_plugin_api::serde_json::{Value, json};
use floe_plugin_api::{JsonObject, PluginError, Signals, TelemetryBackend, json_object};
use floe_plugin_test::{Report, Verdict, check};

/// A backend type whose every item is given: `$name` and the JSON values
/// its calls return.
macro_rules! backend {
    ($type:ident {
        name: $name:literal,
        self_hosted: $self_hosted:literal,
        signals: $signals:expr,
        schema: $schema:expr,
        exporter: $exporter:expr,
        helm: $helm:expr $(,)?
    }) => {
        #[derive(Default)]
        struct $type;

        impl TelemetryBackend for $type {
            const NAME: &'static str = $name;
            const DESCRIPTION: &'static str = "a backend for the rules' tests";
            const SELF_HOSTED: bool = $self_hosted;
            const SIGNALS: Signals = $signals;

            fn settings_schema() -> JsonObject {
                object($schema)
            }

            fn configure(_: JsonObject) -> Result<Self, PluginError> {
                Ok(Self)
            }

            fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
                Ok(object($exporter))
            }

            fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
                Ok(object($helm))
            }
        }
    };
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(object) => object,
        other => panic!("{other} is not an object"),
    }
}

fn closed_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "region": {"description": "the region", "enum": ["us", "eu"], "default": "us"},
            "endpoint": {"description": "optional: the URL; without it, the region's", "type": "string"}
        }
    })
}

fn good_fragment() -> Value {
    json!({"exporters": {"otlphttp/acme": {
        "endpoint": "https://otlp.acme.example",
        "headers": {"x-acme-key": "${env:ACME_API_KEY}"}
    }}})
}

/// The messages of rule `id`, which must have failed, and no other.
fn only_failure(report: &Report, id: &str) -> Vec<String> {
    let failed: Vec<&str> = report.failures().iter().map(|(rule, _)| *rule).collect();
    assert!(
        failed.iter().all(|rule| *rule == id) && !failed.is_empty(),
        "expected only {id} to fail:\n{report}"
    );
    match report.verdict(id) {
        Some(Verdict::Fail(messages)) => messages.clone(),
        other => panic!("{other:?}"),
    }
}

backend!(Good {
    name: "acme",
    self_hosted: false,
    signals: Signals::TRACES.union(Signals::LOGS),
    schema: closed_schema(),
    exporter: good_fragment(),
    helm: json!({}),
});

#[test]
fn a_backend_that_follows_every_rule_passes() {
    let report = check::<Good>("0.3.1");
    assert!(report.passed(), "{report}");
    let text = report.to_string();
    assert!(text.contains("pass  no-literal-credentials"), "{text}");
    // Composing needs a host; that is said, not passed.
    assert!(text.contains("skip  composes"), "{text}");
    assert!(
        text.ends_with("acme: 11 rule(s) passed, 0 failed, 1 not run"),
        "{text}"
    );
}

backend!(BadName {
    name: "Acme Cloud",
    self_hosted: false,
    signals: Signals::ALL,
    schema: closed_schema(),
    exporter: good_fragment(),
    helm: json!({}),
});

#[test]
fn metadata() {
    let messages = only_failure(&check::<BadName>("0.1.0"), "metadata");
    assert_eq!(messages.len(), 1);
    assert!(messages[0].starts_with("NAME \"Acme Cloud\" is not a backend name"));
    let messages = only_failure(&check::<Good>("one"), "metadata");
    assert!(messages[0].starts_with("version \"one\" is not a semantic version"));
}

backend!(OpenSchema {
    name: "open",
    self_hosted: false,
    signals: Signals::ALL,
    schema: json!({"type": "object", "properties": {
        "region": {"description": "the region", "type": "string", "default": "us"}
    }}),
    exporter: good_fragment(),
    helm: json!({}),
});

#[test]
fn schema_closed() {
    let messages = only_failure(&check::<OpenSchema>("0.1.0"), "schema-closed");
    assert_eq!(
        messages,
        [
            "settings schema: the root is an object without \"additionalProperties\": false; add it, \
          so that a misspelt setting is an error"
        ]
    );
}

backend!(Undocumented {
    name: "undocumented",
    self_hosted: false,
    signals: Signals::ALL,
    schema: json!({"type": "object", "additionalProperties": false, "properties": {
        "region": {"type": "string", "default": "us"},
        "endpoint": {"description": "the URL", "type": "string"}
    }}),
    exporter: good_fragment(),
    helm: json!({}),
});

#[test]
fn schema_documented() {
    let messages = only_failure(&check::<Undocumented>("0.1.0"), "schema-documented");
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages[0].starts_with("settings schema: `region` has no \"description\""));
    assert!(messages[1].starts_with(
        "settings schema: `endpoint` has no \"default\", and its description does not say it is \
         optional"
    ));
}

backend!(Required {
    name: "required",
    self_hosted: false,
    signals: Signals::ALL,
    schema: json!({"type": "object", "additionalProperties": false, "required": ["region"], "properties": {
        "region": {"description": "the region", "type": "string", "default": "us"}
    }}),
    exporter: good_fragment(),
    helm: json!({}),
});

#[test]
fn empty_settings() {
    let messages = only_failure(&check::<Required>("0.1.0"), "empty-settings");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].starts_with("the settings schema refuses `{}`"),
        "{}",
        messages[0]
    );
}

/// A backend whose exporter needs a setting without a default.
#[derive(Default)]
struct NeedsRegion;

impl TelemetryBackend for NeedsRegion {
    const NAME: &'static str = "needs-region";
    const DESCRIPTION: &'static str = "fails without settings";
    const SELF_HOSTED: bool = false;

    fn configure(_: JsonObject) -> Result<Self, PluginError> {
        Err(PluginError::new("set `region`"))
    }

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        unreachable!("never configured")
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        unreachable!("never configured")
    }
}

#[test]
fn empty_settings_must_configure() {
    let report = check::<NeedsRegion>("0.1.0");
    let messages = only_failure(&report, "empty-settings");
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages[0].starts_with("the exporter config with `{}` failed: set `region`"));
    assert!(messages[1].starts_with("the Helm values with `{}` failed: set `region`"));
    assert!(matches!(
        report.verdict("pipelines"),
        Some(Verdict::NotRun(_))
    ));
}

backend!(BadId {
    name: "bad-id",
    self_hosted: false,
    signals: Signals::ALL,
    schema: closed_schema(),
    exporter: json!({"exporters": {"otlp http/acme": {"endpoint": "acme:4317"}}}),
    helm: json!({}),
});

#[test]
fn component_ids() {
    let messages = only_failure(&check::<BadId>("0.1.0"), "component-ids");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].starts_with(
            "fragment: `exporters`: \"otlp http/acme\" is not a collector component id"
        )
    );
}

backend!(LiteralKey {
    name: "literal-key",
    self_hosted: false,
    signals: Signals::ALL,
    schema: closed_schema(),
    exporter: json!({"exporters": {"datadog": {"api": {"key": "0123456789abcdef", "site": "datadoghq.com"}}}}),
    helm: json!({}),
});

#[test]
fn no_literal_credentials() {
    let report = check::<LiteralKey>("0.1.0");
    let messages = only_failure(&report, "no-literal-credentials");
    assert_eq!(
        messages,
        [
            "fragment: `exporters.datadog.api.key` looks like a credential but holds a value; write \
          an `${env:NAME}` reference for the collector to resolve, and take NAME from a setting \
          ending in `_env`"
        ]
    );
    assert!(!report.to_string().contains("0123456789abcdef"));
}

backend!(Receivers {
    name: "receivers",
    self_hosted: false,
    signals: Signals::ALL,
    schema: closed_schema(),
    exporter: json!({
        "receivers": {"otlp": {}},
        "exporters": {"otlp/acme": {"endpoint": "acme:4317"}}
    }),
    helm: json!({}),
});

#[test]
fn fragment_shape() {
    let messages = only_failure(&check::<Receivers>("0.1.0"), "fragment-shape");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(messages[0].starts_with("fragment: `receivers`: a backend's fragment holds only"));
}

backend!(StrayPipelines {
    name: "stray-pipelines",
    self_hosted: false,
    signals: Signals::TRACES,
    schema: closed_schema(),
    exporter: json!({
        "exporters": {"otlp/acme": {"endpoint": "acme:4317"}},
        "service": {"pipelines": {
            "traces": {"exporters": ["otlp/other"]},
            "logs": {"exporters": ["otlp/acme"]}
        }}
    }),
    helm: json!({}),
});

#[test]
fn pipelines() {
    let messages = only_failure(&check::<StrayPipelines>("0.1.0"), "pipelines");
    assert_eq!(
        messages,
        [
            "fragment: `service.pipelines.traces.exporters` names otlp/other, which the fragment \
             does not define under `exporters`",
            "fragment: `service.pipelines.logs`: the backend does not declare logs (SIGNALS: \
             traces); add it to SIGNALS, or leave the pipeline out",
        ]
    );
}

backend!(HostedWithValues {
    name: "hosted-with-values",
    self_hosted: false,
    signals: Signals::ALL,
    schema: closed_schema(),
    exporter: good_fragment(),
    helm: json!({"acme": {"enabled": true}}),
});

#[test]
fn hosted_helm_empty() {
    let messages = only_failure(&check::<HostedWithValues>("0.1.0"), "hosted-helm-empty");
    assert_eq!(
        messages,
        [
            "SELF_HOSTED is false, so nothing is deployed, but the Helm values set `acme`; return {} \
          from helm_values_override, or declare SELF_HOSTED = true"
        ]
    );
}

/// A panic in a call is caught, as in a library, and reported.
#[derive(Default)]
struct Panics;

impl TelemetryBackend for Panics {
    const NAME: &'static str = "panics";
    const DESCRIPTION: &'static str = "panics";
    const SELF_HOSTED: bool = true;

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        panic!("no exporter today")
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        Ok(json_object!({"acme": {"enabled": true}}))
    }
}

#[test]
fn a_panic_is_a_failure_not_a_crash() {
    let messages = only_failure(&check::<Panics>("0.1.0"), "empty-settings");
    assert!(
        messages[0]
            .starts_with("the exporter config with `{}` failed: panicked: no exporter today"),
        "{messages:#?}"
    );
}

#[test]
fn assert_conforms_panics_with_the_whole_report() {
    let failure = std::panic::catch_unwind(|| floe_plugin_test::assert_conforms!(HostedWithValues))
        .expect_err("a failing backend panics");
    let message = failure
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(message.starts_with("hosted-with-values breaks the plugin rules:\npass  loads"));
    assert!(message.contains("FAIL  hosted-helm-empty"));
}
