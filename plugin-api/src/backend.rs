//! The safe trait a backend author implements.

use std::fmt;

use crate::abi::Signals;

/// A JSON object: what the plugin calls return, and the settings they take.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// A telemetry backend: where floe's OpenTelemetry data goes and how to deploy
/// what receives it.
///
/// Implement it on a plain type and export it with
/// [`export_backend!`](crate::export_backend). The constants are metadata the host
/// shows without calling anything. For each call the host makes, the backend
/// is built afresh by [`configure`](Self::configure) from the user's settings,
/// which the host has already checked against
/// [`settings_schema`](Self::settings_schema). Any method may fail or even
/// panic without harming the host: both come back to it as an error naming the
/// plugin.
///
/// A backend without settings implements only the constants and the two
/// output methods; the defaults of the other items describe exactly that.
pub trait TelemetryBackend: Default {
    /// Unique name users select the backend by: lowercase, digits and `-`,
    /// e.g. `jaeger` or `grafana-cloud`.
    const NAME: &'static str;

    /// One line saying what the backend is, shown by `floe-telemetry list`.
    const DESCRIPTION: &'static str;

    /// Whether the backend's own services run in the user's cluster (Jaeger)
    /// rather than as a hosted service (Datadog).
    const SELF_HOSTED: bool;

    /// The telemetry signals the backend accepts; all three unless said
    /// otherwise. `floe-telemetry list` shows them.
    const SIGNALS: Signals = Signals::ALL;

    /// The JSON Schema (draft 2020-12) of the backend's settings.
    ///
    /// The host validates the user's settings against it before calling
    /// [`configure`](Self::configure), and `floe-telemetry schema NAME`
    /// prints it. Close every object with `"additionalProperties": false` so
    /// that a misspelt key is an error, use `enum` for closed sets, and give
    /// each property a `description` and its `default`, or, for a setting
    /// without one, a description that begins with `optional:` and says what
    /// happens without it (see the crate documentation, "Settings"). `{}`
    /// must be valid: no setting is `required`.
    ///
    /// Credentials are never settings: take the *name* of an environment
    /// variable instead (a key ending in `_env`), and emit `${env:NAME}`.
    ///
    /// The default accepts only an empty object: no settings.
    fn settings_schema() -> JsonObject {
        crate::json_object!({
            "type": "object",
            "properties": {},
            "additionalProperties": false
        })
    }

    /// Builds the backend from validated settings; `{}` means all defaults.
    ///
    /// The default accepts only `{}`, and returns `Self::default()`.
    fn configure(settings: JsonObject) -> Result<Self, PluginError> {
        if settings.is_empty() {
            Ok(Self::default())
        } else {
            Err(PluginError::new(format!(
                "{} takes no settings; remove its `config:`",
                Self::NAME
            )))
        }
    }

    /// The OpenTelemetry Collector configuration fragment that exports to this
    /// backend, for the settings `self` was configured with.
    ///
    /// The fragment is part of a collector configuration, and holds only
    /// what a backend contributes; the host adds it to the user's receivers,
    /// processors and pipelines (`floe-telemetry render collector`):
    ///
    /// - `exporters` (required): a map from component id to the exporter's
    ///   settings. Ids are `type` or `type/name` (`otlphttp/acme`); name them
    ///   after the backend, so that they rarely collide with others (a host
    ///   renames a colliding id, and the references to it, apart).
    /// - `extensions` (optional): a map from id to settings, for what the
    ///   exporters use, such as an authenticator (`basicauth/acme`) named in
    ///   an exporter's `auth.authenticator`.
    /// - `service.extensions` (optional): ids of the fragment's extensions.
    ///   The collector starts only the extensions listed there; a host lists
    ///   every extension a fragment defines anyway.
    /// - `service.pipelines` (optional): a map from pipeline id (`traces`,
    ///   `metrics`, `logs`, or `<signal>/<name>`) to `{"exporters": [ids]}`:
    ///   which of the fragment's exporters serve which signal. Without it,
    ///   each exporter serves every signal in [`SIGNALS`](Self::SIGNALS). Give
    ///   it when the settings narrow the signals, or when exporters differ
    ///   per signal. Pipelines name only exporters of this fragment and only
    ///   signals in `SIGNALS`; receivers and processors are the user's.
    ///
    /// Nothing else: no `receivers`, `processors`, `connectors` or other
    /// `service` keys. Credentials appear only as `${env:NAME}` references,
    /// which the collector resolves from its environment when it starts;
    /// never as values.
    ///
    /// ```
    /// use floe_plugin_api::{JsonObject, PluginError, Signals, TelemetryBackend, json_object};
    ///
    /// /// Traces and logs to Acme, authenticated by an extension.
    /// #[derive(Default)]
    /// struct Acme;
    ///
    /// impl TelemetryBackend for Acme {
    ///     const NAME: &'static str = "acme";
    ///     const DESCRIPTION: &'static str = "Acme Observability Cloud";
    ///     const SELF_HOSTED: bool = false;
    ///     const SIGNALS: Signals = Signals::ALL;
    ///
    ///     fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
    ///         Ok(json_object!({
    ///             "exporters": {
    ///                 "otlphttp/acme": {
    ///                     "endpoint": "https://otlp.acme.example",
    ///                     "auth": {"authenticator": "bearertokenauth/acme"}
    ///                 }
    ///             },
    ///             "extensions": {
    ///                 "bearertokenauth/acme": {"token": "${env:ACME_TOKEN}"}
    ///             },
    ///             "service": {
    ///                 "extensions": ["bearertokenauth/acme"],
    ///                 // Of the three signals it accepts, these settings send two.
    ///                 "pipelines": {
    ///                     "traces": {"exporters": ["otlphttp/acme"]},
    ///                     "logs": {"exporters": ["otlphttp/acme"]}
    ///                 }
    ///             }
    ///         }))
    ///     }
    ///
    ///     fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
    ///         Ok(JsonObject::new())
    ///     }
    /// }
    ///
    /// let fragment = Acme.otlp_exporter_config()?;
    /// assert_eq!(fragment["service"]["pipelines"].as_object().unwrap().len(), 2);
    /// # Ok::<(), PluginError>(())
    /// ```
    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError>;

