//! The configuration file: which backends to use, and each one's settings.
//!
//! ```yaml
//! backends:
//!   - backend: datadog
//!     config:
//!       site: datadoghq.eu
//!   - backend: jaeger
//! ```
//!
//! floe's platform manifest (`apiVersion: floe.dev/v1`, `kind: Manifest`)
//! is read as a configuration too: see [`manifest`].
//!
//! YAML or JSON (JSON is YAML). This module checks the file's own shape and
//! refuses credentials written into it; each backend's settings are then
//! checked against the backend's schema (see [`crate::Catalog::configure`]).
//! Without a file, the configuration is the default backend with its
//! defaults.
//!
//! No message built here quotes a value from the file: a value in the wrong
//! place may be a secret.

use std::fmt;
use std::path::{Path, PathBuf};

use floe_plugin_api::JsonObject;
use serde::Serialize;
use serde_json::Value;

use crate::{Error, input};

mod manifest;

pub use manifest::{DEFAULT_MANIFEST_BACKEND, MANIFEST_API_VERSION, MANIFEST_KIND};

/// The environment variable naming the configuration file when `-c` is not
/// given.
pub const CONFIG_ENV: &str = "FLOE_TELEMETRY_CONFIG";

/// A configuration of every backend there is fits in far less; anything
/// longer is refused before it fills the memory.
pub(crate) const MAX_CONFIG_FILE: u64 = 16 << 20;

/// The backend used when there is no configuration file.
pub const DEFAULT_BACKEND: &str = "jaeger";

/// One thing wrong with a configuration, at one place in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Where, e.g. `backends[1].config.site`.
    pub path: String,
    /// What is wrong, and what to do.
    pub message: String,
}

impl Violation {
    /// A violation at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// One entry of `backends:` (or a manifest's `plugins.telemetry_backend`).
#[derive(Debug, Clone, PartialEq)]
pub struct BackendEntry {
    /// Where it is in the file: `backends[N]`, or
    /// `plugins.telemetry_backend` in a manifest.
    pub path: String,
    /// The backend's name.
    pub backend: String,
    /// Its settings, `{}` when it has no `config:`.
    pub settings: JsonObject,
    /// The Kubernetes Secret holding the backend's credentials, when named.
    pub connection_secret_ref: Option<String>,
    /// The plugin version the file pins (manifests only), `X.Y.Z`.
    pub version: Option<String>,
}

impl BackendEntry {
    /// The Secret the backend's credentials come from: the one named, or
    /// `floe-telemetry-<backend>`.
    pub fn secret_name(&self) -> String {
        self.connection_secret_ref
            .clone()
            .unwrap_or_else(|| default_secret_name(&self.backend))
    }
}

/// The Secret a backend's credentials come from when the configuration
/// names none.
pub fn default_secret_name(backend: &str) -> String {
    format!("floe-telemetry-{backend}")
}

/// The backends to use and their settings, and what is wrong with the file.
///
/// A file with violations still yields the entries that could be read, so
/// that their settings can be checked too and every problem reported at once;
/// [`crate::Catalog::configure`] refuses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    file: Option<PathBuf>,
    backends: Vec<BackendEntry>,
    violations: Vec<Violation>,
    /// The backend selected when the configuration lists none: jaeger
    /// without a file, console for a manifest without a telemetry backend.
    fallback: Option<&'static str>,
}

impl Default for Config {
    /// No file: no entries, so every backend has its defaults, and the
    /// default backend is the one selected.
    fn default() -> Self {
        Self {
            file: None,
            backends: Vec::new(),
            violations: Vec::new(),
            fallback: Some(DEFAULT_BACKEND),
        }
    }
}

impl Config {
    /// Reads and checks the file at `file`.
    pub fn load(file: &Path) -> Result<Config, Error> {
        let text = input::read_regular_text(file, MAX_CONFIG_FILE).map_err(|error| Error::ConfigUnreadable {
            file: file.to_owned(),
            reason: format!("cannot read the configuration file: {error}; check the path given with -c or {CONFIG_ENV}"),
        })?;
        Config::parse(&text, file)
    }

