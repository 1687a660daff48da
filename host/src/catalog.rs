//! The plugins a command uses: discovered, selected, verified, loaded,
//! and every problem met on the way.
//!
//! The stages, each a module: [`discover`](crate::discover) reads every
//! candidate's metadata section; [`select`](crate::select) picks the files
//! a command needs; [`verify`](crate::verify) checks each on one open
//! descriptor; [`plugin`](crate::plugin) loads that descriptor, in a
//! [supervised](crate::supervise) process or in this one; then the plugins
//! are called.

use std::path::PathBuf;

use floe_plugin_api::JsonObject;

use crate::config::{BackendEntry, Config, Violation};
use crate::discover;
use crate::escape::escape_path;
use crate::info::PluginInfo;
use crate::plugin::{LoadOptions, Loaded, Plugin, load_files};
use crate::select::{self, Names, Selection};
use crate::supervise::Isolation;
use crate::verify::FilePolicy;
use crate::{Call, Error, ErrorKind, Problem, SearchPath};

/// The metadata of every plugin on a search path, read without loading
/// them, and every problem met on the way: what `list` shows.
#[derive(Debug, Default)]
pub struct Listing {
    /// The plugins, in search order, the first of each name.
    pub plugins: Vec<PluginInfo>,
    /// What went wrong, in search order.
    pub problems: Vec<Problem>,
    /// With [`Catalog::lock_listing`]: the sha256 of each plugin's file, as
    /// read from the descriptor it was loaded from; in the order of `plugins`.
    pub sha256: Vec<String>,
}

/// The plugins a command loaded, and every problem met on the way.
#[derive(Debug, Default)]
pub struct Catalog {
    plugins: Vec<Plugin>,
    problems: Vec<Problem>,
    providers: Names,
}

/// What `check` found: every plugin that loaded, and every problem.
#[derive(Debug, Default)]
pub struct Checked {
    /// The plugins that loaded, in search order.
    pub plugins: Vec<PluginInfo>,
    /// Every problem: in files, in loading, in calls.
    pub problems: Vec<Problem>,
}

/// The policy for the files on `search_path`.
fn policy(search_path: &SearchPath, options: &LoadOptions) -> FilePolicy {
    FilePolicy::with_canonical_dirs(
        search_path.canonical_dirs().map(PathBuf::from).collect(),
        options.allow_insecure_permissions,
        options.lock.clone(),
        options.trust.clone(),
    )
}

/// Discovers, selects and loads what `selection` needs, passing each loaded
/// plugin (or the error that refused its file) to `each`, in search order.
/// Returns the problems of discovery and selection, and the providers.
fn load_each(
    search_path: &SearchPath,
    options: &LoadOptions,
    selection: Selection<'_>,
    want_hash: bool,
    mut each: impl FnMut(&mut Names, PathBuf, Result<Loaded, Error>),
) -> (Vec<Problem>, Names) {
    let policy = policy(search_path, options);
    let mut discovery = discover::scan(search_path, &policy);
    let selected = select::select(&mut discovery, selection);
    let mut problems = discovery.problems;
    problems.extend(selected.problems);
    let mut providers = selected.providers;
    for file in &selected.to_load {
        tracing::info!("{}: selected for loading", escape_path(&file.path));
    }
    load_files(
        selected.to_load,
        &policy,
        options,
        want_hash,
        |path, loaded| each(&mut providers, path, loaded),
    );
    (problems, providers)
}

/// Admits the loaded plugin's name (a file without a section tells it only
/// now); a second file of that name is a problem.
fn admitted(
    providers: &mut Names,
    path: PathBuf,
    loaded: Result<Loaded, Error>,
) -> Result<Loaded, Box<Problem>> {
    let problem = |error| Box::new(Problem::new(path.clone(), error));
    let loaded = loaded.map_err(problem)?;
    match providers.admit(loaded.plugin.name(), &path) {
        Ok(()) => Ok(loaded),
        Err(error) => Err(problem(error)),
    }
}

