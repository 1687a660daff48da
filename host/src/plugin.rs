//! Loading selected plugin files, each from its one verified descriptor,
//! in this process or in supervised processes of their own; and calling them.

use std::fmt;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use floe_plugin_api::JsonObject;

use crate::call::InProcessPlugin;
use crate::config::Violation;
use crate::info::{self, MetadataSource, PluginInfo};
use crate::lock::Locked;
use crate::select::ToLoad;
use crate::signature::Trust;
use crate::supervise::{Isolation, Worker};
use crate::verify::{FilePolicy, OpenPlugin};
use crate::{Call, Error, settings};

/// How plugins are loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Run each plugin in a process of its own; `None` loads them into this one.
    pub isolation: Option<Isolation>,
    /// Load files that others could have changed (group- or world-writable
    /// files or directories, owned by another user, or linked from outside
    /// the plugin directories).
    pub allow_insecure_permissions: bool,
    /// With `--locked`: refuse every file this lock does not pin, by hash,
    /// before reading it as a plugin.
    pub lock: Option<Locked>,
    /// With `--require-signatures`: refuse every file not signed by one of
    /// these keys, before reading it as a plugin.
    pub trust: Option<Trust>,
}

impl LoadOptions {
    pub(crate) fn policy(&self, plugin_dirs: &[PathBuf]) -> FilePolicy {
        FilePolicy::new(
            plugin_dirs,
            self.allow_insecure_permissions,
            self.lock.clone(),
            self.trust.clone(),
        )
    }
}

/// A loaded, checked plugin, in this process or in one of its own.
pub struct Plugin {
    info: PluginInfo,
    runner: Runner,
}

