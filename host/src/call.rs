//! A plugin loaded into this process, and calls into it: what `--in-process`
//! runs in the host itself, and what a plugin process runs for the host.
//!
//! Everything a plugin hands back is checked before use: strings must be
//! UTF-8 (an `RStr` from a plugin is not, whatever its type says), and every
//! answer must be a JSON object.

use std::path::Path;

use abi_stable::std_types::{RResult, RStr, RString};
use floe_plugin_api::abi::{BackendModuleRef, CallErrorKind, CallResult};
use floe_plugin_api::{ApiVersion, JsonObject, endpoint_address};

use crate::info::Reported;
use crate::loader::OpenLibrary;
use crate::{Call, Error};

/// A plugin loaded into this process, without the file checks: the caller
/// has verified the file.
pub(crate) struct InProcessPlugin {
    /// What its root module says, not yet checked by the host's rules.
    pub(crate) reported: Reported,
    module: BackendModuleRef,
}

impl InProcessPlugin {
    /// Opens the library, checks its API version before running any of its
    /// functions, then its layout, and reads its metadata.
    pub(crate) fn load(path: &Path) -> Result<Self, Error> {
        let library = OpenLibrary::open(path)?;
        let api_version = library.api_version()?;
        let api = {
            let _span = tracing::info_span!("version_check", plugin = %api_version.escape_debug())
                .entered();
            let host = ApiVersion::current();
            let api = host.check(&api_version)?;
            tracing::debug!(%host, "plugin API version accepted");
            api
        };
        let module = library.root_module(api)?;
        let reported = read_reported(&module, &api_version)?;
        tracing::debug!(name = %reported.name.escape_debug(), "loaded");
        Ok(InProcessPlugin { reported, module })
    }

    /// Calls the plugin with `settings`. An API 1.0 plugin is called without
    /// them: it has no settings, so they are empty.
    pub(crate) fn call_with(&self, call: Call, settings: &JsonObject) -> Result<JsonObject, Error> {
        let text = serde_json::to_string(settings).expect("a JSON object serialises");
        let settings = RStr::from_str(&text);
        let module = &self.module;
        match call {
            Call::GetOtlpExporterConfig => match module.get_otlp_exporter_config_with() {
                Some(function) => run(call, || function(settings)),
                None => {
                    let function = module.get_otlp_exporter_config();
                    run(call, || function())
                }
            },
            Call::GetHelmValuesOverride => match module.get_helm_values_override_with() {
                Some(function) => run(call, || function(settings)),
                None => {
                    let function = module.get_helm_values_override();
                    run(call, || function())
                }
            },
            Call::GetEndpoints => match module.get_endpoints_with() {
                Some(function) => run(call, || function(settings)),
                // What a 1.1 plugin does by default: the exporters' endpoints.
                None => {
                    let config = self.call_with(Call::GetOtlpExporterConfig, &JsonObject::new())?;
                    endpoints_of(&config).map(|endpoints| {
                        let mut object = JsonObject::new();
                        object.insert("endpoints".to_owned(), endpoints.into());
                        object
                    })
                }
            },
            Call::GetSettingsSchema => match module.get_settings_schema() {
                Some(function) => run(call, || function()),
                None => Ok(JsonObject::new()),
            },
            Call::Load => unreachable!("loading is not a call into a loaded plugin"),
        }
    }
}

/// What the root module says, each text checked to be UTF-8.
fn read_reported(module: &BackendModuleRef, api_version: &str) -> Result<Reported, Error> {
    let text = |field: &'static str, value: RStr<'static>| {
        String::from_utf8(value.as_rslice().as_slice().to_vec()).map_err(|_| {
            Error::InvalidMetadata {
                field,
                reason: "it is not UTF-8 text".to_owned(),
            }
        })
    };
    let module_api = text("floe_api_version", module.floe_api_version())?;
    if module_api != api_version {
        return Err(Error::InvalidMetadata {
            field: "floe_api_version",
            reason: format!(
                "the root module says {module_api:?} but the version tag says {api_version:?}"
            ),
        });
    }
    Ok(Reported {
        floe_api_version: module_api,
        name: text("name", module.name())?,
        version: text("version", module.version())?,
        description: text("description", module.description())?,
        self_hosted: module.self_hosted(),
        signals: module
            .signals()
            .map(|signals| signals.names().into_iter().map(str::to_owned).collect()),
        has_settings: module.get_settings_schema().is_some(),
    })
}

/// Runs one call into the plugin and checks its output.
fn run(call: Call, function: impl FnOnce() -> CallResult) -> Result<JsonObject, Error> {
    let utf8 = |text: RString| String::from_utf8(text.into_bytes().into_vec());
    let text = match function() {
        RResult::ROk(text) => utf8(text).map_err(|_| Error::InvalidOutput {
            call,
            reason: "not UTF-8 text".to_owned(),
        })?,
        RResult::RErr(error) => {
            let message = utf8(error.message)
                .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
            return Err(if error.kind == CallErrorKind::PANICKED {
                Error::CallPanicked { call, message }
            } else {
                Error::CallFailed { call, message }
            });
        }
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(other) => Err(Error::InvalidOutput {
            call,
            reason: format!("expected a JSON object, got {}", json_type(&other)),
        }),
        Err(error) => Err(Error::InvalidOutput {
            call,
            reason: format!("not JSON: {error}"),
        }),
    }
}

/// The `host:port` of every exporter `endpoint` in a collector fragment.
fn endpoints_of(config: &JsonObject) -> Result<Vec<String>, Error> {
    let mut endpoints = Vec::new();
    let exporters = config.get("exporters").and_then(|e| e.as_object());
    for exporter in exporters.into_iter().flat_map(|e| e.values()) {
        if let Some(endpoint) = exporter.get("endpoint").and_then(|e| e.as_str()) {
            let address = endpoint_address(endpoint).ok_or_else(|| Error::InvalidOutput {
                call: Call::GetOtlpExporterConfig,
                reason: format!("cannot tell host and port of endpoint {endpoint:?}"),
            })?;
            if !endpoints.contains(&address) {
                endpoints.push(address);
            }
        }
    }
    Ok(endpoints)
}

pub(crate) fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
