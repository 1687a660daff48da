//! floe's platform manifest as a configuration file.
//!
//! ```yaml
//! apiVersion: floe.dev/v1
//! kind: Manifest
//! plugins:
//!   telemetry_backend:
//!     type: datadog
//!     version: "0.1.0"
//!     connection_secret_ref: datadog-credentials
//!     config:
//!       site: datadoghq.eu
//! ```
//!
//! Only `plugins.telemetry_backend` is read, under the rules floe applies to
//! a plugin selection: `type` (required), `version` (`X.Y.Z`), `config` and
//! `connection_secret_ref`, nothing else. The rest of the manifest belongs to
//! other parts of floe and is not looked at, so what it holds (the catalog's
//! credentials, say) is neither checked nor refused here. A manifest that
//! selects no telemetry backend gets floe's default, console.

use serde_json::Value;

use super::{BackendEntry, Violation, json_type, secret_ref, strip_credentials};

/// The `apiVersion` of the manifests read.
pub const MANIFEST_API_VERSION: &str = "floe.dev/v1";

/// The `kind` of a platform manifest.
pub const MANIFEST_KIND: &str = "Manifest";

/// The backend of a manifest that selects none: floe's own default.
pub const DEFAULT_MANIFEST_BACKEND: &str = "console";

/// Where the selection is in a manifest.
const SELECTION: &str = "plugins.telemetry_backend";

/// A plugin selection's keys.
const SELECTION_KEYS: [&str; 4] = ["type", "version", "config", "connection_secret_ref"];

/// Whether `document` is a manifest rather than a configuration file: it
/// says what it is with `apiVersion` or `kind`, which a configuration file
/// never has.
pub(super) fn is_manifest(document: &Value) -> bool {
    document
        .as_object()
        .is_some_and(|top| top.contains_key("apiVersion") || top.contains_key("kind"))
}

/// The backend `document` selects, if it names one; what is wrong goes to
/// `violations`.
pub(super) fn read(document: &Value, violations: &mut Vec<Violation>) -> Option<BackendEntry> {
    let top = document.as_object()?;
    for (key, expected) in [
        ("apiVersion", MANIFEST_API_VERSION),
        ("kind", MANIFEST_KIND),
    ] {
        if top.get(key).and_then(Value::as_str) != Some(expected) {
            violations.push(Violation::new(
                key,
                format!("expected `{key}: {expected}` (a floe platform manifest)"),
            ));
        }
    }
    let selection = match top.get("plugins") {
        None | Some(Value::Null) => return None,
        Some(Value::Object(plugins)) => plugins.get("telemetry_backend")?,
        Some(other) => {
            violations.push(Violation::new(
                "plugins",
                format!(
                    "expected a mapping of plugin categories, found {}",
                    json_type(other)
                ),
            ));
            return None;
        }
    };
    let fields = match selection {
        Value::Null => return None,
        Value::Object(fields) => fields,
        other => {
            violations.push(Violation::new(
                SELECTION,
                format!(
                    "expected a mapping such as `{{type: datadog, config: {{...}}}}`, found {}",
                    json_type(other)
                ),
            ));
            return None;
        }
    };
    for key in fields
        .keys()
        .filter(|key| !SELECTION_KEYS.contains(&key.as_str()))
    {
        violations.push(Violation::new(
            format!("{SELECTION}.{key}"),
            "unknown key; a plugin selection takes `type`, `version`, `config` and \
             `connection_secret_ref` (settings go under `config`)",
        ));
    }
    let backend = match fields.get("type") {
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.trim().to_owned()),
        Some(Value::String(_)) => {
            violations.push(Violation::new(
                format!("{SELECTION}.type"),
                "is blank; name the backend, as `floe-telemetry list` shows it",
            ));
            None
        }
        Some(other) => {
            violations.push(Violation::new(
                format!("{SELECTION}.type"),
                format!("expected a backend name, found {}", json_type(other)),
            ));
            None
        }
        None => {
            violations.push(Violation::new(
                format!("{SELECTION}.type"),
                "missing; name the backend, as `floe-telemetry list` shows it",
            ));
            None
        }
    };
    let version = match fields.get("version") {
        None | Some(Value::Null) => None,
        Some(Value::String(version)) if is_release_version(version) => Some(version.clone()),
        Some(_) => {
            violations.push(Violation::new(
                format!("{SELECTION}.version"),
                "expected a version `X.Y.Z` as a string, e.g. \"0.1.0\" (quote it in YAML)",
            ));
            None
        }
    };
    let connection_secret_ref = secret_ref(
        &format!("{SELECTION}.connection_secret_ref"),
        fields.get("connection_secret_ref"),
        violations,
    );
    let mut settings = match fields.get("config") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(settings)) => settings.clone(),
        Some(other) => {
            violations.push(Violation::new(
                format!("{SELECTION}.config"),
                format!("expected a mapping of settings, found {}", json_type(other)),
            ));
            serde_json::Map::new()
        }
    };
    strip_credentials(&format!("{SELECTION}.config"), &mut settings, violations);
    Some(BackendEntry {
        path: SELECTION.to_owned(),
        backend: backend?,
        settings,
        connection_secret_ref,
        version,
    })
}

