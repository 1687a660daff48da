//! The safe trait a backend author implements.

use std::fmt;

/// A JSON object: what both plugin calls return.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// A telemetry backend: where floe's OpenTelemetry data goes and how to deploy
/// what receives it.
///
/// Implement it on a plain type and export it with
/// [`export_backend!`](crate::export_backend). The constants are metadata the host
/// shows without calling anything; the two methods are called on a fresh
/// `Default` value each time, and may fail or even panic without harming the
/// host: both come back to it as an error naming the plugin.
pub trait TelemetryBackend: Default {
    /// Unique name users select the backend by: lowercase, digits and `-`,
    /// e.g. `jaeger` or `grafana-cloud`.
    const NAME: &'static str;

    /// One line saying what the backend is, shown by `floe-telemetry list`.
    const DESCRIPTION: &'static str;

    /// Whether the backend's own services run in the user's cluster (Jaeger)
    /// rather than as a hosted service (Datadog).
    const SELF_HOSTED: bool;

    /// The OpenTelemetry Collector configuration fragment that exports to this
    /// backend: an object with an `exporters` map, plus `extensions` when an
    /// exporter needs one (an authenticator, for instance).
    ///
    /// Credentials must appear only as `${env:NAME}` references, which the
    /// collector resolves at start-up; never as literal values.
    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError>;

    /// Helm values that deploy the backend's own services; an empty object
    /// when there is nothing to deploy.
    fn helm_values_override(&self) -> Result<JsonObject, PluginError>;
}

/// An error a backend reports from one of its calls.
///
/// Its message reaches the user, prefixed with the plugin's file and call, so
/// say what is wrong and what to do, in lowercase and without a final period.
#[derive(Clone, PartialEq, Eq)]
pub struct PluginError {
    message: String,
}

impl PluginError {
    /// An error carrying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message as given.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Debug for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PluginError").field(&self.message).finish()
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PluginError {}

impl From<String> for PluginError {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for PluginError {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<serde_json::Error> for PluginError {
    fn from(error: serde_json::Error) -> Self {
        Self::new(error.to_string())
    }
}
