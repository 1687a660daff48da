//! Grafana Cloud: managed Grafana with Tempo (traces), Loki (logs) and
//! Prometheus (metrics), fed through the stack's OTLP gateway.
//!
//! The gateway speaks OTLP over HTTP and authenticates with HTTP Basic auth:
//! the stack's numeric instance id as user name, a Cloud Access Policy token
//! as password. By default the collector's `basicauth` extension supplies both
//! from its environment and the exporter names it as its authenticator, so
//! the fragment carries the extension too. Collector builds without that
//! extension use `auth: header`: an `Authorization: Basic ...` header whose
//! value, base64 of `<instance id>:<token>`, is read from one environment
//! variable. Nothing runs in the cluster, so there are no Helm values.

use floe_plugin_api::serde_json::{Value, json};
use floe_plugin_api::{JsonObject, PluginError, TelemetryBackend, export_backend, json_object};

/// The environment variable holding the Grafana Cloud instance (stack) id.
pub const INSTANCE_ID_ENV: &str = "GRAFANA_CLOUD_INSTANCE_ID";

/// The environment variable holding the Cloud Access Policy token.
pub const API_TOKEN_ENV: &str = "GRAFANA_CLOUD_API_TOKEN";

/// In header mode, the environment variable holding base64 of
/// `<instance id>:<token>`.
pub const BASIC_AUTH_ENV: &str = "GRAFANA_CLOUD_BASIC_AUTH";

/// The gateway zone used unless configured otherwise.
pub const DEFAULT_ZONE: &str = "prod-us-east-0";

const EXTENSION_ID: &str = "basicauth/grafana_cloud";
const EXPORTER_ID: &str = "otlphttp/grafana_cloud";
const ENV_NAME: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// How the exporter authenticates to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Through the collector's `basicauth` extension.
    BasicAuthExtension,
    /// Through an `Authorization` header.
    Header,
}

/// The Grafana Cloud backend.
#[derive(Debug)]
pub struct GrafanaCloud {
    endpoint: String,
    auth: Auth,
    instance_id_env: String,
    api_token_env: String,
    basic_auth_env: String,
}

impl Default for GrafanaCloud {
    fn default() -> Self {
        Self {
            endpoint: gateway_endpoint(DEFAULT_ZONE),
            auth: Auth::BasicAuthExtension,
            instance_id_env: INSTANCE_ID_ENV.to_owned(),
            api_token_env: API_TOKEN_ENV.to_owned(),
            basic_auth_env: BASIC_AUTH_ENV.to_owned(),
        }
    }
}

/// The OTLP gateway of a zone; the exporter appends `/v1/<signal>`.
pub fn gateway_endpoint(zone: &str) -> String {
    format!("https://otlp-gateway-{zone}.grafana.net/otlp")
}

fn env_setting(description: &str, default: &str) -> Value {
    json!({
        "description": description,
        "type": "string",
        "pattern": ENV_NAME,
        "default": default
    })
}

impl TelemetryBackend for GrafanaCloud {
    const NAME: &'static str = "grafana-cloud";
    const DESCRIPTION: &'static str = "Grafana Cloud, managed Grafana with Tempo, Loki and metrics";
    const SELF_HOSTED: bool = false;

    fn settings_schema() -> JsonObject {
        json_object!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "grafana-cloud settings",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "zone": {
                    "description": "the stack's region, as in its OTLP gateway https://otlp-gateway-<zone>.grafana.net/otlp; not with `endpoint`",
                    "type": "string",
                    "pattern": "^prod-[a-z]+-[a-z]+-[0-9]+$",
                    "default": DEFAULT_ZONE
                },
                "endpoint": {
                    "description": "optional: the OTLP gateway URL, as the stack's OpenTelemetry page shows it; without it, the gateway of `zone`; not with `zone`",
                    "type": "string",
                    "pattern": "^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$"
                },
                "auth": {
                    "description": "`basicauth`: the collector's basicauth extension; `header`: an Authorization header, for collector builds without that extension",
                    "enum": ["basicauth", "header"],
                    "default": "basicauth"
                },
                "instance_id_env": env_setting(
                    "name of the environment variable holding the numeric instance (stack) id (auth: basicauth)",
                    INSTANCE_ID_ENV
                ),
                "api_token_env": env_setting(
                    "name of the environment variable holding the Cloud Access Policy token (auth: basicauth)",
                    API_TOKEN_ENV
                ),
                "basic_auth_env": env_setting(
                    "name of the environment variable holding base64 of `<instance id>:<token>` (auth: header)",
                    BASIC_AUTH_ENV
                )
            },
            "allOf": [
                {
                    "if": {"required": ["endpoint"]},
                    "then": {"properties": {"zone": false}}
                },
                {
                    "if": {"required": ["auth"], "properties": {"auth": {"const": "header"}}},
                    "then": {"properties": {"instance_id_env": false, "api_token_env": false}},
                    "else": {"properties": {"basic_auth_env": false}}
                }
            ]
        })
    }

    fn configure(settings: JsonObject) -> Result<Self, PluginError> {
        let text = |key: &str| settings.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut grafana = GrafanaCloud::default();
        if let Some(zone) = text("zone") {
            grafana.endpoint = gateway_endpoint(&zone);
        }
        if let Some(endpoint) = text("endpoint") {
            grafana.endpoint = endpoint;
        }
        if text("auth").as_deref() == Some("header") {
            grafana.auth = Auth::Header;
        }
        if let Some(name) = text("instance_id_env") {
            grafana.instance_id_env = name;
        }
        if let Some(name) = text("api_token_env") {
            grafana.api_token_env = name;
        }
        if let Some(name) = text("basic_auth_env") {
            grafana.basic_auth_env = name;
        }
        Ok(grafana)
    }

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        // `otlphttp` is the name every collector release accepts; newer ones
        // prefer `otlp_http` and keep `otlphttp` as an alias.
        Ok(match self.auth {
            Auth::BasicAuthExtension => json_object!({
                "extensions": {
                    EXTENSION_ID: {
                        "client_auth": {
                            "username": format!("${{env:{}}}", self.instance_id_env),
                            "password": format!("${{env:{}}}", self.api_token_env)
                        }
                    }
                },
                "exporters": {
                    EXPORTER_ID: {
                        "endpoint": self.endpoint,
                        "auth": { "authenticator": EXTENSION_ID }
                    }
                },
                // The collector starts only the extensions listed here.
                "service": { "extensions": [EXTENSION_ID] }
            }),
            Auth::Header => json_object!({
                "exporters": {
                    EXPORTER_ID: {
                        "endpoint": self.endpoint,
                        "headers": {
                            "Authorization": format!("Basic ${{env:{}}}", self.basic_auth_env)
                        }
                    }
                }
            }),
        })
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        Ok(JsonObject::new())
    }
}

