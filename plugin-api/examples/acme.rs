//! A complete hosted backend, built as a plugin library:
//! `cargo build -p floe-plugin-api --example acme` writes
//! `target/debug/examples/libacme.so`, which `floe-telemetry check-plugin`
//! checks and `floe-telemetry --plugin-dir target/debug/examples list` shows.
//!
//! Acme takes traces and logs over OTLP/HTTP at a regional endpoint, with
//! an API key in a header. Its settings show the three kinds a backend
//! usually has: a closed choice with a default (`region`), the name of an
//! environment variable holding a credential (`api_key_env`), and an
//! optional setting without a default (`endpoint`, which replaces the
//! regional one).

use floe_plugin_api::serde_json::Value;
use floe_plugin_api::{
    JsonObject, PluginError, Signals, TelemetryBackend, export_backend, json_object,
};

/// The backend, configured.
pub struct Acme {
    region: String,
    endpoint: Option<String>,
    api_key_env: String,
}

impl Default for Acme {
    fn default() -> Self {
        Self {
            region: "us".into(),
            endpoint: None,
            api_key_env: "ACME_API_KEY".into(),
        }
    }
}

impl Acme {
    fn endpoint(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => format!("https://otlp.{}.acme.example", self.region),
        }
    }
}

impl TelemetryBackend for Acme {
    const NAME: &'static str = "acme";
    const DESCRIPTION: &'static str = "Acme Observability Cloud over OTLP/HTTP";
    const SELF_HOSTED: bool = false;
    const SIGNALS: Signals = Signals::TRACES.union(Signals::LOGS);

    fn settings_schema() -> JsonObject {
        json_object!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "acme settings",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "region": {
                    "description": "the Acme region to send to",
                    "enum": ["us", "eu"],
                    "default": "us"
                },
                "endpoint": {
                    "description": "optional: an OTLP/HTTP URL to send to instead of the region's (a proxy, say); without it, https://otlp.<region>.acme.example",
                    "type": "string",
                    "pattern": "^https://[^\\s]+$"
                },
                "api_key_env": {
                    "description": "name of the collector's environment variable holding the API key",
                    "type": "string",
                    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                    "default": "ACME_API_KEY"
                }
            }
        })
    }

    fn configure(settings: JsonObject) -> Result<Self, PluginError> {
        let mut acme = Acme::default();
        let text = |key: &str| settings.get(key).and_then(Value::as_str).map(str::to_owned);
        if let Some(region) = text("region") {
            acme.region = region;
        }
        acme.endpoint = text("endpoint");
        if let Some(name) = text("api_key_env") {
            acme.api_key_env = name;
        }
        Ok(acme)
    }

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        Ok(json_object!({
            "exporters": {
                "otlphttp/acme": {
                    "endpoint": self.endpoint(),
                    "headers": {"x-acme-key": format!("${{env:{}}}", self.api_key_env)}
                }
            }
        }))
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        Ok(JsonObject::new())
    }
}

export_backend!(Acme);