enum Runner {
    InProcess(InProcessPlugin),
    // Calls take turns; the cell only lends the worker to one at a time.
    Isolated(std::cell::RefCell<Worker>),
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

/// A plugin file loaded, and the sha256 of the bytes checked, when asked.
pub(crate) struct Loaded {
    pub(crate) plugin: Plugin,
    pub(crate) sha256: Option<String>,
}

impl Plugin {
    /// Checks the file at `path` (type, ownership, permissions of it and of
    /// its directories, ELF header, lock and signature as `options` say) and
    /// loads the plugin in it, from the descriptor it checked. A symbolic
    /// link may only lead inside the file's own directory.
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Plugin, Error> {
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let policy = options.policy(&[dir]);
        let declared = match policy.open(path)?.section {
            Some(section) => Some(
                info::Reported::from_section(&section)?.checked(MetadataSource::Section, path)?,
            ),
            None => None,
        };
        let file = ToLoad {
            path: path.to_owned(),
            declared,
        };
        let mut result = None;
        load_files(vec![file], &policy, options, false, |_, loaded| {
            result = Some(loaded.map(|loaded| loaded.plugin));
        });
        result.expect("one file in, one result out")
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
    /// below `prefix` (e.g. `backends[1].config`). Always builds the
    /// validator, so a malformed schema is reported too: what `check` uses.
    pub fn settings_violations(
        &self,
        settings: &JsonObject,
        prefix: &str,
    ) -> Result<Vec<Violation>, Error> {
        self.violations(settings, prefix, false)
    }

    /// [`Plugin::settings_violations`] before a call: settings the schema
    /// plainly accepts pass without a validator being built (see
    /// `plain_settings`), which costs more than the rest of a command.
    pub(crate) fn violations_before_call(
        &self,
        settings: &JsonObject,
        prefix: &str,
    ) -> Result<Vec<Violation>, Error> {
        if let Runner::Isolated(worker) = &self.runner {
            let made = worker.borrow_mut().made_ahead(settings);
            if made.map_err(|error| self.in_plugin(error))? {
                tracing::debug!(
                    plugin = %self.info.name,
                    by = "its process, answering ahead",
                    "settings plainly valid, no validator built"
                );
                return Ok(Vec::new());
            }
        }
        self.violations(settings, prefix, true)
    }

    fn violations(
        &self,
        settings: &JsonObject,
        prefix: &str,
        plain_ones_pass: bool,
    ) -> Result<Vec<Violation>, Error> {
        let schema = self.settings_schema().map_err(|e| self.in_plugin(e))?;
        self.violations_against(schema, settings, prefix, plain_ones_pass)
            .map_err(|e| self.in_plugin(e))
    }

    /// `error`, said of this plugin's file.
    fn in_plugin(&self, error: Error) -> Error {
        Error::InPlugin {
            path: self.info.path.clone(),
            error: Box::new(error),
        }
    }

    /// What is wrong with `settings` for `schema`, this plugin's.
    fn violations_against(
        &self,
        schema: Option<JsonObject>,
        settings: &JsonObject,
        prefix: &str,
        plain_ones_pass: bool,
    ) -> Result<Vec<Violation>, Error> {
        match schema {
            Some(schema) if plain_ones_pass => {
                settings::violations_before_call(&schema, settings, prefix, self.name())
            }
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
            Runner::Isolated(worker) => worker.borrow_mut().call(call, settings),
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

/// How many plugin processes start together at most: each holds three
/// descriptors of the host while it runs.
const WINDOW: usize = 64;

/// Loads `files`, in order, each from a descriptor opened and checked anew
/// (it must declare what it declared when it was selected), hashed when
/// `want_hash` or the policy pins files; passes each outcome to `each` as
/// soon as it is known. Isolated, up to [`WINDOW`] start side by side
/// under one deadline.
pub(crate) fn load_files(
    files: Vec<ToLoad>,
    policy: &FilePolicy,
    options: &LoadOptions,
    want_hash: bool,
    mut each: impl FnMut(PathBuf, Result<Loaded, Error>),
) {
    let mut files = files.into_iter().peekable();
    while files.peek().is_some() {
        let window: Vec<ToLoad> = files.by_ref().take(WINDOW).collect();
        let opened: Vec<_> = window
            .into_iter()
            .map(|file| {
                let opened = reopen(&file, policy, want_hash);
                (file, opened)
            })
            .collect();
        match &options.isolation {
            None => {
                for (file, opened) in opened {
                    let loaded = opened.and_then(|(open, sha256)| {
                        let _span =
                            tracing::info_span!("load", path = %file.path.display()).entered();
                        let plugin = InProcessPlugin::load(&descriptor_path(&open))?;
                        let info = checked(file.declared, plugin.reported.clone(), &file.path)?;
                        Ok(Loaded {
                            plugin: Plugin {
                                info,
                                runner: Runner::InProcess(plugin),
                            },
                            sha256,
                        })
                    });
                    each(file.path, loaded);
                }
            }
            Some(isolation) => load_isolated(opened, isolation, &mut each),
        }
    }
}

/// A file opened and checked anew, with its sha256 when it was hashed.
type Reopened = Result<(OpenPlugin, Option<String>), Error>;

fn load_isolated(
    opened: Vec<(ToLoad, Reopened)>,
    isolation: &Isolation,
    each: &mut impl FnMut(PathBuf, Result<Loaded, Error>),
) {
    enum Slot {
        Failed(PathBuf, Error),
        Started(ToLoad, Option<String>),
    }
    let _span = tracing::info_span!("load", isolated = true, count = opened.len()).entered();
    let mut slots = Vec::with_capacity(opened.len());
    let mut workers = Vec::new();
    for (file, opened) in opened {
        // The plugin process inherits the descriptor; the host's copy
        // closes as soon as the process is started.
        let backend = file
            .declared
            .as_ref()
            .map(|declared| declared.name.as_str());
        let started = opened.and_then(|(open, sha256)| {
            Worker::start(isolation, &open.file, &file.path, backend).map(|worker| (worker, sha256))
        });
        match started {
            Ok((worker, sha256)) => {
                workers.push(worker);
                slots.push(Slot::Started(file, sha256));
            }
            Err(error) => slots.push(Slot::Failed(file.path, error)),
        }
    }
    let mut reports = Worker::await_loaded(workers).into_iter();
    for slot in slots {
        match slot {
            Slot::Failed(path, error) => each(path, Err(error)),
            Slot::Started(file, sha256) => {
                let report = reports.next().expect("one report per started process");
                let loaded = report.and_then(|(worker, reported)| {
                    let info = checked(file.declared, reported, &file.path)?;
                    Ok(Loaded {
                        plugin: Plugin {
                            info,
                            runner: Runner::Isolated(std::cell::RefCell::new(worker)),
                        },
                        sha256,
                    })
                });
                each(file.path, loaded);
            }
        }
    }
}

/// Opens `file` again and checks the new descriptor: what it declares must
/// be what it declared when it was selected, or it changed in between.
fn reopen(file: &ToLoad, policy: &FilePolicy, want_hash: bool) -> Reopened {
    let open = policy.open(&file.path)?;
    let declared_now = match &open.section {
        Some(section) => Some(
            info::Reported::from_section(section)?.checked(MetadataSource::Section, &file.path)?,
        ),
        None => None,
    };
    if declared_now != file.declared {
        return Err(Error::ChangedWhileLoading);
    }
    let sha256 = policy.pin(&open, want_hash)?;
    Ok((open, sha256))
}

/// What the loaded code reports, checked, and in agreement with the section.
fn checked(
    declared: Option<PluginInfo>,
    reported: info::Reported,
    path: &Path,
) -> Result<PluginInfo, Error> {
    let loaded = reported.checked(MetadataSource::RootModule, path)?;
    info::agreed(declared, loaded)
}

/// The path through which the loader maps the open file itself.
fn descriptor_path(open: &OpenPlugin) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", open.file.as_raw_fd()))
}