export_backend!(GrafanaCloud);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_plugin_rules() {
        floe_plugin_test::assert_conforms!(GrafanaCloud);
    }

    fn exporter(settings: Value) -> Value {
        let Value::Object(settings) = settings else {
            panic!("settings are an object")
        };
        Value::Object(
            GrafanaCloud::configure(settings)
                .unwrap()
                .otlp_exporter_config()
                .unwrap(),
        )
    }

    #[test]
    fn exporter_authenticates_through_basicauth_from_the_environment() {
        assert_eq!(
            exporter(json!({})),
            json!({
                "extensions": {"basicauth/grafana_cloud": {"client_auth": {
                    "username": "${env:GRAFANA_CLOUD_INSTANCE_ID}",
                    "password": "${env:GRAFANA_CLOUD_API_TOKEN}"
                }}},
                "exporters": {"otlphttp/grafana_cloud": {
                    "endpoint": "https://otlp-gateway-prod-us-east-0.grafana.net/otlp",
                    "auth": {"authenticator": "basicauth/grafana_cloud"}
                }},
                "service": {"extensions": ["basicauth/grafana_cloud"]}
            })
        );
    }

    #[test]
    fn the_exporter_names_the_extension_it_configures_and_starts() {
        let config = exporter(json!({}));
        let authenticator = &config["exporters"][EXPORTER_ID]["auth"]["authenticator"];
        let id = authenticator.as_str().unwrap();
        assert!(config["extensions"].get(id).is_some(), "{id}");
        assert_eq!(config["service"]["extensions"], json!([id]));
    }

    #[test]
    fn zone_and_endpoint_change_only_the_endpoint() {
        let mut expected = exporter(json!({}));
        expected["exporters"][EXPORTER_ID]["endpoint"] =
            json!("https://otlp-gateway-prod-eu-west-2.grafana.net/otlp");
        assert_eq!(exporter(json!({"zone": "prod-eu-west-2"})), expected);
        assert_eq!(
            exporter(json!({"endpoint": "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp"})),
            expected
        );
    }

    #[test]
    fn env_names_change_only_the_references() {
        let config = exporter(json!({"instance_id_env": "ID", "api_token_env": "TOKEN"}));
        assert_eq!(
            config["extensions"][EXTENSION_ID]["client_auth"],
            json!({"username": "${env:ID}", "password": "${env:TOKEN}"})
        );
    }

    #[test]
    fn header_mode_needs_no_extension() {
        assert_eq!(
            exporter(json!({"auth": "header", "basic_auth_env": "GC_AUTH"})),
            json!({"exporters": {"otlphttp/grafana_cloud": {
                "endpoint": "https://otlp-gateway-prod-us-east-0.grafana.net/otlp",
                "headers": {"Authorization": "Basic ${env:GC_AUTH}"}
            }}})
        );
    }

    #[test]
    fn connects_to_the_gateway() {
        assert_eq!(
            GrafanaCloud::default().endpoints().unwrap(),
            ["otlp-gateway-prod-us-east-0.grafana.net:443"]
        );
    }

    #[test]
    fn nothing_to_deploy() {
        assert!(
            GrafanaCloud::default()
                .helm_values_override()
                .unwrap()
                .is_empty()
        );
    }
}