    /// Parses and checks `text`, the contents of `file`. Only a file that is
    /// not YAML at all is an error here; see [`Config::violations`].
    pub fn parse(text: &str, file: &Path) -> Result<Config, Error> {
        let document: Value =
            serde_norway::from_str(text).map_err(|error| Error::ConfigUnreadable {
                file: file.to_owned(),
                reason: format!(
                    "not a YAML or JSON document ({}); fix its syntax",
                    first_line(&error.to_string())
                ),
            })?;
        let mut violations = Vec::new();
        let (backends, fallback) = if manifest::is_manifest(&document) {
            let entry = manifest::read(&document, &mut violations);
            let fallback = entry.is_none().then_some(DEFAULT_MANIFEST_BACKEND);
            (entry.into_iter().collect(), fallback)
        } else {
            (read_document(&document, &mut violations), None)
        };
        Ok(Config {
            file: Some(file.to_owned()),
            backends,
            violations,
            fallback,
        })
    }

    /// Adds a violation for every entry that pins a version other than the
    /// installed plugin's; `installed` gives a backend's installed version,
    /// `None` when it is not installed (which is reported elsewhere).
    pub fn check_versions(&mut self, installed: impl Fn(&str) -> Option<String>) {
        for entry in &self.backends {
            let (Some(pinned), Some(found)) = (&entry.version, installed(&entry.backend)) else {
                continue;
            };
            if *pinned != found {
                self.violations.push(Violation::new(
                    format!("{}.version", entry.path),
                    format!(
                        "pins {} {pinned}, but the installed {} plugin is {found}; install \
                         {pinned} or change the pin to {found}",
                        entry.backend, entry.backend
                    ),
                ));
            }
        }
    }

    /// What is wrong with the file itself: its shape, and credentials
    /// written into it. Settings are checked against their schemas later.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// The file read, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// How to name the configuration in a message: its file, or what stands
    /// in for one.
    pub fn source_name(&self) -> String {
        match &self.file {
            Some(file) => file.display().to_string(),
            None => "default configuration (no configuration file)".to_owned(),
        }
    }

    /// The backends listed, in order; none without a file.
    pub fn backends(&self) -> &[BackendEntry] {
        &self.backends
    }

    /// The names of the backends selected: those listed, or the default
    /// backend when there is no file (console for a manifest that names no
    /// telemetry backend).
    pub fn selected(&self) -> Vec<&str> {
        match self.fallback {
            Some(fallback) if self.backends.is_empty() => vec![fallback],
            _ => self
                .backends
                .iter()
                .map(|entry| entry.backend.as_str())
                .collect(),
        }
    }

    /// The entry of backend `name`, if listed.
    pub fn entry(&self, name: &str) -> Option<&BackendEntry> {
        self.backends.iter().find(|entry| entry.backend == name)
    }

    /// The settings backend `name` is called with: its entry's, or none
    /// (its defaults) when it has no entry.
    pub fn settings_of(&self, name: &str) -> JsonObject {
        self.entry(name)
            .map(|entry| entry.settings.clone())
            .unwrap_or_default()
    }
}

fn read_document(document: &Value, violations: &mut Vec<Violation>) -> Vec<BackendEntry> {
    let Value::Object(top) = document else {
        violations.push(Violation::new(
            "(document)",
            format!(
                "expected a mapping with `backends:`, found {}",
                json_type(document)
            ),
        ));
        return Vec::new();
    };
    for key in top.keys().filter(|key| *key != "backends") {
        violations.push(Violation::new(
            key.as_str(),
            "unknown key; the file takes only `backends:`",
        ));
    }
    let list = match top.get("backends") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => {
            violations.push(Violation::new(
                "backends",
                "lists no backend; add one, e.g. `- backend: jaeger`",
            ));
            return Vec::new();
        }
        Some(other) => {
            violations.push(Violation::new(
                "backends",
                format!("expected a list of entries, found {}", json_type(other)),
            ));
            return Vec::new();
        }
        None => {
            violations.push(Violation::new(
                "backends",
                "missing; list the backends to use, e.g. `backends: [{backend: jaeger}]`",
            ));
            return Vec::new();
        }
    };
    let mut entries: Vec<BackendEntry> = Vec::new();
    for (index, item) in list.iter().enumerate() {
        let path = format!("backends[{index}]");
        if let Some(entry) = read_entry(&path, item, violations) {
            if let Some(first) = entries.iter().find(|e| e.backend == entry.backend) {
                violations.push(Violation::new(
                    format!("{path}.backend"),
                    format!(
                        "{:?} is already listed at {}; list each backend once",
                        entry.backend, first.path
                    ),
                ));
            } else {
                entries.push(entry);
            }
        }
    }
    entries
}

