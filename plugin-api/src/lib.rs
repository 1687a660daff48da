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
//! floe-plugin-api = "~1.2"        # see "Depending on this crate" for git, path and vendored forms
//!
//! [dev-dependencies]
//! floe-plugin-test = "~0.1"       # the plugin rules, for a unit test
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
//!                 "region": {"description": "the Acme region", "enum": ["us", "eu"], "default": "us"},
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
//!
//! The `floe-plugin-test` crate checks these rules, and more, from a unit test
//! (`floe_plugin_test::assert_conforms!(Acme)`); `floe-telemetry check-plugin
//! FILE.so` applies the same rules to a built library through the host.
//!
//! # Settings
//!
//! Give every setting a `description` and a `default`, so that a backend
//! listed without `config:` works and `floe-telemetry schema NAME` documents
//! it. A setting that has no sensible default (an endpoint that replaces one
//! derived from other settings, a CA file) is optional instead: leave out
//! `default`, begin its description with `optional:` and say what happens
//! without it, and read it in `configure` as an `Option`:
//!
//! ```
//! # use floe_plugin_api::serde_json::{Value, json};
//! let endpoint = json!({
//!     "description": "optional: an OTLP/HTTP URL to send to instead of the region's; without it, https://otlp.<region>.acme.example",
//!     "type": "string"
//! });
//! # let settings = floe_plugin_api::JsonObject::new();
//! // In `configure`:
//! let endpoint: Option<String> = settings.get("endpoint").and_then(Value::as_str).map(str::to_owned);
//! # assert!(endpoint.is_none());
//! ```
//!
//! Never mark a setting `required`: the empty settings `{}` must be valid.
//!
//! # Signals
//!
//! [`TelemetryBackend::SIGNALS`] is the metadata: what `floe-telemetry list`
//! shows, read without loading the plugin, so it is a constant. When the
//! settings narrow it (a backend told to take only traces), say so in the
//! fragment's `service.pipelines`: each pipeline lists the exporters of one
//! signal, and a host composing a collector configuration puts the backend
//! only into those (see [`TelemetryBackend::otlp_exporter_config`]).
//!
//! # Depending on this crate
//!
//! Until `floe-plugin-api` is on crates.io, depend on it in one of these
//! ways; each gives the same crate, and moving to crates.io later changes
//! only the one line.
//!
//! ```toml
//! # crates.io, once published:
//! floe-plugin-api = "~1.2"
//!
//! # git: a tag of the floe-telemetry repository (cargo finds the crate in it):
//! floe-plugin-api = { git = "https://github.com/floe-data/floe-telemetry", tag = "<release tag>" }
//!
//! # a checkout next to your project; `version` keeps the pin:
//! floe-plugin-api = { path = "../floe-telemetry/plugin-api", version = "~1.2" }
//! ```
//!
//! A vendored `.crate` (what `cargo package -p floe-plugin-api` writes to
//! `target/package/`, for builds without network or repository access):
//! unpack it into your project and patch crates.io with it, so that
//! `Cargo.toml` already has its final form:
//!
//! ```toml
//! # tar xzf floe-plugin-api-1.2.0.crate -C vendor/
//! [dependencies]
//! floe-plugin-api = "~1.2"
//!
//! [patch.crates-io]
//! floe-plugin-api = { path = "vendor/floe-plugin-api-1.2.0" }
//! ```
//!
//! # Crate versions and API versions
//!
//! The crate version is not the plugin API version: the crate may change
//! (documentation, helpers, the metadata section) without changing the
//! interface. The plugin records [`FLOE_API_VERSION`]; a host accepts it when
//! the major versions are equal and the plugin's minor version is not newer
//! than the host's ([`ApiVersion::accepts`]).
//!
//! | crate | records API | loaded by hosts with API | what changed |
//! |---|---|---|---|
//! | 1.0.x | 1.0 | 1.0, 1.1, later 1.x | the first interface: metadata and the two calls |
//! | 1.1.x | 1.1 | 1.1, later 1.x | settings schema, calls with settings, signals, endpoints |
//! | 1.2.x | 1.1 | 1.1, later 1.x | the `.floe_plugin` metadata section, read without loading |
//!
//! **Pin the minor version**: `floe-plugin-api = "~1.2"`, not `"1"`. Cargo
//! resolves `"1"` to the newest 1.x, and a later 1.x crate may record a newer
//! API (1.2, say) than the hosts your users run, which refuse the plugin
//! ("upgrade floe-telemetry"). Move to a newer crate when you mean to
//! require newer hosts. [`CRATE_VERSION`] is this crate's version.
//!
//! # Shipping a library
//!
//! A release build is what users install; three things make it fit to hand
//! out as a bare `.so`:
//!
//! - **Paths.** Panic messages carry the source paths of every crate, your
//!   home directory and `~/.cargo/registry/...` included. Remap them:
//!   `RUSTFLAGS="--remap-path-prefix=$HOME/.cargo/registry/src=/cargo --remap-path-prefix=$PWD=/build" cargo build --release`.
//! - **Symbols.** `strip = "symbols"` under `[profile.release]` (or
//!   `strip --strip-unneeded` on the file) removes debug information and
//!   local symbols; the exported symbols and the `.floe_plugin` section a
//!   host needs stay (`nm -D` and `readelf -x .floe_plugin` still show them).
//!   Keep `panic = "unwind"`, the default: with `abort`, a panic ends the host.
//! - **glibc.** A library built on one system needs that system's glibc
//!   symbol versions, or newer, on the machine that loads it; the host's own
//!   binary has the same need. Built on Debian 12 (glibc 2.36), the bundled
//!   plugins need glibc 2.34 (`objdump -T libfloe_backend_jaeger.so | grep -o
//!   'GLIBC_[0-9.]*' | sort -uV | tail -1`; `pthread_key_create` moved into
//!   libc in 2.34). Build on the oldest distribution you support (in a
//!   container of it) to reach older systems; Rust itself supports glibc
//!   2.17 and later, and a plugin need not support an older glibc than the
//!   host build your users run.

#![deny(missing_docs)]

// The README's example is compiled and run with the other doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

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
