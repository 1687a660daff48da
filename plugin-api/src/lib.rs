//! The interface between floe-telemetry and its telemetry backend plugins.
//!
//! A backend plugin tells floe where its OpenTelemetry data goes: which
//! OpenTelemetry Collector exporter to configure, and which Helm values deploy
//! the backend's own services. floe-telemetry finds plugins as shared
//! libraries in its plugin directories, checks that each was built against a
//! compatible plugin API (see [`ApiVersion::accepts`]) before calling
//! anything in it, then calls it.
//!
//! This crate is all a plugin author needs. A backend is a plain Rust type:
//! no `unsafe`, no FFI types.
//!
//! # A complete backend
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "floe-backend-acme"
//! version = "0.3.1"          # reported as the plugin's own version
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib", "rlib"]   # cdylib to ship, rlib to unit-test
//!
//! [dependencies]
//! floe-plugin-api = "1"
//! ```
//!
//! `src/lib.rs`: a hosted backend with two settings, a region and the name
//! of the environment variable that holds the API key.
//!
//! ```
//! use floe_plugin_api::serde_json::Value;
//! use floe_plugin_api::{JsonObject, PluginError, Signals, TelemetryBackend, export_backend, json_object};
//!
//! pub struct Acme {
//!     region: String,
//!     api_key_env: String,
//! }
//!
//! impl Default for Acme {
//!     fn default() -> Self {
//!         Self { region: "us".into(), api_key_env: "ACME_API_KEY".into() }
//!     }
//! }
//!
//! impl TelemetryBackend for Acme {
//!     const NAME: &'static str = "acme";
//!     const DESCRIPTION: &'static str = "Acme Observability Cloud over OTLP/HTTP";
//!     const SELF_HOSTED: bool = false;
//!     const SIGNALS: Signals = Signals::TRACES.union(Signals::LOGS);
//!
//!     // The host checks the user's settings against this before any call.
//!     fn settings_schema() -> JsonObject {
//!         json_object!({
//!             "type": "object",
//!             "additionalProperties": false,
//!             "properties": {
//!                 "region": {"enum": ["us", "eu"], "default": "us"},
//!                 "api_key_env": {
//!                     "description": "environment variable holding the API key",
//!                     "type": "string",
//!                     "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
//!                     "default": "ACME_API_KEY"
//!                 }
//!             }
//!         })
//!     }
//!
//!     // Called with settings that passed the schema; `{}` means defaults.
//!     fn configure(settings: JsonObject) -> Result<Self, PluginError> {
//!         let mut acme = Acme::default();
//!         if let Some(Value::String(region)) = settings.get("region") {
//!             acme.region = region.clone();
//!         }
//!         if let Some(Value::String(name)) = settings.get("api_key_env") {
//!             acme.api_key_env = name.clone();
//!         }
//!         Ok(acme)
//!     }
//!
//!     fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
//!         Ok(json_object!({
//!             "exporters": {
//!                 "otlphttp/acme": {
//!                     "endpoint": format!("https://otlp.{}.acme.example", self.region),
//!                     // The collector reads the key from its environment.
//!                     "headers": { "x-acme-key": format!("${{env:{}}}", self.api_key_env) }
//!                 }
//!             }
//!         }))
//!     }
//!
//!     fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
//!         Ok(JsonObject::new()) // nothing to deploy for a hosted service
//!     }
//! }
//!
//! export_backend!(Acme);
//! # fn main() {
//! #     let eu = Acme::configure(json_object!({"region": "eu"})).unwrap();
//! #     let config = eu.otlp_exporter_config().unwrap();
//! #     assert_eq!(config["exporters"]["otlphttp/acme"]["endpoint"], "https://otlp.eu.acme.example");
//! #     assert_eq!(eu.endpoints().unwrap(), ["otlp.eu.acme.example:443"]);
//! # }
//! ```
//!
//! A backend without settings leaves out `settings_schema` and `configure`:
//! their defaults accept no settings, and the backend is its `Default` value.
//!
//! `cargo build --release` then produces `target/release/libfloe_backend_acme.so`.
//! Ship that file; users drop it into a plugin directory and
//! `floe-telemetry list` shows `acme`.
//!
//! # Rules a backend follows
//!
//! - [`TelemetryBackend::NAME`] is unique among installed plugins; the host
//!   keeps the first plugin of a name it finds and reports the others.
//! - Both calls return JSON objects. Secrets appear only as `${env:NAME}`
//!   references for the collector to resolve, never as values; a setting that
//!   names a credential is the name of an environment variable and ends in
//!   `_env` (the host refuses literal `api_key`, `token`, `password`, ...).
//! - Settings are validated by the host against
//!   [`TelemetryBackend::settings_schema`] before any call; `configure` may
//!   rely on that and still return an error for what a schema cannot say.
//! - Panics are caught at the boundary and reported to the user as errors of
//!   the plugin. Do not build plugins with `panic = "abort"`: there is then
//!   nothing to catch, and a panic ends the host process.
//! - Build with the same major version of this crate as the host you target;
//!   the API version recorded in the plugin is [`FLOE_API_VERSION`]. A plugin
//!   built for API 1.0 (no settings) still loads in a 1.1 host.

#![deny(missing_docs)]

pub mod abi;
mod backend;
mod error;
mod export;
pub mod metadata;
mod version;

pub use abi::Signals;
pub use backend::{JsonObject, PluginError, TelemetryBackend, endpoint_address};
pub use error::Error;
#[doc(hidden)]
pub use export::__private;
pub use version::{ApiVersion, CRATE_VERSION, FLOE_API_VERSION};

/// Re-exported so that backends build their values with the same `serde_json`
/// the export glue serialises with.
pub use serde_json;

/// Builds a [`JsonObject`] from a JSON literal, like [`serde_json::json!`].
///
/// # Panics
///
/// If the literal is not an object, which is a bug in the backend (and, like
/// any panic in a backend call, comes back to the host as an error).
#[macro_export]
macro_rules! json_object {
    ($($json:tt)+) => {
        match $crate::serde_json::json!($($json)+) {
            $crate::serde_json::Value::Object(object) => object,
            other => panic!("json_object! needs a JSON object, got {other}"),
        }
    };
}
