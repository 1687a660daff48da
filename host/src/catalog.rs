//! Loading every plugin on the search path, and calling them.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};

use std::sync::{Mutex, PoisonError};

use abi_stable::std_types::RResult;
use floe_plugin_api::abi::{BackendModuleRef, CallErrorKind};
use floe_plugin_api::{ApiVersion, JsonObject};
use serde::{Deserialize, Serialize};

use crate::file_check::FilePolicy;
use crate::isolation::{Isolation, Worker};
use crate::loader::OpenLibrary;
use crate::{Error, ErrorKind, Problem, SearchPath};

/// A function of a plugin the host calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// The collector exporter fragment.
    GetOtlpExporterConfig,
    /// The Helm values override.
    GetHelmValuesOverride,
    /// Loading the library: its initialisers and its root module.
    Load,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Call::GetOtlpExporterConfig => "get_otlp_exporter_config()",
            Call::GetHelmValuesOverride => "get_helm_values_override()",
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
    /// The file it was loaded from.
    pub path: PathBuf,
}

/// How plugins are loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Run each plugin in a process of its own; `None` loads them into this one.
    pub isolation: Option<Isolation>,
    /// Load files that others could have changed (group- or world-writable,
    /// owned by another user, or linked from outside the plugin directories).
    pub allow_insecure_permissions: bool,
}

/// A loaded, checked plugin, in this process or in one of its own.
pub struct Plugin {
    info: PluginInfo,
    runner: Runner,
}

enum Runner {
    InProcess(BackendModuleRef),
    // Calls take turns on the pipe; the lock only serialises them.
    Isolated(Mutex<Worker>),
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let isolated = matches!(self.runner, Runner::Isolated(_));
        f.debug_struct("Plugin")
            .field("info", &self.info)
            .field("isolated", &isolated)
            .finish()
    }
}

impl Plugin {
    /// Checks the file at `path` (type, ownership, permissions, ELF header)
    /// and loads the plugin in it as `options` say. A symbolic link may only
    /// lead inside the file's own directory.
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Plugin, Error> {
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let policy = FilePolicy::new(&[dir], options.allow_insecure_permissions);
        Plugin::load_checked(path, &policy, options)
    }

    fn load_checked(
        path: &Path,
        policy: &FilePolicy,
        options: &LoadOptions,
    ) -> Result<Plugin, Error> {
        match &options.isolation {
            None => {
                let _span = tracing::info_span!("load", path = %path.display()).entered();
                policy.check(path)?;
                let plugin = InProcessPlugin::load(path)?;
                Ok(Plugin {
                    info: plugin.info,
                    runner: Runner::InProcess(plugin.module),
                })
            }
            Some(isolation) => Plugin::start_isolated(path, policy, isolation)?.finish(),
        }
    }

    fn start_isolated(
        path: &Path,
        policy: &FilePolicy,
        isolation: &Isolation,
    ) -> Result<StartedPlugin, Error> {
        let span = tracing::info_span!("load", path = %path.display(), isolated = true);
        let _entered = span.enter();
        policy.check(path)?;
        let worker = Worker::start(isolation, path)?;
        Ok(StartedPlugin {
            worker,
            span: span.clone(),
        })
    }

    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Calls the plugin; its answer is a JSON object or an error.
    pub fn call(&self, call: Call) -> Result<JsonObject, Error> {
        let _span = tracing::info_span!("call", plugin = %self.info.name, %call).entered();
        match &self.runner {
            Runner::InProcess(module) => call_module(module, call),
            Runner::Isolated(worker) => worker
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .call(call),
        }
    }

    /// [`Call::GetOtlpExporterConfig`].
    pub fn otlp_exporter_config(&self) -> Result<JsonObject, Error> {
        self.call(Call::GetOtlpExporterConfig)
    }

    /// [`Call::GetHelmValuesOverride`].
    pub fn helm_values_override(&self) -> Result<JsonObject, Error> {
        self.call(Call::GetHelmValuesOverride)
    }
}

