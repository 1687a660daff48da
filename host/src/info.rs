//! What a plugin says about itself, and the checks that turn it into what
//! the host believes: the same rules whether it comes from the file's
//! metadata section, from a root module loaded here, or from a plugin
//! process's report, which plugin code could have forged.

use std::fmt;
use std::path::{Path, PathBuf};

use floe_plugin_api::metadata::Metadata;
use floe_plugin_api::{ApiVersion, Signals};
use serde::{Deserialize, Serialize};

use crate::Error;

/// A function of a plugin the host calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// The collector exporter fragment.
    GetOtlpExporterConfig,
    /// The Helm values override.
    GetHelmValuesOverride,
    /// The JSON Schema of the backend's settings (API 1.1).
    GetSettingsSchema,
    /// The addresses to connection-check (API 1.1).
    GetEndpoints,
    /// Loading the library: its initialisers and its root module.
    Load,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Call::GetOtlpExporterConfig => "get_otlp_exporter_config()",
            Call::GetHelmValuesOverride => "get_helm_values_override()",
            Call::GetSettingsSchema => "get_settings_schema()",
            Call::GetEndpoints => "get_endpoints_with()",
            Call::Load => "loading the plugin",
        })
    }
}

/// What a plugin says about itself, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Unique backend name.
    pub name: String,
    /// The plugin's own version (semver).
    pub version: semver::Version,
    /// The plugin API version it was built against.
    pub floe_api_version: String,
    /// One line about the backend.
    pub description: String,
    /// Whether the backend's services run in the user's cluster.
    pub self_hosted: bool,
    /// The signals the backend accepts (`traces`, `metrics`, `logs`); `None`
    /// for an API 1.0 plugin, which does not say.
    pub signals: Option<Vec<String>>,
    /// Whether the backend takes settings (API 1.1 and later).
    pub has_settings: bool,
    /// Where this came from: the file's metadata section, or, for a plugin
    /// built before there was one, its code, loaded in a process of its own.
    pub metadata: MetadataSource,
    /// The file it was found at: always the host's own path, never one a
    /// plugin reported.
    pub path: PathBuf,
}

/// Where the host learnt a plugin's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataSource {
    /// The `.floe_plugin` section, read from the file without loading it
    /// (and, once the plugin is loaded, found to agree with its code).
    Section,
    /// The plugin's root module: the file has no metadata section, so it had
    /// to be loaded (`list` does that in a process of its own).
    RootModule,
}

/// What a plugin's code or section says, not yet checked: the form in which
/// a plugin process reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Reported {
    pub(crate) floe_api_version: String,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) self_hosted: bool,
    /// `None` where the plugin does not say (API 1.0).
    pub(crate) signals: Option<Vec<String>>,
    pub(crate) has_settings: bool,
}

impl Reported {
    /// What the metadata section `bytes` records.
    pub(crate) fn from_section(bytes: &[u8]) -> Result<Reported, Error> {
        let metadata = Metadata::decode(bytes).map_err(|error| Error::InvalidMetadataSection {
            reason: error.to_string(),
        })?;
        let api_1_0 = metadata.floe_api_version.parse::<ApiVersion>().ok()
            == Some(ApiVersion { major: 1, minor: 0 });
        Ok(Reported {
            floe_api_version: metadata.floe_api_version.to_owned(),
            name: metadata.name.to_owned(),
            version: metadata.version.to_owned(),
            description: metadata.description.to_owned(),
            self_hosted: metadata.self_hosted,
            // API 1.0 had neither signals nor settings.
            signals: (!api_1_0).then(|| signal_names(metadata.signals)),
            has_settings: !api_1_0,
        })
    }

