//! Datadog: hosted APM and distributed tracing.
//!
//! The collector's `datadog` exporter (contrib) sends straight to Datadog's
//! intake; nothing runs in the cluster, so there are no Helm values.
//!
//! Settings: `site` (one of Datadog's sites), `api_key_env` (the environment
//! variable the collector reads the API key from) and `signals` (which of
//! traces, metrics and logs to send: for a subset, the fragment names the
//! pipelines the exporter belongs in; sending all three needs no such hint).

use floe_plugin_api::serde_json::{Value, json};
use floe_plugin_api::{
    JsonObject, PluginError, Signals, TelemetryBackend, export_backend, json_object,
};

/// The environment variable the collector reads the API key from, by default.
pub const API_KEY_ENV: &str = "DD_API_KEY";

/// The Datadog site (region) data is sent to unless configured otherwise.
pub const DEFAULT_SITE: &str = "datadoghq.com";

/// Datadog's sites, as its `site` parameter spells them: US1, US3, US5, EU1,
/// US1-FED, AP1, AP2.
pub const SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ddog-gov.com",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
];

const EXPORTER_ID: &str = "datadog";

/// The Datadog backend.
#[derive(Debug)]
pub struct Datadog {
    site: String,
    api_key_env: String,
    signals: Signals,
}

impl Default for Datadog {
    fn default() -> Self {
        Self {
            site: DEFAULT_SITE.to_owned(),
            api_key_env: API_KEY_ENV.to_owned(),
            signals: Signals::ALL,
        }
    }
}

impl TelemetryBackend for Datadog {
    const NAME: &'static str = "datadog";
    const DESCRIPTION: &'static str = "Datadog, hosted APM and distributed tracing";
    const SELF_HOSTED: bool = false;
    const SIGNALS: Signals = Signals::ALL;

    fn settings_schema() -> JsonObject {
        json_object!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "datadog settings",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "site": {
                    "description": "the Datadog site your organization is on (the `site` parameter of Datadog's docs)",
                    "enum": SITES,
                    "default": DEFAULT_SITE
                },
                "api_key_env": {
                    "description": "name of the environment variable the collector reads the API key from",
                    "type": "string",
                    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                    "default": API_KEY_ENV
                },
                "signals": {
                    "description": "the signals sent to Datadog: the exporter is put in these pipelines",
                    "type": "array",
                    "items": {"enum": ["traces", "metrics", "logs"]},
                    "minItems": 1,
                    "uniqueItems": true,
                    "default": ["traces", "metrics", "logs"]
                }
            }
        })
    }

    fn configure(settings: JsonObject) -> Result<Self, PluginError> {
        let mut datadog = Datadog::default();
        if let Some(Value::String(site)) = settings.get("site") {
            datadog.site = site.clone();
        }
        if let Some(Value::String(name)) = settings.get("api_key_env") {
            datadog.api_key_env = name.clone();
        }
        if let Some(Value::Array(names)) = settings.get("signals") {
            datadog.signals = Signals::NONE;
            for name in names {
                let signal = name
                    .as_str()
                    .and_then(Signals::from_name)
                    .ok_or_else(|| PluginError::new(format!("{name} is not a signal")))?;
                datadog.signals = datadog.signals.union(signal);
            }
        }
        Ok(datadog)
    }

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        // The exporter reads the site from `api.site`; the key is resolved by
        // the collector from its environment at start-up.
        let mut fragment = json_object!({
            "exporters": {
                EXPORTER_ID: {
                    "api": {
                        "key": format!("${{env:{}}}", self.api_key_env),
                        "site": self.site
                    }
                }
            }
        });
        // The exporter has no per-signal switch: a subset of signals is said
        // by naming the pipelines it belongs in. Sending everything needs no
        // such hint, which keeps the default fragment the plain exporter.
        if self.signals != Signals::ALL {
            let mut pipelines = JsonObject::new();
            for name in self.signals.names() {
                pipelines.insert(name.to_owned(), json!({"exporters": [EXPORTER_ID]}));
            }
            fragment.insert("service".to_owned(), json!({ "pipelines": pipelines }));
        }
        Ok(fragment)
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        Ok(JsonObject::new())
    }

    /// The exporter's default intake of each signal sent.
    fn endpoints(&self) -> Result<Vec<String>, PluginError> {
        let site = &self.site;
        let mut endpoints = Vec::new();
        for (signal, host) in [
            (Signals::TRACES, format!("trace.agent.{site}")),
            (Signals::METRICS, format!("api.{site}")),
            (Signals::LOGS, format!("http-intake.logs.{site}")),
        ] {
            if self.signals.contains(signal) {
                endpoints.push(format!("{host}:443"));
            }
        }
        Ok(endpoints)
    }
}

export_backend!(Datadog);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_plugin_rules() {
        floe_plugin_test::assert_conforms!(Datadog);
    }

    fn configured(settings: Value) -> Datadog {
        let Value::Object(settings) = settings else {
            panic!("settings are an object")
        };
        Datadog::configure(settings).unwrap()
    }

    fn exporter(settings: Value) -> Value {
        Value::Object(configured(settings).otlp_exporter_config().unwrap())
    }

    #[test]
    fn defaults_read_the_key_from_dd_api_key_and_send_everything_to_us1() {
        assert_eq!(
            exporter(json!({})),
            json!({
                "exporters": {"datadog": {"api": {
                    "key": "${env:DD_API_KEY}",
                    "site": "datadoghq.com"
                }}}
            })
        );
    }

    #[test]
    fn site_changes_only_the_site() {
        let mut expected = exporter(json!({}));
        expected["exporters"]["datadog"]["api"]["site"] = json!("datadoghq.eu");
        assert_eq!(exporter(json!({"site": "datadoghq.eu"})), expected);
    }

    #[test]
    fn api_key_env_changes_only_the_reference() {
        let mut expected = exporter(json!({}));
        expected["exporters"]["datadog"]["api"]["key"] = json!("${env:DATADOG_KEY}");
        assert_eq!(exporter(json!({"api_key_env": "DATADOG_KEY"})), expected);
    }

    #[test]
    fn signals_choose_the_pipelines() {
        let config = exporter(json!({"signals": ["logs", "traces"]}));
        assert_eq!(
            config["service"],
            json!({"pipelines": {
                "traces": {"exporters": ["datadog"]},
                "logs": {"exporters": ["datadog"]}
            }})
        );
        assert_eq!(config["exporters"], exporter(json!({}))["exporters"]);
    }

    #[test]
    fn endpoints_follow_site_and_signals() {
        assert_eq!(
            configured(json!({"site": "us5.datadoghq.com", "signals": ["metrics"]}))
                .endpoints()
                .unwrap(),
            ["api.us5.datadoghq.com:443"]
        );
        assert_eq!(
            Datadog::default().endpoints().unwrap(),
            [
                "trace.agent.datadoghq.com:443",
                "api.datadoghq.com:443",
                "http-intake.logs.datadoghq.com:443"
            ]
        );
    }

    #[test]
    fn nothing_to_deploy() {
        assert!(
            Datadog::default()
                .helm_values_override()
                .unwrap()
                .is_empty()
        );
    }
}
