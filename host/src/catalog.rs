//! Loading every plugin on the search path, and calling them.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use abi_stable::std_types::{RResult, RStr};
use floe_plugin_api::abi::{BackendModuleRef, CallErrorKind, CallResult};
use floe_plugin_api::metadata::Metadata;
use floe_plugin_api::{ApiVersion, JsonObject, Signals, endpoint_address};
use serde::{Deserialize, Serialize};

use crate::config::{BackendEntry, Config, Violation};
use crate::file_check::FilePolicy;
use crate::isolation::{Isolation, Worker};
use crate::loader::OpenLibrary;
use crate::lock::Locked;
use crate::signature::Trust;
use crate::{Error, ErrorKind, Problem, SearchPath, settings};

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
    /// The file it was loaded from.
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

/// The metadata of every plugin on a search path, read without loading
/// them, and every problem met on the way: what `list` shows.
#[derive(Debug, Default)]
pub struct Listing {
    /// The plugins, in search order, the first of each name.
    pub plugins: Vec<PluginInfo>,
    /// What went wrong, in search order.
    pub problems: Vec<Problem>,
}

/// How plugins are loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Run each plugin in a process of its own; `None` loads them into this one.
    pub isolation: Option<Isolation>,
    /// Load files that others could have changed (group- or world-writable,
    /// owned by another user, or linked from outside the plugin directories).
    pub allow_insecure_permissions: bool,
    /// With `--locked`: refuse every file this lock does not pin, by hash,
    /// before reading it as a plugin.
    pub lock: Option<Locked>,
    /// With `--require-signatures`: refuse every file not signed by one of
    /// these keys, before reading it as a plugin.
    pub trust: Option<Trust>,
}

/// A loaded, checked plugin, in this process or in one of its own.
pub struct Plugin {
    info: PluginInfo,
    runner: Runner,
}

