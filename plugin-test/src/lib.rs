//! Conformance checks for floe-telemetry backend plugins.
//!
//! The rules a backend must follow to be a good citizen of every host:
//! a closed, documented settings schema; defaults that work; JSON objects
//! out of both calls; collector component ids the collector accepts; no
//! credential written into the output; a fragment whose pipelines name its
//! own exporters and declared signals; no Helm values from a hosted backend;
//! metadata that agrees with the module.
//!
//! Two ways to run them, one set of rules:
//!
//! - in a unit test of the plugin crate, on the backend type, without
//!   building a library: [`assert_conforms!`] (or [`check`] for the
//!   [`Report`]);
//! - on a built `.so`, through the host's real loader and in a process of
//!   its own: `floe-telemetry check-plugin FILE.so`, which also composes the
//!   fragment with the bundled backends ([`Compose`]).
//!
//! ```
//! use floe_plugin_api::{JsonObject, PluginError, TelemetryBackend, json_object};
//!
//! #[derive(Default)]
//! struct Acme;
//!
//! impl TelemetryBackend for Acme {
//!     const NAME: &'static str = "acme";
//!     const DESCRIPTION: &'static str = "Acme Observability Cloud";
//!     const SELF_HOSTED: bool = false;
//!
//!     fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
//!         Ok(json_object!({"exporters": {"otlphttp/acme": {
//!             "endpoint": "https://otlp.acme.example",
//!             "headers": {"x-acme-key": "${env:ACME_API_KEY}"}
//!         }}}))
//!     }
//!
//!     fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
//!         Ok(JsonObject::new())
//!     }
//! }
//!
//! // In a plugin crate, inside `#[test] fn conforms() { ... }`:
//! floe_plugin_test::assert_conforms!(Acme);
//! ```

#![deny(missing_docs)]

mod fragment;
mod report;
mod rules;
mod schema;
mod subject;

pub use report::{Report, RuleResult, Verdict};
pub use rules::{Compose, RULES, Rule, is_backend_name, run};
pub use subject::{Answer, Declared, Subject, check};

/// The version of this crate.
pub const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Checks backend type `$backend` against every rule and panics with the
/// whole report when one fails; for a `#[test]` of the plugin crate.
///
/// It records the version of the crate it is invoked in, as
/// `export_backend!` does.
#[macro_export]
macro_rules! assert_conforms {
    ($backend:ty) => {
        $crate::check::<$backend>(env!("CARGO_PKG_VERSION")).assert_passed()
    };
}