impl Catalog {
    /// Loads every plugin on `search_path`. A file that fails is recorded as
    /// a [`Problem`] and the others are still loaded; of two plugins with the
    /// same name, the first found is kept.
    pub fn load(search_path: &SearchPath, options: &LoadOptions) -> Catalog {
        Catalog::load_selected(search_path, options, Selection::All)
    }

    /// Loads only the plugins that provide the backends `selection` names,
    /// found by their metadata sections; other files are read, not loaded.
    pub fn load_selected(
        search_path: &SearchPath,
        options: &LoadOptions,
        selection: Selection<'_>,
    ) -> Catalog {
        let mut plugins = Vec::new();
        let mut load_problems = Vec::new();
        let (mut problems, providers) = load_each(
            search_path,
            options,
            selection,
            false,
            |providers, path, loaded| match admitted(providers, path, loaded) {
                Ok(loaded) => plugins.push(loaded.plugin),
                Err(problem) => load_problems.push(*problem),
            },
        );
        problems.extend(load_problems);
        Catalog {
            plugins,
            problems,
            providers,
        }
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
        let policy = policy(search_path, options);
        let mut discovery = discover::scan(search_path, &policy);
        let selected = select::select(&mut discovery, Selection::All);
        let mut problems = discovery.problems;
        problems.extend(selected.problems);
        let mut providers = selected.providers;
        let mut plugins = Vec::new();
        let (with_section, without): (Vec<_>, Vec<_>) = selected
            .to_load
            .into_iter()
            .partition(|file| file.declared.is_some());
        plugins.extend(with_section.into_iter().filter_map(|file| file.declared));
        let isolated = LoadOptions {
            isolation: Some(isolation.clone()),
            ..options.clone()
        };
        load_files(
            without,
            &policy,
            &isolated,
            false,
            |path, loaded| match admitted(&mut providers, path, loaded) {
                Ok(loaded) => plugins.push(loaded.plugin.info().clone()),
                Err(problem) => problems.push(*problem),
            },
        );
        sort_by_search_order(search_path, &mut plugins, |info| &info.path);
        Listing {
            plugins,
            problems,
            sha256: Vec::new(),
        }
    }

    /// What `lock` pins: every plugin loaded (in a process of its own,
    /// through `isolation`), so that a file whose code contradicts its
    /// metadata section is refused rather than pinned under a name it does
    /// not serve; each with the sha256 of the descriptor it was loaded from.
    pub fn lock_listing(
        search_path: &SearchPath,
        options: &LoadOptions,
        isolation: &Isolation,
    ) -> Listing {
        let isolated = LoadOptions {
            isolation: Some(isolation.clone()),
            ..options.clone()
        };
        let mut listing = Listing::default();
        let mut load_problems = Vec::new();
        let (problems, _) = load_each(
            search_path,
            &isolated,
            Selection::All,
            true,
            |providers, path, loaded| match admitted(providers, path, loaded) {
                Ok(loaded) => {
                    listing.plugins.push(loaded.plugin.info().clone());
                    listing
                        .sha256
                        .push(loaded.sha256.expect("hashes were asked for"));
                }
                Err(problem) => load_problems.push(*problem),
            },
        );
        listing.problems = problems;
        listing.problems.extend(load_problems);
        listing
    }

    /// `check`: validates `config` against the backends it names (loading
    /// only those), then loads every plugin, a window at a time, and calls
    /// each with its settings; a plugin's process ends as soon as it is
    /// checked. An invalid `config` is the error, before any call.
    pub fn check(
        search_path: &SearchPath,
        options: &LoadOptions,
        config: &Config,
    ) -> Result<Checked, Error> {
        let named: Vec<&str> = config
            .backends()
            .iter()
            .map(|entry| entry.backend.as_str())
            .collect();
        if !named.is_empty() {
            Catalog::load_selected(search_path, options, Selection::Names(&named))
                .validate(config)?;
        }
        let mut checked = Checked::default();
        let mut later = Vec::new();
        let (problems, _) = load_each(
            search_path,
            options,
            Selection::All,
            false,
            |providers, path, loaded| match admitted(providers, path, loaded) {
                Ok(loaded) => {
                    later.extend(check_calls(&loaded.plugin, config));
                    checked.plugins.push(loaded.plugin.info().clone());
                }
                Err(problem) => later.push(*problem),
            },
        );
        checked.problems = problems;
        checked.problems.extend(later);
        Ok(checked)
    }