    /// Checked by the host's rules, as the plugin at `path` (the host's own
    /// path for it): the API version first, then every field.
    pub(crate) fn checked(self, source: MetadataSource, path: &Path) -> Result<PluginInfo, Error> {
        {
            let _span =
                tracing::info_span!("version_check", plugin = %self.floe_api_version.escape_debug())
                    .entered();
            ApiVersion::current().check(&self.floe_api_version)?;
        }
        let invalid = |field, reason: String| Error::InvalidMetadata { field, reason };
        let name = &self.name;
        if !is_valid_name(name) {
            return Err(invalid(
                "name",
                format!(
                    "{name:?} is not 1 to 64 lowercase letters, digits and '-', starting with a \
                     letter"
                ),
            ));
        }
        let version = semver::Version::parse(&self.version).map_err(|error| {
            invalid(
                "version",
                format!("{:?} is not a semantic version: {error}", self.version),
            )
        })?;
        let description = &self.description;
        if description.chars().any(char::is_control) || description.chars().count() > 200 {
            return Err(invalid(
                "description",
                "it must be one line of at most 200 characters".to_owned(),
            ));
        }
        if let Some(signals) = &self.signals {
            let known = Signals::ALL.names();
            let mut seen = Vec::new();
            for signal in signals {
                if !known.contains(&signal.as_str()) || seen.contains(&signal) {
                    return Err(invalid(
                        "signals",
                        format!(
                            "{signal:?} is not one of traces, metrics and logs, each named once"
                        ),
                    ));
                }
                seen.push(signal);
            }
        }
        Ok(PluginInfo {
            name: self.name,
            version,
            floe_api_version: self.floe_api_version,
            description: self.description,
            self_hosted: self.self_hosted,
            signals: self.signals,
            has_settings: self.has_settings,
            metadata: source,
            path: path.to_owned(),
        })
    }
}

fn signal_names(signals: Signals) -> Vec<String> {
    signals.names().into_iter().map(str::to_owned).collect()
}

/// The loaded plugin's metadata, refused unless it agrees with what its
/// metadata section declared.
pub(crate) fn agreed(
    declared: Option<PluginInfo>,
    loaded: PluginInfo,
) -> Result<PluginInfo, Error> {
    let Some(declared) = declared else {
        return Ok(loaded);
    };
    let fields = [
        (
            "floe_api_version",
            declared.floe_api_version.clone(),
            loaded.floe_api_version.clone(),
        ),
        ("name", declared.name.clone(), loaded.name.clone()),
        (
            "version",
            declared.version.to_string(),
            loaded.version.to_string(),
        ),
        (
            "description",
            declared.description.clone(),
            loaded.description.clone(),
        ),
        (
            "self_hosted",
            declared.self_hosted.to_string(),
            loaded.self_hosted.to_string(),
        ),
        (
            "signals",
            format!("{:?}", declared.signals),
            format!("{:?}", loaded.signals),
        ),
    ];
    for (field, section, module) in fields {
        if section != module {
            return Err(Error::MetadataMismatch {
                field,
                section,
                module,
            });
        }
    }
    Ok(PluginInfo {
        has_settings: loaded.has_settings,
        ..declared
    })
}

/// The documented name pattern: lowercase letters, digits and `-`,
/// starting with a letter, at most 64.
pub(crate) fn is_valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_words() {
        for good in ["jaeger", "grafana-cloud", "a", "otel2", &"a".repeat(64)] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in [
            "",
            "Jaeger",
            "-x",
            "1abc",
            "a_b",
            "a b",
            "é",
            "a\n",
            "\u{1b}[31m",
            &"a".repeat(65),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    fn reported() -> Reported {
        Reported {
            floe_api_version: floe_plugin_api::FLOE_API_VERSION.to_owned(),
            name: "jaeger".to_owned(),
            version: "1.2.3".to_owned(),
            description: "one line".to_owned(),
            self_hosted: true,
            signals: Some(vec!["traces".to_owned()]),
            has_settings: true,
        }
    }

    #[test]
    fn a_forged_report_is_refused_field_by_field() {
        let path = Path::new("/plugins/libx.so");
        assert!(reported().checked(MetadataSource::RootModule, path).is_ok());
        type Forgery = (&'static str, fn(&mut Reported));
        let forgeries: [Forgery; 5] = [
            ("name", |r| r.name = "data\u{1b}[2Jdog".to_owned()),
            ("version", |r| r.version = "9.9".to_owned()),
            ("description", |r| {
                r.description = "a\nforged row".to_owned()
            }),
            ("signals", |r| r.signals = Some(vec!["exfil".to_owned()])),
            ("signals", |r| {
                r.signals = Some(vec!["traces".to_owned(), "traces".to_owned()])
            }),
        ];
        for (field, forge) in forgeries {
            let mut report = reported();
            forge(&mut report);
            let error = report
                .checked(MetadataSource::RootModule, path)
                .unwrap_err();
            assert!(
                matches!(error, Error::InvalidMetadata { field: f, .. } if f == field),
                "{field}: {error}"
            );
        }
        let mut future = reported();
        future.floe_api_version = "2.0".to_owned();
        assert!(future.checked(MetadataSource::RootModule, path).is_err());
    }

    #[test]
    fn the_path_is_always_the_hosts() {
        let info = reported()
            .checked(MetadataSource::RootModule, Path::new("/plugins/libx.so"))
            .unwrap();
        assert_eq!(info.path, Path::new("/plugins/libx.so"));
    }
}