/// A plugin whose process has been started but has not yet said what it loaded.
struct StartedPlugin {
    worker: Worker,
    span: tracing::Span,
}

impl StartedPlugin {
    fn finish(self) -> Result<Plugin, Error> {
        let _entered = self.span.enter();
        let (worker, info) = self.worker.loaded()?;
        Ok(Plugin {
            info,
            runner: Runner::Isolated(Mutex::new(worker)),
        })
    }
}

/// A plugin loaded into this process, without the file checks: what a
/// plugin process runs once the host has checked the file.
pub(crate) struct InProcessPlugin {
    pub(crate) info: PluginInfo,
    module: BackendModuleRef,
}

impl InProcessPlugin {
    /// Opens the library, checks its API version before running any of its
    /// functions, then its layout and metadata.
    pub(crate) fn load(path: &Path) -> Result<Self, Error> {
        let library = OpenLibrary::open(path)?;
        let api_version = library.api_version()?;
        {
            let _span = tracing::info_span!("version_check", plugin = %api_version).entered();
            let host = ApiVersion::current();
            host.check(&api_version)?;
            tracing::debug!(%host, "plugin API version accepted");
        }
        let module = library.root_module()?;
        let info = read_info(&module, &api_version, path)?;
        tracing::debug!(name = %info.name, version = %info.version, "loaded");
        Ok(InProcessPlugin { info, module })
    }

    pub(crate) fn call(&self, call: Call) -> Result<JsonObject, Error> {
        call_module(&self.module, call)
    }
}

