//! Console: the collector writes what it receives to its own log.
//!
//! The collector's `debug` exporter, for every signal. Nothing leaves the
//! collector's pod and nothing else is deployed, which makes it the backend
//! to start with (floe's platform manifest selects it when it names none).
//!
//! Setting: `verbosity`, how much of each batch the exporter logs: `basic`
//! (counts), `normal` (one line per record) or `detailed` (every field).

use floe_plugin_api::serde_json::Value;
use floe_plugin_api::{
    JsonObject, PluginError, Signals, TelemetryBackend, export_backend, json_object,
};

/// The exporter's levels of detail, least first.
pub const VERBOSITIES: [&str; 3] = ["basic", "normal", "detailed"];

/// The level used unless configured otherwise: counts only, the least noise.
pub const DEFAULT_VERBOSITY: &str = "basic";

/// The console backend.
#[derive(Debug)]
pub struct Console {
    verbosity: String,
}

impl Default for Console {
    fn default() -> Self {
        Console {
            verbosity: DEFAULT_VERBOSITY.to_owned(),
        }
    }
}

impl TelemetryBackend for Console {
    const NAME: &'static str = "console";
    const DESCRIPTION: &'static str = "Console, the collector's own log (debug exporter)";
    const SELF_HOSTED: bool = true;
    const SIGNALS: Signals = Signals::ALL;

    fn settings_schema() -> JsonObject {
        json_object!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "console settings",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "verbosity": {
                    "description": "how much of each batch the collector logs: basic (counts), normal (one line per record), detailed (every field)",
                    "enum": VERBOSITIES,
                    "default": DEFAULT_VERBOSITY
                }
            }
        })
    }

    fn configure(settings: JsonObject) -> Result<Self, PluginError> {
        let verbosity = match settings.get("verbosity") {
            Some(Value::String(level)) => level.clone(),
            _ => DEFAULT_VERBOSITY.to_owned(),
        };
        Ok(Console { verbosity })
    }

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        // Written out even at the default, so that the level does not depend
        // on what a chart's own `debug` exporter says.
        Ok(json_object!({
            "exporters": {"debug": {"verbosity": self.verbosity}}
        }))
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        Ok(JsonObject::new())
    }

    /// The exporter writes to the collector's log: it connects nowhere.
    fn endpoints(&self) -> Result<Vec<String>, PluginError> {
        Ok(Vec::new())
    }
}

export_backend!(Console);

#[cfg(test)]
mod tests {
    use super::*;
    use floe_plugin_api::serde_json::json;

    fn console(settings: Value) -> Console {
        let Value::Object(settings) = settings else {
            panic!("settings are an object")
        };
        Console::configure(settings).unwrap()
    }

    #[test]
    fn defaults_to_the_debug_exporter_at_basic() {
        assert_eq!(
            Value::Object(console(json!({})).otlp_exporter_config().unwrap()),
            json!({"exporters": {"debug": {"verbosity": "basic"}}})
        );
    }

    #[test]
    fn verbosity_is_passed_through() {
        for level in VERBOSITIES {
            let fragment = console(json!({"verbosity": level}))
                .otlp_exporter_config()
                .unwrap();
            assert_eq!(fragment["exporters"]["debug"]["verbosity"], level);
        }
    }

    #[test]
    fn deploys_nothing_and_connects_nowhere() {
        let console = console(json!({}));
        assert!(console.helm_values_override().unwrap().is_empty());
        assert!(console.endpoints().unwrap().is_empty());
    }
}
