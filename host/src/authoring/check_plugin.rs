//! `floe-telemetry check-plugin FILE.so`: the plugin rules, applied to a
//! library through the host's own loader, in a process of its own.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use floe_host::render::{self, BackendFragment};
use floe_host::{
    Call, Catalog, Error, ErrorKind, Isolation, JsonObject, LoadOptions, MetadataSource, Plugin,
    SearchPath,
};
use floe_plugin_test::{Answer, Compose, Declared, Report, Subject};

/// The backends shipped with floe-telemetry, which a plugin must compose with.
const BUNDLED: [&str; 4] = ["jaeger", "datadog", "grafana-cloud", "console"];

/// Prints one line per rule; exit 1 when any fails.
pub fn check_plugin(
    file: &Path,
    timeout: Duration,
    allow_insecure_permissions: bool,
) -> io::Result<ExitCode> {
    let options = LoadOptions {
        isolation: Some(Isolation::new(timeout)),
        allow_insecure_permissions,
        ..LoadOptions::default()
    };
    let report = match Plugin::load(file, &options) {
        Ok(plugin) => {
            let subject = subject(&plugin);
            let bundled = Bundled::load(&options, &plugin);
            floe_plugin_test::run(&subject, Some(&bundled))
        }
        Err(error) => Report::not_loaded(
            file.display().to_string(),
            rule_of_load_error(&error),
            error.to_string(),
        ),
    };
    writeln!(io::stdout().lock(), "{report}")?;
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn rule_of_load_error(error: &Error) -> &'static str {
    match error.kind() {
        ErrorKind::InvalidMetadata
        | ErrorKind::InvalidMetadataSection
        | ErrorKind::MetadataMismatch => "metadata",
        _ => "loads",
    }
}

/// What the loaded plugin declares and answers with `{}` settings.
fn subject(plugin: &Plugin) -> Subject {
    let info = plugin.info();
    let section = match info.metadata {
        MetadataSource::Section => Ok(()),
        MetadataSource::RootModule => Err(
            "the file has no .floe_plugin metadata section, so `floe-telemetry list` has to load \
             it to show it; rebuild it with floe-plugin-api 1.2 or later"
                .to_owned(),
        ),
    };
    Subject {
        loaded: Some(format!(
            "loaded {} {} (plugin API {}) in a process of its own",
            info.name, info.version, info.floe_api_version
        )),
        declared: Declared {
            name: info.name.clone(),
            version: info.version.to_string(),
            floe_api_version: info.floe_api_version.clone(),
            description: info.description.clone(),
            self_hosted: info.self_hosted,
            signals: info.signals.clone(),
        },
        section,
        schema: match plugin.settings_schema() {
            Ok(schema) => schema.map(Answer::Object),
            Err(error) => Some(answer(Call::GetSettingsSchema, Err(error))),
        },
        exporter_config: answer(
            Call::GetOtlpExporterConfig,
            plugin.call(Call::GetOtlpExporterConfig),
        ),
        helm_values: answer(
            Call::GetHelmValuesOverride,
            plugin.call(Call::GetHelmValuesOverride),
        ),
    }
}

/// The answer to `call`, worded for the rules, which name the call
/// themselves.
fn answer(call: Call, result: Result<JsonObject, Error>) -> Answer {
    let error = match result {
        Ok(object) => return Answer::Object(object),
        Err(error) => error,
    };
    let kind = error.kind();
    let text = match error {
        Error::InvalidOutput { reason, .. } => reason,
        Error::CallFailed { message, .. } => message,
        Error::CallPanicked { message, .. } => format!("panicked: {message}"),
        // From a plugin's process, the host's own message, call and all.
        Error::Isolated { message, .. } => {
            let message = message
                .strip_suffix("; report this to the plugin's author")
                .unwrap_or(&message);
            let prefixes = [
                format!("{call} returned invalid output: "),
                format!("{call} failed: "),
                format!("{call} "),
            ];
            prefixes
                .iter()
                .find_map(|prefix| message.strip_prefix(prefix.as_str()))
                .unwrap_or(message)
                .to_owned()
        }
        other => other.to_string(),
    };
    if kind == ErrorKind::InvalidOutput {
        Answer::NotAnObject(text)
    } else {
        Answer::Failed(text)
    }
}

/// The bundled backends' fragments, with their defaults, from the
/// directories beside floe-telemetry: what a plugin is composed with.
struct Bundled {
    fragments: Vec<BackendFragment>,
}

impl Bundled {
    fn load(options: &LoadOptions, checked: &Plugin) -> Bundled {
        let catalog = Catalog::load(&SearchPath::new(&[], None, true), options);
        let mut fragments = Vec::new();
        for name in BUNDLED {
            let Ok(plugin) = catalog.get(name) else {
                continue;
            };
            // A bundled plugin checked is composed with the others.
            if plugin.info().path == checked.info().path || name == checked.name() {
                continue;
            }
            if let Ok(fragment) = plugin.otlp_exporter_config() {
                fragments.push(BackendFragment {
                    backend: name.to_owned(),
                    signals: plugin.info().signals.clone(),
                    fragment,
                });
            }
        }
        Bundled { fragments }
    }
}

impl Compose for Bundled {
    fn compose(&self, declared: &Declared, fragment: &JsonObject) -> Result<String, Vec<String>> {
        let own = BackendFragment {
            backend: declared.name.clone(),
            signals: declared.signals.clone(),
            fragment: fragment.clone(),
        };
        let mut problems = Vec::new();
        let mut compose = |backends: &[BackendFragment], how: &str| {
            if let Err(error) = render::collector(None, backends) {
                let lines = match error {
                    Error::InvalidCollectorConfig { problems } => problems,
                    other => vec![other.to_string()],
                };
                problems.extend(
                    lines
                        .into_iter()
                        .map(|line| format!("composed {how}: {line}")),
                );
            }
        };
        compose(std::slice::from_ref(&own), "alone");
        let names: Vec<&str> = self.fragments.iter().map(|f| f.backend.as_str()).collect();
        let with = format!("with {}", names.join(", "));
        if !self.fragments.is_empty() {
            let mut all = self.fragments.clone();
            all.push(own);
            compose(&all, &with);
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(if names.is_empty() {
            "composes alone; no bundled backend was found beside floe-telemetry to compose it \
             with"
                .to_owned()
        } else {
            format!("composes alone and {with}, and passes the host's validation")
        })
    }
}