fn read_entry(path: &str, item: &Value, violations: &mut Vec<Violation>) -> Option<BackendEntry> {
    let Value::Object(fields) = item else {
        violations.push(Violation::new(
            path,
            format!(
                "expected a mapping such as `{{backend: jaeger, config: {{...}}}}`, found {}",
                json_type(item)
            ),
        ));
        return None;
    };
    for key in fields
        .keys()
        .filter(|k| !matches!(k.as_str(), "backend" | "config" | "connection_secret_ref"))
    {
        violations.push(Violation::new(
            format!("{path}.{key}"),
            "unknown key; an entry takes `backend:`, `config:` and `connection_secret_ref:` \
             (settings go under `config:`)",
        ));
    }
    let backend = match fields.get("backend") {
        Some(Value::String(name)) => Some(name.clone()),
        Some(other) => {
            violations.push(Violation::new(
                format!("{path}.backend"),
                format!(
                    "expected a backend name, found {}; see `floe-telemetry list`",
                    json_type(other)
                ),
            ));
            None
        }
        None => {
            violations.push(Violation::new(
                format!("{path}.backend"),
                "missing; name the backend, as `floe-telemetry list` shows it",
            ));
            None
        }
    };
    let connection_secret_ref = secret_ref(
        &format!("{path}.connection_secret_ref"),
        fields.get("connection_secret_ref"),
        violations,
    );
    let mut settings = match fields.get("config") {
        None | Some(Value::Null) => JsonObject::new(),
        Some(Value::Object(settings)) => settings.clone(),
        Some(other) => {
            violations.push(Violation::new(
                format!("{path}.config"),
                format!("expected a mapping of settings, found {}", json_type(other)),
            ));
            JsonObject::new()
        }
    };
    // Refused here, and removed, so that the schema check neither reports
    // them again nor sees their values.
    strip_credentials(&format!("{path}.config"), &mut settings, violations);
    Some(BackendEntry {
        path: path.to_owned(),
        backend: backend?,
        settings,
        connection_secret_ref,
        version: None,
    })
}

/// The longest Kubernetes Secret name (a DNS subdomain).
const SECRET_NAME_MAX: usize = 253;

/// A `connection_secret_ref`, checked as floe's manifest checks it: at most
/// 253 characters of lowercase letters, digits and `-`, starting and ending
/// with a letter or digit. `None` when absent or refused.
fn secret_ref(
    path: &str,
    value: Option<&Value>,
    violations: &mut Vec<Violation>,
) -> Option<String> {
    let name = match value {
        None | Some(Value::Null) => return None,
        Some(Value::String(name)) => name,
        Some(other) => {
            violations.push(Violation::new(
                path,
                format!(
                    "expected the name of a Kubernetes Secret, found {}",
                    json_type(other)
                ),
            ));
            return None;
        }
    };
    if is_secret_name(name) {
        return Some(name.clone());
    }
    // The name is not quoted: whoever got the key wrong may have put the
    // credential itself here.
    violations.push(Violation::new(
        path,
        format!(
            "not a Kubernetes Secret name ({} characters): use at most {SECRET_NAME_MAX} \
             lowercase letters, digits and `-`, starting and ending with a letter or digit, \
             e.g. `datadog-credentials`",
            name.chars().count()
        ),
    ));
    None
}