enum Runner {
    InProcess(InProcessPlugin),
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
        let policy = FilePolicy::new(&[dir], options.allow_insecure_permissions)
            .pinned(options.lock.clone(), options.trust.clone());
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
                let declared = declared_info(policy, path)?;
                let plugin = InProcessPlugin::load(path)?;
                let info = agreed_info(declared, &plugin.info)?;
                Ok(Plugin {
                    info,
                    runner: Runner::InProcess(plugin),
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
        let declared = declared_info(policy, path)?;
        let worker = Worker::start(isolation, path)?;
        Ok(StartedPlugin {
            worker,
            declared,
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

    /// The backend's settings schema: `None` for an API 1.0 plugin, which
    /// takes no settings.
    pub fn settings_schema(&self) -> Result<Option<JsonObject>, Error> {
        if !self.info.has_settings {
            return Ok(None);
        }
        self.call_with(Call::GetSettingsSchema, &JsonObject::new())
            .map(Some)
    }

    /// What is wrong with `settings` for this backend, each at its path
    /// below `prefix` (e.g. `backends[1].config`).
    pub fn settings_violations(
        &self,
        settings: &JsonObject,
        prefix: &str,
    ) -> Result<Vec<Violation>, Error> {
        self.schema_violations(settings, prefix)
            .map_err(|error| Error::InPlugin {
                path: self.info.path.clone(),
                error: Box::new(error),
            })
    }

    fn schema_violations(
        &self,
        settings: &JsonObject,
        prefix: &str,
    ) -> Result<Vec<Violation>, Error> {
        match self.settings_schema()? {
            Some(schema) => settings::violations(&schema, settings, prefix, self.name()),
            None if settings.is_empty() => Ok(Vec::new()),
            None => Ok(vec![Violation::new(
                prefix,
                format!(
                    "{} was built for plugin API {} and takes no settings; remove its `config:`, \
                     or install a build of the plugin for API 1.1 or later",
                    self.name(),
                    self.info.floe_api_version
                ),
            )]),
        }
    }

    /// Calls the plugin with its default settings and checks that it
    /// returned a JSON object.
    pub fn call(&self, call: Call) -> Result<JsonObject, Error> {
        self.call_with(call, &JsonObject::new())
    }

    /// Calls the plugin with `settings`, which the caller has validated, and
    /// checks that it returned a JSON object.
    pub(crate) fn call_with(&self, call: Call, settings: &JsonObject) -> Result<JsonObject, Error> {
        let _span = tracing::info_span!("call", plugin = %self.info.name, %call).entered();
        match &self.runner {
            Runner::InProcess(plugin) => plugin.call_with(call, settings),
            Runner::Isolated(worker) => worker
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .call(call, settings),
        }
    }

    /// [`Call::GetOtlpExporterConfig`], with default settings.
    pub fn otlp_exporter_config(&self) -> Result<JsonObject, Error> {
        self.call(Call::GetOtlpExporterConfig)
    }

    /// [`Call::GetHelmValuesOverride`], with default settings.
    pub fn helm_values_override(&self) -> Result<JsonObject, Error> {
        self.call(Call::GetHelmValuesOverride)
    }
}

/// A plugin whose process has been started but has not yet said what it loaded.
struct StartedPlugin {
    worker: Worker,
    declared: Option<PluginInfo>,
    span: tracing::Span,
}

impl StartedPlugin {
    fn finish(self) -> Result<Plugin, Error> {
        let _entered = self.span.enter();
        let (worker, loaded) = self.worker.loaded()?;
        let info = agreed_info(self.declared, &loaded)?;
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
        let api = {
            let _span = tracing::info_span!("version_check", plugin = %api_version).entered();
            let host = ApiVersion::current();
            let api = host.check(&api_version)?;
            tracing::debug!(%host, "plugin API version accepted");
            api
        };
        let module = library.root_module(api)?;
        let info = read_info(&module, &api_version, path)?;
        tracing::debug!(name = %info.name, version = %info.version, "loaded");
        Ok(InProcessPlugin { info, module })
    }

    /// Calls the plugin with `settings`. An API 1.0 plugin is called without
    /// them: it has no settings, so they are empty.
    pub(crate) fn call_with(&self, call: Call, settings: &JsonObject) -> Result<JsonObject, Error> {
        let text = serde_json::to_string(settings).expect("a JSON object serialises");
        let settings = RStr::from_str(&text);
        let module = &self.module;
        match call {
            Call::GetOtlpExporterConfig => match module.get_otlp_exporter_config_with() {
                Some(function) => run(call, || function(settings)),
                None => {
                    let function = module.get_otlp_exporter_config();
                    run(call, || function())
                }
            },
            Call::GetHelmValuesOverride => match module.get_helm_values_override_with() {
                Some(function) => run(call, || function(settings)),
                None => {
                    let function = module.get_helm_values_override();
                    run(call, || function())
                }
            },
            Call::GetEndpoints => match module.get_endpoints_with() {
                Some(function) => run(call, || function(settings)),
                // What a 1.1 plugin does by default: the exporters' endpoints.
                None => {
                    let config = self.call_with(Call::GetOtlpExporterConfig, &JsonObject::new())?;
                    endpoints_of(&config).map(|endpoints| {
                        let mut object = JsonObject::new();
                        object.insert("endpoints".to_owned(), endpoints.into());
                        object
                    })
                }
            },
            Call::GetSettingsSchema => match module.get_settings_schema() {
                Some(function) => run(call, || function()),
                None => Ok(JsonObject::new()),
            },
            Call::Load => unreachable!("loading is not a call into a loaded plugin"),
        }
    }
}

/// Runs one call into the plugin and checks its output.
fn run(call: Call, function: impl FnOnce() -> CallResult) -> Result<JsonObject, Error> {
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

/// The `host:port` of every exporter `endpoint` in a collector fragment.
fn endpoints_of(config: &JsonObject) -> Result<Vec<String>, Error> {
    let mut endpoints = Vec::new();
    let exporters = config.get("exporters").and_then(|e| e.as_object());
    for exporter in exporters.into_iter().flat_map(|e| e.values()) {
        if let Some(endpoint) = exporter.get("endpoint").and_then(|e| e.as_str()) {
            let address = endpoint_address(endpoint).ok_or_else(|| Error::InvalidOutput {
                call: Call::GetOtlpExporterConfig,
                reason: format!("cannot tell host and port of endpoint {endpoint:?}"),
            })?;
            if !endpoints.contains(&address) {
                endpoints.push(address);
            }
        }
    }
    Ok(endpoints)
}

/// The error itself, for a report that names the plugin's file anyway.
fn unwrap_in_plugin(error: Error) -> Error {
    match error {
        Error::InPlugin { error, .. } => *error,
        other => other,
    }
}

/// `N` of a path that starts `backends[N]`.
fn entry_index(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("backends[")?;
    rest[..rest.find(']')?].parse().ok()
}

/// A plugin with settings that passed its schema: the only way to call a
/// plugin with settings from a configuration.
#[derive(Debug)]
pub struct Configured<'a> {
    plugin: &'a Plugin,
    settings: JsonObject,
}

impl<'a> Configured<'a> {
    /// The plugin.
    pub fn plugin(&self) -> &'a Plugin {
        self.plugin
    }

    /// The validated settings.
    pub fn settings(&self) -> &JsonObject {
        &self.settings
    }

    /// Calls the plugin with the settings.
    pub fn call(&self, call: Call) -> Result<JsonObject, Error> {
        self.plugin.call_with(call, &self.settings)
    }

    /// The `host:port` addresses the collector will connect to.
    pub fn endpoints(&self) -> Result<Vec<String>, Error> {
        let output = self.call(Call::GetEndpoints)?;
        let invalid = |reason: &str| Error::InvalidOutput {
            call: Call::GetEndpoints,
            reason: reason.to_owned(),
        };
        let list = output
            .get("endpoints")
            .and_then(|e| e.as_array())
            .ok_or_else(|| invalid("expected {\"endpoints\": [\"host:port\", ...]}"))?;
        list.iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid("an endpoint is not a string"))
            })
            .collect()
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
    let module_api = module.floe_api_version().as_str();
    if module_api != api_version {
        return Err(Error::InvalidMetadata {
            field: "floe_api_version",
            reason: format!(
                "the root module says {module_api:?} but the version tag says {api_version:?}"
            ),
        });
    }
    let metadata = Metadata {
        floe_api_version: api_version,
        name: module.name().as_str(),
        version: module.version().as_str(),
        description: module.description().as_str(),
        self_hosted: module.self_hosted(),
        signals: module.signals().unwrap_or(Signals::NONE),
    };
    let mut info = checked_info(&metadata, MetadataSource::RootModule, path)?;
    if module.signals().is_none() {
        info.signals = None;
    }
    info.has_settings = module.get_settings_schema().is_some();
    Ok(info)
}

/// What the metadata section of the file at `path` says, checked like a
/// root module's metadata, API version first: `None` for a file without one.
/// Nothing of the plugin is loaded.
fn declared_info(policy: &FilePolicy, path: &Path) -> Result<Option<PluginInfo>, Error> {
    let Some(section) = policy.check(path)? else {
        return Ok(None);
    };
    let metadata = Metadata::decode(&section).map_err(|error| Error::InvalidMetadataSection {
        reason: error.to_string(),
    })?;
    let api = {
        let _span =
            tracing::info_span!("version_check", plugin = %metadata.floe_api_version).entered();
        ApiVersion::current().check(metadata.floe_api_version)?
    };
    let mut info = checked_info(&metadata, MetadataSource::Section, path)?;
    if api.minor == 0 {
        // API 1.0 had neither signals nor settings.
        info.signals = None;
        info.has_settings = false;
    }
    Ok(Some(info))
}

/// The loaded plugin's metadata, refused unless it agrees with what its
/// metadata section declared.
fn agreed_info(declared: Option<PluginInfo>, loaded: &PluginInfo) -> Result<PluginInfo, Error> {
    let Some(declared) = declared else {
        return Ok(loaded.clone());
    };
    let differ = |field, section: String, module: String| {
        if section == module {
            Ok(())
        } else {
            Err(Error::MetadataMismatch {
                field,
                section,
                module,
            })
        }
    };
    differ(
        "floe_api_version",
        declared.floe_api_version.clone(),
        loaded.floe_api_version.clone(),
    )?;
    differ("name", declared.name.clone(), loaded.name.clone())?;
    differ(
        "version",
        declared.version.to_string(),
        loaded.version.to_string(),
    )?;
    differ(
        "description",
        declared.description.clone(),
        loaded.description.clone(),
    )?;
    differ(
        "self_hosted",
        declared.self_hosted.to_string(),
        loaded.self_hosted.to_string(),
    )?;
    differ(
        "signals",
        format!("{:?}", declared.signals),
        format!("{:?}", loaded.signals),
    )?;
    Ok(PluginInfo {
        has_settings: loaded.has_settings,
        ..declared
    })
}

/// `metadata`, checked: a valid name, a semver version, one line of
/// description.
fn checked_info(
    metadata: &Metadata<'_>,
    source: MetadataSource,
    path: &Path,
) -> Result<PluginInfo, Error> {
    let invalid = |field, reason: String| Error::InvalidMetadata { field, reason };
    let name = metadata.name;
    if !is_valid_name(name) {
        return Err(invalid(
            "name",
            format!(
                "{name:?} is not 1 to 64 lowercase letters, digits and '-', starting with a letter"
            ),
        ));
    }
    let version = metadata.version;
    let version = semver::Version::parse(version).map_err(|error| {
        invalid(
            "version",
            format!("{version:?} is not a semantic version: {error}"),
        )
    })?;
    let description = metadata.description;
    if description.chars().any(char::is_control) || description.chars().count() > 200 {
        return Err(invalid(
            "description",
            "it must be one line of at most 200 characters".to_owned(),
        ));
    }
    Ok(PluginInfo {
        name: name.to_owned(),
        version,
        floe_api_version: metadata.floe_api_version.to_owned(),
        description: description.to_owned(),
        self_hosted: metadata.self_hosted,
        signals: Some(
            metadata
                .signals
                .names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        ),
        has_settings: true,
        metadata: source,
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

/// The candidate files on `search_path`, the problems met finding them, and
/// the checks every candidate must pass under `options`.
fn candidates(
    search_path: &SearchPath,
    options: &LoadOptions,
) -> (Vec<PathBuf>, Vec<Problem>, FilePolicy) {
    let (candidates, problems) = search_path.candidates();
    let dirs: Vec<PathBuf> = search_path
        .dirs()
        .iter()
        .map(|entry| entry.dir.clone())
        .collect();
    let policy = FilePolicy::new(&dirs, options.allow_insecure_permissions)
        .pinned(options.lock.clone(), options.trust.clone());
    (candidates, problems, policy)
}

impl Catalog {
    /// Loads every candidate on `search_path`, in order. A file that fails is
    /// recorded as a [`Problem`] and the others are still loaded; of two
    /// plugins with the same name, the first found is kept.
    pub fn load(search_path: &SearchPath, options: &LoadOptions) -> Catalog {
        let _span = tracing::info_span!("scan").entered();
        let (candidates, problems, policy) = candidates(search_path, options);
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
        let mut plugins = Vec::new();
        let more = keep_first_of_each_name(loaded, Plugin::name, |plugin| plugins.push(plugin));
        catalog.plugins = plugins;
        catalog.problems.extend(more);
        catalog
    }

    /// Reads the metadata of every candidate on `search_path` from its
    /// metadata section, without loading any of them: what `list` shows.
    /// The API version is checked from the section too, so a plugin for
    /// another API is reported and never loaded.
    ///
    /// A plugin built before plugins had a metadata section can only tell
    /// by being loaded: it is loaded in a process of its own, through
    /// `isolation`, never in this one.
    pub fn list(search_path: &SearchPath, options: &LoadOptions, isolation: &Isolation) -> Listing {
        let _span = tracing::info_span!("scan", load = false).entered();
        let (candidates, problems, policy) = candidates(search_path, options);
        let read = candidates.into_iter().map(|path| {
            let info = match declared_info(&policy, &path) {
                Ok(Some(info)) => Ok(info),
                // No section: an older plugin, or no plugin at all.
                Ok(None) => Plugin::start_isolated(&path, &policy, isolation)
                    .and_then(StartedPlugin::finish)
                    .map(|plugin| plugin.info),
                Err(error) => Err(error),
            };
            (path, info)
        });
        let mut listing = Listing {
            plugins: Vec::new(),
            problems,
        };
        let more = keep_first_of_each_name(
            read.collect::<Vec<_>>(),
            |info| &info.name,
            |info| listing.plugins.push(info),
        );
        listing.problems.extend(more);
        listing
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

    /// Checks every entry of `config` against the installed backends and
    /// their schemas, and reports every violation at once. Nothing but the
    /// schemas is asked of any plugin.
    pub fn validate(&self, config: &Config) -> Result<(), Error> {
        self.validate_with(config, Vec::new())
    }

    fn validate_with(&self, config: &Config, mut violations: Vec<Violation>) -> Result<(), Error> {
        violations.extend(config.violations().iter().cloned());
        for entry in config.backends() {
            violations.extend(self.entry_violations(entry)?);
        }
        // In file order: the file's own keys, then entry by entry.
        violations.sort_by_key(|violation| entry_index(&violation.path));
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidConfig {
                source_name: config.source_name(),
                violations,
            })
        }
    }

    /// Validates `config` (see [`Catalog::validate`]), then returns backend
    /// `name` with its settings from `config`, or its defaults when `config`
    /// does not list it.
    pub fn configure(&self, config: &Config, name: &str) -> Result<Configured<'_>, Error> {
        let mut configured = self.configure_all(config, &[name])?;
        Ok(configured.remove(0))
    }

    /// [`Catalog::configure`] for each of `names`, validating `config` once:
    /// every violation, in the file and in the defaults of backends it does
    /// not list, is reported together, before any backend is called.
    pub fn configure_all<'c>(
        &'c self,
        config: &Config,
        names: &[&str],
    ) -> Result<Vec<Configured<'c>>, Error> {
        let mut configured = Vec::with_capacity(names.len());
        let mut defaults_violations = Vec::new();
        for &name in names {
            let plugin = self.get(name)?;
            let settings = match config.entry(name) {
                Some(entry) => entry.settings.clone(),
                None => {
                    let prefix = format!("(defaults of {name})");
                    let empty = JsonObject::new();
                    defaults_violations.extend(plugin.settings_violations(&empty, &prefix)?);
                    empty
                }
            };
            configured.push(Configured { plugin, settings });
        }
        self.validate_with(config, defaults_violations)?;
        Ok(configured)
    }