/// `^\d+\.\d+\.\d+$`: three dot-separated runs of digits.
fn is_release_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;
    use super::*;

    fn parse(text: &str) -> Config {
        Config::parse(text, Path::new("/etc/floe/manifest.yaml")).unwrap()
    }

    fn violations(text: &str) -> Vec<String> {
        parse(text)
            .violations()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const HEAD: &str = "apiVersion: floe.dev/v1\nkind: Manifest\n";

    #[test]
    fn the_telemetry_backend_is_the_one_entry() {
        let config = parse(&format!(
            "{HEAD}metadata: {{name: demo}}\nplugins:\n  compute: {{type: duckdb, config: {{client_secret: x}}}}\n  telemetry_backend:\n    type: datadog\n    version: \"0.1.0\"\n    connection_secret_ref: datadog-credentials\n    config: {{site: datadoghq.eu}}\n"
        ));
        assert!(config.violations().is_empty(), "{:?}", config.violations());
        assert_eq!(config.selected(), ["datadog"]);
        let entry = config.entry("datadog").unwrap();
        assert_eq!(entry.path, "plugins.telemetry_backend");
        assert_eq!(entry.settings["site"], "datadoghq.eu");
        assert_eq!(entry.version.as_deref(), Some("0.1.0"));
        assert_eq!(entry.secret_name(), "datadog-credentials");
    }

    #[test]
    fn no_telemetry_backend_is_console() {
        for text in [
            HEAD.to_owned(),
            format!("{HEAD}plugins: {{compute: {{type: duckdb}}}}\n"),
            format!("{HEAD}plugins:\n  telemetry_backend:\n"),
        ] {
            let config = parse(&text);
            assert!(config.violations().is_empty(), "{text}");
            assert_eq!(config.selected(), ["console"], "{text}");
            assert!(config.backends().is_empty());
        }
    }

    #[test]
    fn every_rule_is_reported_at_once_with_manifest_paths() {
        let found = violations(
            "apiVersion: floe.dev/v2\nkind: Manifest\nplugins:\n  telemetry_backend:\n    type: \" \"\n    version: 1.0\n    connection_secret_ref: Not_A_Name\n    config: {api_key: hunter2}\n    extra: 1\n",
        );
        let paths: Vec<&str> = found
            .iter()
            .map(|v| v.split(": ").next().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "apiVersion",
                "plugins.telemetry_backend.extra",
                "plugins.telemetry_backend.type",
                "plugins.telemetry_backend.version",
                "plugins.telemetry_backend.connection_secret_ref",
                "plugins.telemetry_backend.config.api_key",
            ],
            "{found:#?}"
        );
        assert!(
            found
                .iter()
                .all(|v| !v.contains("hunter2") && !v.contains("Not_A_Name"))
        );
    }

    #[test]
    fn versions_are_three_numbers() {
        for good in ["0.1.0", "10.20.30"] {
            assert!(is_release_version(good), "{good}");
        }
        for bad in [
            "0.1",
            "0.1.0-rc.1",
            "v0.1.0",
            "1..0",
            "a.b.c",
            "0.1.0.0",
            "",
        ] {
            assert!(!is_release_version(bad), "{bad}");
        }
    }

    #[test]
    fn a_pin_other_than_the_installed_version_is_a_violation_naming_both() {
        let mut config = parse(&format!(
            "{HEAD}plugins:\n  telemetry_backend: {{type: console, version: \"9.9.9\"}}\n"
        ));
        config.check_versions(|name| (name == "console").then(|| "0.1.0".to_owned()));
        let found: Vec<String> = config
            .violations()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "plugins.telemetry_backend.version: pins console 9.9.9, but the installed console \
              plugin is 0.1.0; install 9.9.9 or change the pin to 0.1.0"
            ]
        );
        let mut config = parse(&format!(
            "{HEAD}plugins:\n  telemetry_backend: {{type: console, version: \"0.1.0\"}}\n"
        ));
        config.check_versions(|_| Some("0.1.0".to_owned()));
        assert!(config.violations().is_empty());
    }
}