/// Whether `name` matches `^[a-z0-9][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$` and has
/// at most 253 characters.
pub fn is_secret_name(name: &str) -> bool {
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            bytes.len() <= SECRET_NAME_MAX
                && edge(first)
                && edge(last)
                && bytes.iter().all(|&c| edge(c) || c == b'-')
        }
        _ => false,
    }
}

/// Refuses, and removes, every key at any depth that looks like a credential
/// written as a value. Its value is never read, let alone quoted.
fn strip_credentials(path: &str, settings: &mut JsonObject, out: &mut Vec<Violation>) {
    settings.retain(|key, value| {
        let key_path = format!("{path}.{key}");
        if is_credential_key(key) {
            out.push(Violation::new(
                key_path,
                format!(
                    "looks like a credential, and credentials are never written in a \
                     configuration file; put it in an environment variable of the collector and \
                     give that variable's name instead: `{}_env: VAR_NAME` (rendered as \
                     ${{env:VAR_NAME}})",
                    env_setting_stem(key)
                ),
            ));
            return false;
        }
        match value {
            Value::Object(inner) => strip_credentials(&key_path, inner, out),
            Value::Array(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    if let Value::Object(inner) = item {
                        strip_credentials(&format!("{key_path}[{index}]"), inner, out);
                    }
                }
            }
            _ => {}
        }
        true
    });
}

/// The usual spelling of credential `key`, to which backends add `_env` for
/// the setting naming its variable: `apikey` and `api-key` are `api_key`.
fn env_setting_stem(key: &str) -> String {
    let key = key
        .trim_end_matches(['_', '-'])
        .to_ascii_lowercase()
        .replace('-', "_");
    for (run_together, spelt) in [("apikey", "api_key"), ("instanceid", "instance_id")] {
        if let Some(stem) = key.strip_suffix(run_together) {
            return format!("{stem}{spelt}");
        }
    }
    key
}

