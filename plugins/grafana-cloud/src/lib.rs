//! Grafana Cloud: managed Grafana with Tempo (traces), Loki (logs) and
//! Prometheus (metrics), fed through the stack's OTLP gateway.
//!
//! The gateway speaks OTLP over HTTP and authenticates with HTTP Basic auth:
//! the stack's numeric instance id as user name, a Cloud Access Policy token
//! as password. The collector's `basicauth` extension supplies both from its
//! environment; the exporter names it as its authenticator. Nothing runs in
//! the cluster, so there are no Helm values.

use floe_plugin_api::{JsonObject, PluginError, TelemetryBackend, export_backend, json_object};

/// The environment variable holding the Grafana Cloud instance (stack) id.
pub const INSTANCE_ID_ENV: &str = "GRAFANA_CLOUD_INSTANCE_ID";

/// The environment variable holding the Cloud Access Policy token.
pub const API_TOKEN_ENV: &str = "GRAFANA_CLOUD_API_TOKEN";

/// The gateway zone used unless configured otherwise.
pub const DEFAULT_ZONE: &str = "prod-us-east-0";

const EXTENSION_ID: &str = "basicauth/grafana_cloud";

/// The Grafana Cloud backend.
#[derive(Debug, Default)]
pub struct GrafanaCloud;

/// The OTLP gateway of a zone; the exporter appends `/v1/<signal>`.
pub fn gateway_endpoint(zone: &str) -> String {
    format!("https://otlp-gateway-{zone}.grafana.net/otlp")
}

impl TelemetryBackend for GrafanaCloud {
    const NAME: &'static str = "grafana-cloud";
    const DESCRIPTION: &'static str = "Grafana Cloud, managed Grafana with Tempo, Loki and metrics";
    const SELF_HOSTED: bool = false;

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        // `otlphttp` is the name every collector release accepts; newer ones
        // prefer `otlp_http` and keep `otlphttp` as an alias.
        Ok(json_object!({
            "extensions": {
                EXTENSION_ID: {
                    "client_auth": {
                        "username": format!("${{env:{INSTANCE_ID_ENV}}}"),
                        "password": format!("${{env:{API_TOKEN_ENV}}}")
                    }
                }
            },
            "exporters": {
                "otlphttp/grafana_cloud": {
                    "endpoint": gateway_endpoint(DEFAULT_ZONE),
                    "auth": { "authenticator": EXTENSION_ID }
                }
            }
        }))
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        Ok(JsonObject::new())
    }
}

export_backend!(GrafanaCloud);

#[cfg(test)]
mod tests {
    use super::*;
    use floe_plugin_api::serde_json::{Value, json};

    #[test]
    fn exporter_authenticates_through_basicauth_from_the_environment() {
        let config = Value::Object(GrafanaCloud.otlp_exporter_config().unwrap());
        assert_eq!(
            config,
            json!({
                "extensions": {"basicauth/grafana_cloud": {"client_auth": {
                    "username": "${env:GRAFANA_CLOUD_INSTANCE_ID}",
                    "password": "${env:GRAFANA_CLOUD_API_TOKEN}"
                }}},
                "exporters": {"otlphttp/grafana_cloud": {
                    "endpoint": "https://otlp-gateway-prod-us-east-0.grafana.net/otlp",
                    "auth": {"authenticator": "basicauth/grafana_cloud"}
                }}
            })
        );
    }

    #[test]
    fn the_exporter_names_the_extension_it_configures() {
        let config = GrafanaCloud.otlp_exporter_config().unwrap();
        let authenticator = &config["exporters"]["otlphttp/grafana_cloud"]["auth"]["authenticator"];
        let id = authenticator.as_str().unwrap();
        assert!(
            config["extensions"].get(id).is_some(),
            "{id} is not configured"
        );
    }

    #[test]
    fn nothing_to_deploy() {
        assert!(GrafanaCloud.helm_values_override().unwrap().is_empty());
    }
}
