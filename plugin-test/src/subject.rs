//! What the rules look at: a backend's metadata and its answers, as plain
//! data, whether they came from a backend type or from a loaded library.

use floe_plugin_api::abi::CallErrorKind;
use floe_plugin_api::metadata::Metadata;
use floe_plugin_api::serde_json::{self, Value};
use floe_plugin_api::{FLOE_API_VERSION, JsonObject, PluginError, TelemetryBackend};

use crate::{Report, run};

/// A backend's answer to one call made with `{}` settings.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A JSON object, as every call must return.
    Object(JsonObject),
    /// Something else: what is wrong with it (e.g. `expected a JSON object,
    /// got an array`).
    NotAnObject(String),
    /// The call failed; the backend's message.
    Failed(String),
}

impl Answer {
    /// The answer to a call, from the text a plugin returned.
    pub fn from_text(text: &str) -> Answer {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => Answer::Object(object),
            Ok(other) => {
                Answer::NotAnObject(format!("expected a JSON object, got {}", kind_of(&other)))
            }
            Err(error) => Answer::NotAnObject(format!(
                "expected a JSON object, got text that is not JSON ({error})"
            )),
        }
    }

    /// The object, when it is one.
    pub fn object(&self) -> Option<&JsonObject> {
        match self {
            Answer::Object(object) => Some(object),
            _ => None,
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a backend declares about itself: its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The backend's name.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The plugin API version it was built for.
    pub floe_api_version: String,
    /// One line about the backend.
    pub description: String,
    /// Whether its services run in the user's cluster.
    pub self_hosted: bool,
    /// The signals it accepts; `None` for an API 1.0 plugin, which does not say.
    pub signals: Option<Vec<String>>,
}

/// Everything the rules look at.
#[derive(Debug, Clone)]
pub struct Subject {
    /// How it was loaded, when that says more than "the host loads the
    /// library".
    pub loaded: Option<String>,
    /// The metadata.
    pub declared: Declared,
    /// Whether the metadata section the host reads without loading the
    /// library agrees with the module; otherwise what is wrong.
    pub section: Result<(), String>,
    /// The settings schema; `None` for an API 1.0 plugin, which takes no
    /// settings.
    pub schema: Option<Answer>,
    /// The collector fragment for `{}` settings.
    pub exporter_config: Answer,
    /// The Helm values for `{}` settings.
    pub helm_values: Answer,
}

impl Subject {
    /// Backend type `B` as a plugin crate at `crate_version` exports it:
    /// its metadata as `export_backend!` records it, and its answers through
    /// the same glue that runs in a library (panics caught, output
    /// serialised).
    pub fn of<B: TelemetryBackend>(crate_version: &str) -> Subject {
        let metadata = Metadata {
            floe_api_version: FLOE_API_VERSION,
            name: B::NAME,
            version: crate_version,
            description: B::DESCRIPTION,
            self_hosted: B::SELF_HOSTED,
            signals: B::SIGNALS,
        };
        let bytes = metadata.to_bytes();
        let section = match Metadata::decode(&bytes) {
            Ok(read) if read == metadata => Ok(()),
            Ok(read) => Err(format!(
                "the metadata section would read back as {read:?}, not as {metadata:?}"
            )),
            Err(error) => Err(format!(
                "the metadata section export_backend! writes would not read back: {error}"
            )),
        };
        Subject {
            loaded: Some("a backend type: nothing to load (check-plugin loads the library)".into()),
            declared: Declared {
                name: B::NAME.to_owned(),
                version: crate_version.to_owned(),
                floe_api_version: FLOE_API_VERSION.to_owned(),
                description: B::DESCRIPTION.to_owned(),
                self_hosted: B::SELF_HOSTED,
                signals: Some(B::SIGNALS.names().into_iter().map(str::to_owned).collect()),
            },
            section,
            schema: Some(answer(|| Ok(B::settings_schema()))),
            exporter_config: answer(|| B::configure(JsonObject::new())?.otlp_exporter_config()),
            helm_values: answer(|| B::configure(JsonObject::new())?.helm_values_override()),
        }
    }
}

/// Runs `body` as a library's root module runs a call: a panic is caught
/// and the object crosses as JSON text.
fn answer(body: impl FnOnce() -> Result<JsonObject, PluginError>) -> Answer {
    match floe_plugin_api::__private::call(body).into_result() {
        Ok(text) => Answer::from_text(text.as_str()),
        Err(error) if error.kind == CallErrorKind::PANICKED => {
            Answer::Failed(format!("panicked: {}", error.message))
        }
        Err(error) => Answer::Failed(error.message.into_string()),
    }
}

/// Checks backend type `B`, of a plugin crate at `crate_version`, against
/// every rule that needs no host; see [`assert_conforms!`](crate::assert_conforms).
pub fn check<B: TelemetryBackend>(crate_version: &str) -> Report {
    run(&Subject::of::<B>(crate_version), None)
}