/// Whether `key` names a credential rather than where to find one: `api_key`,
/// `token`, `password`, `secret`, `instance_id`, ... but not `api_key_env`.
pub fn is_credential_key(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "key",
        "apikey",
        "token",
        "password",
        "passwd",
        "pass",
        "secret",
        "credential",
        "credentials",
        "instance_id",
        "instanceid",
        "basic_auth",
        "authorization",
        "bearer",
    ];
    const SUFFIXES: &[&str] = &[
        "_key",
        "_token",
        "_password",
        "_passwd",
        "_secret",
        "_credential",
        "_credentials",
        "_instance_id",
        "_apikey",
    ];
    let key = key.to_ascii_lowercase().replace('-', "_");
    if key.ends_with("_env") {
        return false;
    }
    EXACT.contains(&key.as_str()) || SUFFIXES.iter().any(|suffix| key.ends_with(suffix))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(text, Path::new("/etc/floe/telemetry.yaml"))
    }

    fn violations(text: &str) -> Vec<String> {
        let config = parse(text).unwrap();
        config
            .violations()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn no_file_is_jaeger_with_defaults() {
        let config = Config::default();
        assert_eq!(config.selected(), ["jaeger"]);
        assert!(config.backends().is_empty());
        assert!(config.entry("jaeger").is_none());
        assert!(config.file().is_none());
    }

    #[test]
    fn yaml_and_json_read_alike() {
        let yaml = parse("backends:\n  - backend: datadog\n    config:\n      site: datadoghq.eu\n  - backend: jaeger\n").unwrap();
        let json = parse(r#"{"backends": [{"backend": "datadog", "config": {"site": "datadoghq.eu"}}, {"backend": "jaeger"}]}"#).unwrap();
        assert_eq!(yaml.backends(), json.backends());
        let datadog = yaml.entry("datadog").unwrap();
        assert_eq!(datadog.path, "backends[0]");
        assert_eq!(datadog.settings["site"], "datadoghq.eu");
        assert!(yaml.entry("jaeger").unwrap().settings.is_empty());
        assert!(yaml.entry("grafana-cloud").is_none());
        assert_eq!(yaml.selected(), ["datadog", "jaeger"]);
    }

    #[test]
    fn unknown_keys_and_duplicates_are_violations() {
        assert_eq!(
            violations(
                "backend: x\nbackends:\n  - backend: jaeger\n    settings: {}\n  - backend: datadog\n  - backend: datadog\n"
            ),
            [
                "backend: unknown key; the file takes only `backends:`",
                "backends[0].settings: unknown key; an entry takes `backend:`, `config:` and `connection_secret_ref:` (settings go under `config:`)",
                "backends[2].backend: \"datadog\" is already listed at backends[1]; list each backend once",
            ]
        );
    }

    #[test]
    fn shapes_are_checked_without_quoting_values() {
        let found = violations("backends:\n  - backend: 7\n    config: hunter2\n  - 3\n");
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().all(|v| !v.contains("hunter2")), "{found:?}");
        assert_eq!(violations("[]").len(), 1);
        assert_eq!(violations("backends: []").len(), 1);
        assert_eq!(violations("other: 1").len(), 2);
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let error = parse("backends: [").unwrap_err().to_string();
        assert!(
            error.starts_with("/etc/floe/telemetry.yaml: not a YAML or JSON document"),
            "{error}"
        );
    }

    #[test]
    fn literal_credentials_are_refused_without_their_value() {
        let found = violations(
            "backends:\n  - backend: datadog\n    config:\n      api_key: s3cr3t-value\n      nested: {token: s3cr3t-value}\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("backends[0].config.api_key: looks like a credential"));
        assert!(found[0].contains("`api_key_env: VAR_NAME`"), "{found:?}");
        assert!(
            found[1].starts_with("backends[0].config.nested.token:"),
            "{found:?}"
        );
        assert!(found.iter().all(|v| !v.contains("s3cr3t")), "{found:?}");
        let config = parse(
            "backends:\n  - backend: datadog\n    config: {api_key: x, site: datadoghq.eu}\n",
        )
        .unwrap();
        let settings = &config.entry("datadog").unwrap().settings;
        assert_eq!(settings.keys().collect::<Vec<_>>(), ["site"]);
    }

    #[test]
    fn connection_secret_refs_default_per_backend_and_are_checked() {
        let config = parse(
            "backends:\n  - backend: datadog\n    connection_secret_ref: dd-credentials\n  - backend: grafana-cloud\n",
        )
        .unwrap();
        assert!(config.violations().is_empty(), "{:?}", config.violations());
        assert_eq!(
            config.entry("datadog").unwrap().secret_name(),
            "dd-credentials"
        );
        assert_eq!(
            config.entry("grafana-cloud").unwrap().secret_name(),
            "floe-telemetry-grafana-cloud"
        );
        assert_eq!(
            violations(
                "backends:\n  - backend: datadog\n    connection_secret_ref: Sup3r_Secret\n"
            ),
            [
                "backends[0].connection_secret_ref: not a Kubernetes Secret name (12 characters): \
              use at most 253 lowercase letters, digits and `-`, starting and ending with a \
              letter or digit, e.g. `datadog-credentials`"
            ]
        );
        assert_eq!(
            violations("backends:\n  - backend: datadog\n    connection_secret_ref: [a]\n").len(),
            1
        );
    }

    #[test]
    fn secret_names() {
        let longest = "a".repeat(253);
        for good in ["a", "0", "dd-credentials", "a-b-c", longest.as_str()] {
            assert!(is_secret_name(good), "{good}");
        }
        let too_long = "a".repeat(254);
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "a b", too_long.as_str()] {
            assert!(!is_secret_name(bad), "{bad}");
        }
    }

    #[test]
    fn credential_keys() {
        for key in [
            "api_key",
            "API_KEY",
            "token",
            "password",
            "secret",
            "instance_id",
            "api-token",
            "client_secret",
            "apikey",
            "key",
        ] {
            assert!(is_credential_key(key), "{key}");
        }
        for key in [
            "api_key_env",
            "instance_id_env",
            "site",
            "endpoint",
            "ca_file",
            "keyspace",
            "tokens_per_second",
            "signals",
        ] {
            assert!(!is_credential_key(key), "{key}");
        }
    }
}