    /// Helm values that deploy the backend's own services; an empty object
    /// when there is nothing to deploy.
    fn helm_values_override(&self) -> Result<JsonObject, PluginError>;

    /// The network addresses, as `host:port`, the collector connects to with
    /// these settings; `floe-telemetry check-connection` tries each.
    ///
    /// The default reads every `endpoint` of every exporter in
    /// [`otlp_exporter_config`](Self::otlp_exporter_config), through
    /// [`endpoint_address`]. Override it when the exporter derives its
    /// addresses from other fields (a site name, say).
    fn endpoints(&self) -> Result<Vec<String>, PluginError> {
        let config = self.otlp_exporter_config()?;
        let mut endpoints = Vec::new();
        let exporters = config.get("exporters").and_then(|e| e.as_object());
        for exporter in exporters.into_iter().flat_map(|e| e.values()) {
            if let Some(endpoint) = exporter.get("endpoint").and_then(|e| e.as_str()) {
                let address = endpoint_address(endpoint).ok_or_else(|| {
                    PluginError::new(format!("cannot tell host and port of {endpoint:?}"))
                })?;
                if !endpoints.contains(&address) {
                    endpoints.push(address);
                }
            }
        }
        Ok(endpoints)
    }
}

/// The `host:port` an exporter endpoint connects to: `host:port` as is, or
/// the authority of an `http://` / `https://` URL, with the scheme's port
/// (80, 443) when it names none. `None` when neither form fits.
///
/// ```
/// use floe_plugin_api::endpoint_address;
///
/// assert_eq!(endpoint_address("jaeger-collector:4317").as_deref(), Some("jaeger-collector:4317"));
/// assert_eq!(
///     endpoint_address("https://otlp-gateway-prod-eu-west-2.grafana.net/otlp").as_deref(),
///     Some("otlp-gateway-prod-eu-west-2.grafana.net:443")
/// );
/// assert_eq!(endpoint_address("http://10.0.0.7:4318").as_deref(), Some("10.0.0.7:4318"));
/// assert_eq!(endpoint_address("no port"), None);
/// ```
pub fn endpoint_address(endpoint: &str) -> Option<String> {
    let (authority, default_port) = if let Some(rest) = endpoint.strip_prefix("https://") {
        (rest, Some(443))
    } else if let Some(rest) = endpoint.strip_prefix("http://") {
        (rest, Some(80))
    } else {
        (endpoint, None)
    };
    let authority = authority.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains(['@', ' ']) {
        return None;
    }
    // An IPv6 literal keeps its brackets: `[::1]:4317`.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => port.parse::<u16>().ok()?,
        None => default_port?,
    };
    Some(format!("{host}:{port}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Plain;

    impl TelemetryBackend for Plain {
        const NAME: &'static str = "plain";
        const DESCRIPTION: &'static str = "no settings";
        const SELF_HOSTED: bool = true;

        fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
            Ok(crate::json_object!({"exporters": {
                "otlp/a": {"endpoint": "collector:4317"},
                "otlphttp/b": {"endpoint": "https://intake.example/otlp"},
                "otlp/again": {"endpoint": "collector:4317"},
                "debug": {}
            }}))
        }

        fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
            Ok(JsonObject::new())
        }
    }

    #[test]
    fn a_backend_without_settings_takes_only_an_empty_object() {
        assert!(Plain::configure(JsonObject::new()).is_ok());
        let error = Plain::configure(crate::json_object!({"x": 1}))
            .err()
            .unwrap();
        assert!(error.message().contains("takes no settings"), "{error}");
        let schema = Plain::settings_schema();
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(Plain::SIGNALS, Signals::ALL);
    }

    #[test]
    fn default_endpoints_come_from_the_exporters_once_each() {
        assert_eq!(
            Plain.endpoints().unwrap(),
            ["collector:4317", "intake.example:443"]
        );
    }

    #[test]
    fn endpoint_addresses() {
        for (endpoint, address) in [
            ("host:1", Some("host:1")),
            ("http://host", Some("host:80")),
            ("https://host:8443/x?y#z", Some("host:8443")),
            ("[::1]:4317", Some("[::1]:4317")),
            ("https://[::1]/otlp", Some("[::1]:443")),
            ("host", None),
            ("host:99999", None),
            (":4317", None),
            ("https://user:pw@host", None),
            ("", None),
        ] {
            assert_eq!(endpoint_address(endpoint).as_deref(), address, "{endpoint}");
        }
    }

    #[test]
    fn signal_names() {
        assert_eq!(Signals::ALL.names(), ["traces", "metrics", "logs"]);
        assert_eq!(
            Signals::TRACES.union(Signals::LOGS).names(),
            ["traces", "logs"]
        );
        assert_eq!(Signals::from_name("metrics"), Some(Signals::METRICS));
        assert_eq!(Signals::from_name("profiles"), None);
    }
}
