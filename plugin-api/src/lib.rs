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
//! `src/lib.rs`:
//!
//! ```
//! use floe_plugin_api::{JsonObject, PluginError, TelemetryBackend, export_backend, json_object};
//!
//! #[derive(Default)]
//! pub struct Acme;
//!
//! impl TelemetryBackend for Acme {
//!     const NAME: &'static str = "acme";
//!     const DESCRIPTION: &'static str = "Acme Observability Cloud over OTLP/HTTP";
//!     const SELF_HOSTED: bool = false;
//!
//!     fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
//!         Ok(json_object!({
//!             "exporters": {
//!                 "otlphttp/acme": {
//!                     "endpoint": "https://otlp.acme.example",
//!                     "headers": { "x-acme-key": "${env:ACME_API_KEY}" }
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
//! #     let config = Acme.otlp_exporter_config().unwrap();
//! #     assert!(config["exporters"]["otlphttp/acme"]["endpoint"].is_string());
//! # }
//! ```
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
//!   references for the collector to resolve, never as values.
//! - Panics are caught at the boundary and reported to the user as errors of
//!   the plugin. Do not build plugins with `panic = "abort"`: there is then
//!   nothing to catch, and a panic ends the host process.
//! - Build with the same major version of this crate as the host you target;
//!   the API version recorded in the plugin is [`FLOE_API_VERSION`].

#![deny(missing_docs)]

pub mod abi;
mod backend;
mod error;
mod export;
mod version;

pub use backend::{JsonObject, PluginError, TelemetryBackend};
pub use error::Error;
#[doc(hidden)]
pub use export::__private;
pub use version::{ApiVersion, FLOE_API_VERSION};

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