    /// The healthy plugins, in search order.
    pub fn plugins(&self) -> &[Plugin] {
        &self.plugins
    }

    /// What went wrong, in search order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The plugin called `name`; when the file claiming that name was
    /// refused, the error says so and why.
    pub fn get(&self, name: &str) -> Result<&Plugin, Error> {
        if let Some(plugin) = self.plugins.iter().find(|plugin| plugin.name() == name) {
            return Ok(plugin);
        }
        let provider = self.providers.provider(name);
        if let Some(problem) =
            provider.and_then(|path| self.problems.iter().find(|p| &p.path == path))
        {
            return Err(Error::Refused {
                name: name.to_owned(),
                path: problem.path.clone(),
                reason: problem.error.to_string(),
            });
        }
        // Every name claimed, loaded or not: a command loads only what it needs.
        Err(Error::UnknownBackend {
            name: name.to_owned(),
            known: self.providers.names(),
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
        // Every mistake in the file, misspelt backend names too, and in the
        // defaults of the backends it does not list, reported at once.
        let mut defaults_violations = Vec::new();
        for &name in names {
            if config.entry(name).is_none()
                && let Ok(plugin) = self.get(name)
            {
                let prefix = format!("(defaults of {name})");
                defaults_violations
                    .extend(plugin.violations_before_call(&JsonObject::new(), &prefix)?);
            }
        }
        self.validate_with(config, defaults_violations)?;
        names
            .iter()
            .map(|&name| {
                let plugin = self.get(name)?;
                let settings = config.settings_of(name);
                Ok(Configured { plugin, settings })
            })
            .collect()
    }

    fn entry_violations(&self, entry: &BackendEntry) -> Result<Vec<Violation>, Error> {
        match self.get(&entry.backend) {
            Ok(plugin) => {
                plugin.violations_before_call(&entry.settings, &format!("{}.config", entry.path))
            }
            Err(error) => Ok(vec![Violation::new(
                format!("{}.backend", entry.path),
                error.to_string(),
            )]),
        }
    }
}

/// Sorts `items` by the search order of their files: directory, then name.
fn sort_by_search_order<T>(
    search_path: &SearchPath,
    items: &mut [T],
    path: impl Fn(&T) -> &PathBuf,
) {
    let rank = |file: &PathBuf| {
        let dir = search_path
            .dirs()
            .iter()
            .position(|entry| file.parent() == Some(entry.dir.as_path()));
        (dir, file.file_name().map(|name| name.to_owned()))
    };
    items.sort_by_key(|item| rank(path(item)));
}

/// Calls both functions of `plugin`, with its settings from `config` (after
/// checking them) or its defaults; each failure is a problem. A plugin whose
/// process died is not called again.
fn check_calls(plugin: &Plugin, config: &Config) -> Vec<Problem> {
    let path = &plugin.info().path;
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
            return vec![Problem::new(
                path,
                Error::InvalidConfig {
                    source_name: config.source_name(),
                    violations,
                },
            )];
        }
        Err(error) => return vec![Problem::new(path, unwrap_in_plugin(error))],
    }
    let mut problems = Vec::new();
    for call in [Call::GetOtlpExporterConfig, Call::GetHelmValuesOverride] {
        if let Err(error) = plugin.call_with(call, &settings) {
            let fatal = matches!(
                error.kind(),
                ErrorKind::PluginCrashed | ErrorKind::TimedOut | ErrorKind::Protocol
            );
            problems.push(Problem::new(path, error));
            if fatal {
                break;
            }
        }
    }
    problems
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