    fn entry_violations(&self, entry: &BackendEntry) -> Result<Vec<Violation>, Error> {
        match self.get(&entry.backend) {
            Ok(plugin) => {
                plugin.settings_violations(&entry.settings, &format!("{}.config", entry.path))
            }
            Err(error) => Ok(vec![Violation::new(
                format!("{}.backend", entry.path),
                error.to_string(),
            )]),
        }
    }

    /// Calls both functions of every plugin, with its settings from `config`
    /// (after checking them) or its defaults; each failure is a problem.
    /// A plugin whose process died is not called again.
    pub fn check_calls(&self, config: &Config) -> Vec<Problem> {
        let mut problems = Vec::new();
        for plugin in &self.plugins {
            let prefix = match config.entry(plugin.name()) {
                Some(entry) => format!("{}.config", entry.path),
                None => format!("(defaults of {})", plugin.name()),
            };
            let settings = config
                .entry(plugin.name())
                .map(|entry| entry.settings.clone())
                .unwrap_or_default();
            match plugin.settings_violations(&settings, &prefix) {
                Ok(violations) if violations.is_empty() => {}
                Ok(violations) => {
                    problems.push(Problem::new(
                        &plugin.info.path,
                        Error::InvalidConfig {
                            source_name: config.source_name(),
                            violations,
                        },
                    ));
                    continue;
                }
                Err(error) => {
                    problems.push(Problem::new(&plugin.info.path, unwrap_in_plugin(error)));
                    continue;
                }
            }
            for call in [Call::GetOtlpExporterConfig, Call::GetHelmValuesOverride] {
                if let Err(error) = plugin.call_with(call, &settings) {
                    // A plugin whose process died is not called again.
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

/// Passes the first of each name to `keep`, in order; returns the files that
/// failed, and the later ones of a name, as problems.
fn keep_first_of_each_name<T>(
    found: Vec<(PathBuf, Result<T, Error>)>,
    name: impl Fn(&T) -> &str,
    mut keep: impl FnMut(T),
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut by_name: HashMap<String, PathBuf> = HashMap::new();
    for (path, result) in found {
        match result {
            Ok(plugin) => match by_name.get(name(&plugin)) {
                Some(first) => problems.push(Problem::new(
                    path,
                    Error::DuplicateName {
                        name: name(&plugin).to_owned(),
                        first: first.clone(),
                    },
                )),
                None => {
                    by_name.insert(name(&plugin).to_owned(), path);
                    keep(plugin);
                }
            },
            Err(error) => {
                tracing::debug!(path = %path.display(), %error, "plugin refused");
                problems.push(Problem::new(path, error));
            }
        }
    }
    problems
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
