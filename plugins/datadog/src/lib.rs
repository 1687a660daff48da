//! Datadog: hosted APM and distributed tracing.
//!
//! The collector's `datadog` exporter (contrib) sends straight to Datadog's
//! intake; nothing runs in the cluster, so there are no Helm values.

use floe_plugin_api::{JsonObject, PluginError, TelemetryBackend, export_backend, json_object};

/// The environment variable the collector reads the API key from.
pub const API_KEY_ENV: &str = "DD_API_KEY";

/// The Datadog site (region) data is sent to unless configured otherwise.
pub const DEFAULT_SITE: &str = "datadoghq.com";

/// The Datadog backend.
#[derive(Debug, Default)]
pub struct Datadog;

impl TelemetryBackend for Datadog {
    const NAME: &'static str = "datadog";
    const DESCRIPTION: &'static str = "Datadog, hosted APM and distributed tracing";
    const SELF_HOSTED: bool = false;

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        // The exporter reads the site from `api.site`; the key is resolved by
        // the collector from its environment at start-up.
        Ok(json_object!({
            "exporters": {
                "datadog": {
                    "api": {
                        "key": format!("${{env:{API_KEY_ENV}}}"),
                        "site": DEFAULT_SITE
                    }
                }
            }
        }))
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        Ok(JsonObject::new())
    }
}

export_backend!(Datadog);

#[cfg(test)]
mod tests {
    use super::*;
    use floe_plugin_api::serde_json::{Value, json};

    #[test]
    fn exporter_reads_the_key_from_the_environment() {
        let config = Value::Object(Datadog.otlp_exporter_config().unwrap());
        assert_eq!(
            config,
            json!({"exporters": {"datadog": {"api": {
                "key": "${env:DD_API_KEY}",
                "site": "datadoghq.com"
            }}}})
        );
    }

    #[test]
    fn nothing_to_deploy() {
        assert!(Datadog.helm_values_override().unwrap().is_empty());
    }
}