fn call_module(module: &BackendModuleRef, call: Call) -> Result<JsonObject, Error> {
    let function = match call {
        Call::GetOtlpExporterConfig => module.get_otlp_exporter_config(),
        Call::GetHelmValuesOverride => module.get_helm_values_override(),
        Call::Load => unreachable!("loading is not a call into a loaded plugin"),
    };
    let text = match function() {
        RResult::ROk(text) => text,
        RResult::RErr(error) => {
            let message = error.message.into_string();
            return Err(if error.kind == CallErrorKind::PANICKED {
                Error::CallPanicked { call, message }
            } else {
                Error::CallFailed { call, message }
            });
        }
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(other) => Err(Error::InvalidOutput {
            call,
            reason: format!("expected a JSON object, got {}", json_type(&other)),
        }),
        Err(error) => Err(Error::InvalidOutput {
            call,
            reason: format!("not JSON: {error}"),
        }),
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn read_info(
    module: &BackendModuleRef,
    api_version: &str,
    path: &Path,
) -> Result<PluginInfo, Error> {
    let invalid = |field, reason: String| Error::InvalidMetadata { field, reason };

    let module_api = module.floe_api_version().as_str();
    if module_api != api_version {
        return Err(invalid(
            "floe_api_version",
            format!("the root module says {module_api:?} but the version tag says {api_version:?}"),
        ));
    }
    let name = module.name().as_str();
    if !is_valid_name(name) {
        return Err(invalid(
            "name",
            format!(
                "{name:?} is not 1 to 64 lowercase letters, digits and '-', starting with a letter"
            ),
        ));
    }
    let version = module.version().as_str();
    let version = semver::Version::parse(version).map_err(|error| {
        invalid(
            "version",
            format!("{version:?} is not a semantic version: {error}"),
        )
    })?;
    let description = module.description().as_str();
    if description.chars().any(char::is_control) || description.chars().count() > 200 {
        return Err(invalid(
            "description",
            "it must be one line of at most 200 characters".to_owned(),
        ));
    }
    Ok(PluginInfo {
        name: name.to_owned(),
        version,
        floe_api_version: api_version.to_owned(),
        description: description.to_owned(),
        self_hosted: module.self_hosted(),
        path: path.to_owned(),
    })
}

fn is_valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Every plugin found on a search path, and every problem met on the way.
#[derive(Debug, Default)]
pub struct Catalog {
    plugins: Vec<Plugin>,
    problems: Vec<Problem>,
}

impl Catalog {
    /// Loads every candidate on `search_path`, in order. A file that fails is
    /// recorded as a [`Problem`] and the others are still loaded; of two
    /// plugins with the same name, the first found is kept.
    pub fn load(search_path: &SearchPath, options: &LoadOptions) -> Catalog {
        let _span = tracing::info_span!("scan").entered();
        let (candidates, problems) = search_path.candidates();
        let dirs: Vec<PathBuf> = search_path
            .dirs()
            .iter()
            .map(|entry| entry.dir.clone())
            .collect();
        let policy = FilePolicy::new(&dirs, options.allow_insecure_permissions);
        let mut catalog = Catalog {
            plugins: Vec::new(),
            problems,
        };
        let loaded = match &options.isolation {
            None => candidates
                .into_iter()
                .map(|path| {
                    let plugin = Plugin::load_checked(&path, &policy, options);
                    (path, plugin)
                })
                .collect(),
            Some(isolation) => load_isolated(candidates, &policy, isolation),
        };
        let mut by_name: HashMap<String, PathBuf> = HashMap::new();
        for (path, result) in loaded {
            match result {
                Ok(plugin) => match by_name.get(plugin.name()) {
                    Some(first) => catalog.problems.push(Problem::new(
                        path,
                        Error::DuplicateName {
                            name: plugin.name().to_owned(),
                            first: first.clone(),
                        },
                    )),
                    None => {
                        by_name.insert(plugin.name().to_owned(), path);
                        catalog.plugins.push(plugin);
                    }
                },
                Err(error) => {
                    tracing::debug!(path = %path.display(), %error, "plugin refused");
                    catalog.problems.push(Problem::new(path, error));
                }
            }
        }
        catalog
    }

    /// The healthy plugins, in search order.
    pub fn plugins(&self) -> &[Plugin] {
        &self.plugins
    }

    /// What went wrong, in search order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The plugin called `name`.
    pub fn get(&self, name: &str) -> Result<&Plugin, Error> {
        self.plugins
            .iter()
            .find(|plugin| plugin.name() == name)
            .ok_or_else(|| {
                let mut known: Vec<String> =
                    self.plugins.iter().map(|p| p.name().to_owned()).collect();
                known.sort();
                Error::UnknownBackend {
                    name: name.to_owned(),
                    known,
                }
            })
    }

    /// Calls both functions of every plugin; each failure is a problem. A
    /// plugin whose process died is not called again.
    pub fn check_calls(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for plugin in &self.plugins {
            for call in [Call::GetOtlpExporterConfig, Call::GetHelmValuesOverride] {
                if let Err(error) = plugin.call(call) {
                    let fatal = matches!(
                        error.kind(),
                        ErrorKind::PluginCrashed | ErrorKind::TimedOut | ErrorKind::Protocol
                    );
                    problems.push(Problem::new(&plugin.info.path, error));
                    if fatal {
                        break;
                    }
                }
            }
        }
        problems
    }
}

/// Loads `candidates` each in a process of its own, a few at a time so that
/// their start-up overlaps, keeping the search order in the result.
fn load_isolated(
    candidates: Vec<PathBuf>,
    policy: &FilePolicy,
    isolation: &Isolation,
) -> Vec<(PathBuf, Result<Plugin, Error>)> {
    let window = std::thread::available_parallelism().map_or(2, |cores| cores.get() * 2);
    let finish = |(path, start): (PathBuf, Result<StartedPlugin, Error>)| {
        let plugin = start.and_then(StartedPlugin::finish);
        (path, plugin)
    };
    let mut loaded = Vec::with_capacity(candidates.len());
    let mut started = VecDeque::with_capacity(window);
    for path in candidates {
        let start = Plugin::start_isolated(&path, policy, isolation);
        started.push_back((path, start));
        if started.len() == window {
            loaded.extend(started.pop_front().map(finish));
        }
    }
    loaded.extend(started.into_iter().map(finish));
    loaded
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
            &"a".repeat(65),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
