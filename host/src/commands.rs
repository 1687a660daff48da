//! What each subcommand does.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use floe_host::connection::{self, Outcome};
use floe_host::escape::{escape_control, escape_path};
use floe_host::lock::{Lock, Locked};
use floe_host::report::{self, Format, ListReport, ProblemReport};
use floe_host::signature::{self, Trust};
use floe_host::{
    Call, Catalog, Config, Configured, Error, ErrorKind, Isolation, JsonObject, Listing,
    LoadOptions, PLUGIN_PATH_ENV, SearchPath, Selection, config_path,
};
use serde::Serialize;

use floe_host::config::default_secret_name;
use floe_host::platform;
use floe_host::render::{self, BackendFragment};

use crate::authoring;
use crate::cli::{
    Chart, CheckFormat, Cli, Command, DocumentArgs, DocumentFormat, HelmArgs, ListFormat,
    RenderArgs, RenderCommand, SchemaFormat,
};
use crate::manage::{Manage, completions, manpage};

/// Exit status for a usage error, as clap uses for its own.
const USAGE: u8 = 2;

/// How long a plugin may take to load, or to answer one call, in a process
/// of its own, unless --timeout says otherwise.
const PLUGIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long check-connection waits for each connection, unless --timeout
/// says otherwise.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(cli: Cli) -> io::Result<ExitCode> {
    // Keys, signatures, new crates and the shell's files concern what is
    // named on the command line, not the plugins found.
    match &cli.command {
        Command::Keygen { out } => return Ok(keygen(out)),
        Command::Sign { plugin, key } => return Ok(sign(plugin, key)),
        Command::NewPlugin { name, path } => {
            return Ok(authoring::new_plugin(name, path.as_deref()));
        }
        Command::Completions { shell } => return completions(*shell),
        Command::Manpage => return manpage(),
        _ => {}
    }
    let options = match cli.options() {
        Ok(options) => options,
        Err(error) => error.exit(),
    };
    let checks = options.checks();
    if let Command::CheckPlugin { file, .. } = &cli.command {
        let timeout = options.plugins.timeout.unwrap_or(PLUGIN_TIMEOUT);
        return authoring::check_plugin(file, timeout, checks.allow_insecure_permissions);
    }
    let env_path = std::env::var_os(PLUGIN_PATH_ENV);
    let search_path = SearchPath::new(
        &options.search().plugin_dirs,
        env_path.as_deref(),
        !options.search().no_default_plugin_dirs,
    );
    let plugin_timeout = options.plugins.timeout.unwrap_or(PLUGIN_TIMEOUT);
    // `lock` pins what is installed now, whatever an older lock says.
    let lock = match (&cli.command, &checks.locked) {
        (Command::Lock { .. }, _) | (_, None) => None,
        (_, Some(file)) => match Locked::load(file) {
            Ok(lock) => Some(lock),
            Err(error) => return Ok(fail(&error)),
        },
    };
    let trust = match (&checks.trust_dir, checks.require_signatures) {
        (Some(dir), true) => match Trust::load(dir) {
            Ok(trust) => Some(trust),
            Err(error) => return Ok(fail(&error)),
        },
        _ => None,
    };
    let isolation = Isolation::new(plugin_timeout);
    if let Command::Install(_) | Command::Uninstall(_) = &cli.command {
        let options = LoadOptions {
            isolation: None,
            allow_insecure_permissions: checks.allow_insecure_permissions,
            lock: None,
            trust,
        };
        let manage = Manage {
            search_path: &search_path,
            options: &options,
            isolation: &isolation,
            lock: lock.as_ref(),
        };
        return Ok(match &cli.command {
            Command::Install(args) => manage.install(args),
            Command::Uninstall(args) => manage.uninstall(args),
            _ => unreachable!("matched above"),
        });
    }
    // Calling a plugin is where a broken one does harm, so those commands
    // isolate unless told otherwise; `check` exists to survive broken
    // plugins; `list` and `lock` load only in processes of their own.
    let isolate = match cli.command {
        Command::Check { .. } | Command::List { .. } | Command::Lock { .. } => true,
        _ => !options.isolation.in_process,
    };
    let load_options = LoadOptions {
        isolation: isolate.then(|| isolation.clone()),
        allow_insecure_permissions: checks.allow_insecure_permissions,
        lock,
        trust,
    };
    // Every command from here on but `list` loads a plugin: its process
    // starts now (unless `main` started it already), and sets itself up
    // while this one reads the configuration and finds the file.
    if isolate && !matches!(cli.command, Command::List { .. }) {
        Isolation::prestart();
    }
    match &cli.command {
        Command::List { output, .. } => {
            // `list` loads nothing: it reads each file's metadata section.
            let listing = Catalog::list(&search_path, &load_options, &isolation);
            return list(&search_path, &listing, *output, cli.verbose > 0);
        }
        Command::Lock { file, .. } => {
            let listing = Catalog::lock_listing(&search_path, &load_options, &isolation);
            return write_lock(&listing, file);
        }
        _ => {}
    }
    let config = match load_config(options.config.as_deref()) {
        Ok(config) => config,
        Err(error) => return Ok(fail(&error)),
    };
    if let Command::Check { output, .. } = cli.command {
        return check(&search_path, &load_options, &config, output);
    }
    // Only the files providing the backends this command is about are
    // loaded, and those the configuration names: it is validated whole.
    let mut names = match &cli.command {
        Command::ExporterConfig(args) | Command::HelmValues(args) => {
            selected(args.name.as_deref(), &config)
        }
        Command::Schema { name, .. } => vec![name.clone()],
        Command::CheckConnection { name, .. } => selected(name.as_deref(), &config),
        _ => config.selected().into_iter().map(str::to_owned).collect(),
    };
    for entry in config.backends() {
        if !names.contains(&entry.backend) {
            names.push(entry.backend.clone());
        }
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut load_options = load_options;
    if let Some(isolation) = load_options.isolation.as_mut() {
        call_ahead(isolation, &cli.command, &config);
    }
    let catalog = Catalog::load_selected(&search_path, &load_options, Selection::Names(&names));
    let mut config = config;
    check_versions(&mut config, &catalog);
    match cli.command {
        Command::ExporterConfig(args) => {
            document(&catalog, &config, &args, Call::GetOtlpExporterConfig)
        }
        Command::HelmValues(args) => {
            document(&catalog, &config, &args, Call::GetHelmValuesOverride)
        }
        Command::Render(render) => match render.command {
            RenderCommand::Collector(args) => {
                self::render(&catalog, &config, &args, Call::GetOtlpExporterConfig)
            }
            RenderCommand::Helm(HelmArgs {
                render: args,
                chart: None,
            }) => self::render(&catalog, &config, &args, Call::GetHelmValuesOverride),
            RenderCommand::Helm(HelmArgs {
                render: args,
                chart: Some(Chart::FloePlatform),
            }) => render_platform(&catalog, &config, &args),
        },
        Command::Schema { name, output, .. } => schema(&catalog, &name, output),
        Command::CheckConnection { name, output, .. } => {
            let timeout = options.plugins.timeout.unwrap_or(CONNECTION_TIMEOUT);
            check_connection(&catalog, &config, name.as_deref(), timeout, output)
        }
        _ => unreachable!("handled above"),
    }
}

/// Sends the call a command will make with each plugin file it loads, so
/// that the answer is ready once the host has checked the plugin (see
/// [`Isolation::call_ahead`]); the same backends and settings that the
/// command then calls. Only where nothing but those settings can fail
/// validation once the plugins are loaded, each checked by its own plugin
/// process before it calls: so a configuration that is refused has still
/// called no plugin.
fn call_ahead(isolation: &mut Isolation, command: &Command, config: &Config) {
    // `exporter-config` and `helm-values` print one backend, or refuse.
    let one = |args: &DocumentArgs| {
        let names = selected(args.name.as_deref(), config);
        if names.len() == 1 { names } else { Vec::new() }
    };
    let (call, names) = match command {
        Command::ExporterConfig(args) => (Call::GetOtlpExporterConfig, one(args)),
        Command::HelmValues(args) => (Call::GetHelmValuesOverride, one(args)),
        Command::Render(render) => match &render.command {
            RenderCommand::Collector(_) => (Call::GetOtlpExporterConfig, owned(config.selected())),
            RenderCommand::Helm(HelmArgs { chart: None, .. }) => {
                (Call::GetHelmValuesOverride, owned(config.selected()))
            }
            RenderCommand::Helm(_) => return,
        },
        _ => return,
    };
    let only_these = config
        .backends()
        .iter()
        .all(|entry| entry.version.is_none() && names.contains(&entry.backend));
    if !config.violations().is_empty() || !only_these {
        return;
    }
    for name in names {
        isolation.call_ahead(&name, call, config.settings_of(&name));
    }
}

fn owned(names: Vec<&str>) -> Vec<String> {
    names.into_iter().map(str::to_owned).collect()
}

/// The configuration file named by `-c` or the environment, or the default
/// configuration when there is none; a version it pins that is not the
/// installed plugin's is one more violation of it.
/// The configuration file named by `-c`, the environment, or found in the
/// user's or the system's configuration directory.
fn load_config(flag: Option<&Path>) -> Result<Config, Error> {
    match config_path::find(flag) {
        Some((file, _)) => Config::load(&file),
        None => Ok(Config::default()),
    }
}

/// A manifest may pin each backend's version: checked against the plugins
/// loaded, with the rest of the configuration.
fn check_versions(config: &mut Config, catalog: &Catalog) {
    config.check_versions(|name| {
        catalog
            .get(name)
            .ok()
            .map(|plugin| plugin.info().version.to_string())
    });
}

/// The backends a command is about: `name`, or those `config` selects.
fn selected(name: Option<&str>, config: &Config) -> Vec<String> {
    match name {
        Some(name) => vec![name.to_owned()],
        None => config.selected().into_iter().map(str::to_owned).collect(),
    }
}

/// Prints `error` (one `error:` line per line of it) and returns its exit
/// status: 2 for what the user got wrong on the command line or in the
/// configuration, 1 for a plugin's failure.
pub(crate) fn fail(error: &Error) -> ExitCode {
    for line in error.to_text().lines() {
        eprintln!("error: {line}");
    }
    match error.kind() {
        ErrorKind::InvalidConfig => {
            eprintln!(
                "note: no plugin was called; `floe-telemetry schema NAME` shows the settings a \
                 backend takes"
            );
            ExitCode::from(USAGE)
        }
        ErrorKind::UnknownBackend
        | ErrorKind::Refused
        | ErrorKind::ConfigUnreadable
        | ErrorKind::HelmConflict
        | ErrorKind::LockUnreadable
        | ErrorKind::TrustUnreadable
        | ErrorKind::KeyUnusable => ExitCode::from(USAGE),
        _ => ExitCode::FAILURE,
    }
}

fn list(
    search_path: &SearchPath,
    listing: &Listing,
    output: ListFormat,
    verbose: bool,
) -> io::Result<ExitCode> {
    let report = ListReport::of_listing(search_path, listing);
    let mut stdout = io::stdout().lock();
    match output {
        ListFormat::Table => {
            warn_all(&report.problems);
            if verbose {
                writeln!(stdout, "{}", report.search_path_text())?;
            }
            if report.plugins.is_empty() {
                eprintln!(
                    "warning: no plugins found; run `floe-telemetry list -v` to see where they \
                     are searched, or add a directory with --plugin-dir"
                );
            } else {
                stdout.write_all(report.plugin_table().as_bytes())?;
            }
        }
        ListFormat::Json => print(&mut stdout, &report, Format::Json)?,
        ListFormat::Yaml => print(&mut stdout, &report, Format::Yaml)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn keygen(base: &Path) -> ExitCode {
    match signature::keygen(base) {
        Ok((secret, public)) => {
            eprintln!(
                "wrote {} (secret: keep it private) and {} (public: copy it into the trust \
                 directories of the hosts that load your plugins)",
                escape_path(&secret),
                escape_path(&public)
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error),
    }
}

fn sign(plugin: &Path, key: &Path) -> ExitCode {
    match signature::sign(plugin, key) {
        Ok(signature) => {
            eprintln!(
                "wrote {}; ship it beside the plugin",
                escape_path(&signature)
            );
            ExitCode::SUCCESS
        }
        Err(error) if error.kind() == ErrorKind::KeyUnusable => fail(&error),
        Err(error) => {
            eprintln!("error: {}: {}", escape_path(plugin), error.to_text());
            ExitCode::FAILURE
        }
    }
}

/// Writes the lock file of `listing` to `file`; files with problems are not
/// pinned, and said so.
fn write_lock(listing: &Listing, file: &Path) -> io::Result<ExitCode> {
    for problem in &listing.problems {
        eprintln!("warning: {problem} (not locked)");
    }
    let lock = match Lock::of(listing) {
        Ok(lock) => lock,
        Err(error) => return Ok(fail(&error)),
    };
    if let Err(error) = std::fs::write(file, lock.to_json()) {
        eprintln!(
            "error: {}: cannot write the lock file: {}",
            escape_path(file),
            escape_control(&error.to_string())
        );
        return Ok(ExitCode::FAILURE);
    }
    eprintln!(
        "locked {} plugin(s) in {}; use it with --locked={}",
        lock.plugins.len(),
        escape_path(file),
        escape_path(file)
    );
    Ok(ExitCode::SUCCESS)
}

fn document(
    catalog: &Catalog,
    config: &Config,
    args: &DocumentArgs,
    call: Call,
) -> io::Result<ExitCode> {
    warn_about_problems(catalog);
    let name = match selected(args.name.as_deref(), config).as_slice() {
        [name] => name.clone(),
        names => {
            eprintln!(
                "error: {}: selects {} backends ({}); name the one to print",
                escape_control(&config.source_name()),
                names.len(),
                escape_control(&names.join(", "))
            );
            return Ok(ExitCode::from(USAGE));
        }
    };
    let configured = match catalog.configure(config, &name) {
        Ok(configured) => configured,
        Err(error) => return Ok(fail(&error)),
    };
    match configured.call(call) {
        Ok(object) => {
            let format = match args.output {
                DocumentFormat::Yaml => Format::Yaml,
                DocumentFormat::Json => Format::Json,
            };
            print(&mut io::stdout().lock(), &object, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            let path = escape_path(&configured.plugin().info().path);
            eprintln!("error: {path}: {}", error.to_text());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Other plugins' problems do not stop a command about some plugins, but the
/// user should know.
fn warn_about_problems(catalog: &Catalog) {
    for problem in catalog.problems() {
        eprintln!("warning: {problem}");
    }
}

/// `render collector` (`call` the exporter fragment) or `render helm` (the
/// What `render` composes: the `--base` file, and every selected backend
/// with its settings, all checked before any backend is called.
fn composition<'c>(
    catalog: &'c Catalog,
    config: &Config,
    args: &RenderArgs,
) -> Result<(Option<JsonObject>, Vec<Configured<'c>>), ExitCode> {
    warn_about_problems(catalog);
    let base = args
        .base
        .as_deref()
        .map(render::load_base)
        .transpose()
        .map_err(|error| fail(&error))?;
    let configured = catalog
        .configure_all(config, &config.selected())
        .map_err(|error| fail(&error))?;
    Ok((base, configured))
}

/// Helm values): every selected backend, composed onto --base.
fn render(
    catalog: &Catalog,
    config: &Config,
    args: &RenderArgs,
    call: Call,
) -> io::Result<ExitCode> {
    let (base, configured) = match composition(catalog, config, args) {
        Ok(ready) => ready,
        Err(code) => return Ok(code),
    };
    let mut outputs = Vec::new();
    for backend in &configured {
        let info = backend.plugin().info();
        match backend.call(call) {
            Ok(object) => outputs.push((info, object)),
            Err(error) => {
                eprintln!("error: {}: {}", escape_path(&info.path), error.to_text());
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let composed = if call == Call::GetOtlpExporterConfig {
        let fragments: Vec<BackendFragment> = outputs
            .into_iter()
            .map(|(info, fragment)| BackendFragment {
                backend: info.name.clone(),
                signals: info.signals.clone(),
                fragment,
            })
            .collect();
        render::collector(base.as_ref(), &fragments).map(|composed| {
            for rename in &composed.renamed {
                eprintln!("note: {}", escape_control(&rename.to_string()));
            }
            for unsent in &composed.unsent {
                eprintln!("note: {}", escape_control(unsent));
            }
            composed.config
        })
    } else {
        let values: Vec<(String, JsonObject)> = outputs
            .into_iter()
            .map(|(info, values)| (info.name.clone(), values))
            .collect();
        render::helm(base.as_ref(), &values)
    };
    match composed {
        Ok(object) => {
            let format = match args.output {
                DocumentFormat::Yaml => Format::Yaml,
                DocumentFormat::Json => Format::Json,
            };
            print(&mut io::stdout().lock(), &object, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Ok(fail(&error)),
    }
}

/// `render helm --chart floe-platform`: the umbrella chart's values, and a
/// note for each Secret to create.
fn render_platform(catalog: &Catalog, config: &Config, args: &RenderArgs) -> io::Result<ExitCode> {
    let (base, configured) = match composition(catalog, config, args) {
        Ok(ready) => ready,
        Err(code) => return Ok(code),
    };
    let mut backends = Vec::new();
    for backend in &configured {
        let info = backend.plugin().info();
        let calls = (
            backend.call(Call::GetOtlpExporterConfig),
            backend.call(Call::GetHelmValuesOverride),
        );
        let (fragment, helm_values) = match calls {
            (Ok(fragment), Ok(values)) => (fragment, values),
            (Err(error), _) | (_, Err(error)) => {
                eprintln!("error: {}: {error}", info.path.display());
                return Ok(ExitCode::FAILURE);
            }
        };
        let entry = config.entry(&info.name);
        backends.push(platform::Backend {
            fragment: BackendFragment {
                backend: info.name.clone(),
                signals: info.signals.clone(),
                fragment,
            },
            helm_values,
            settings: entry.map(|e| e.settings.clone()).unwrap_or_default(),
            config_path: entry.map(|e| e.path.clone()),
            secret: entry
                .map(|e| e.secret_name())
                .unwrap_or_else(|| default_secret_name(&info.name)),
        });
    }
    let composed = match platform::values(&backends, base.as_ref(), &config.source_name()) {
        Ok(composed) => composed,
        Err(error) => return Ok(fail(&error)),
    };
    for rename in &composed.renamed {
        eprintln!("note: {rename}");
    }
    if let Some(base) = &args.base {
        for path in &composed.replaced_in_base {
            eprintln!(
                "note: {}: `{path}` is replaced by the composed value",
                base.display()
            );
        }
    }
    for secret in &composed.secrets {
        eprintln!(
            "note: the collector reads {} from the Secret {}; create it before installing: {}",
            secret.keys.join(", "),
            secret.name,
            secret.create_command()
        );
    }
    let format = match args.output {
        DocumentFormat::Yaml => Format::Yaml,
        DocumentFormat::Json => Format::Json,
    };
    print(&mut io::stdout().lock(), &composed.values, format)?;
    Ok(ExitCode::SUCCESS)
}

fn schema(catalog: &Catalog, name: &str, output: SchemaFormat) -> io::Result<ExitCode> {
    let plugin = match catalog.get(name) {
        Ok(plugin) => plugin,
        Err(error) => return Ok(fail(&error)),
    };
    let schema = match plugin.settings_schema() {
        Ok(Some(schema)) => schema,
        // An API 1.0 plugin takes no settings: exactly what this accepts.
        Ok(None) => serde_json::from_str::<JsonObject>(
            r#"{"type": "object", "properties": {}, "additionalProperties": false}"#,
        )
        .expect("a literal JSON object"),
        Err(error) => {
            eprintln!(
                "error: {}: {}",
                escape_path(&plugin.info().path),
                error.to_text()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let format = match output {
        SchemaFormat::Json => Format::Json,
        SchemaFormat::Yaml => Format::Yaml,
    };
    print(&mut io::stdout().lock(), &schema, format)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ConnectionReport {
    timeout_ms: u128,
    endpoints: Vec<EndpointReport>,
}

#[derive(Serialize)]
struct EndpointReport {
    backend: String,
    endpoint: String,
    #[serde(flatten)]
    outcome: Outcome,
}

fn check_connection(
    catalog: &Catalog,
    config: &Config,
    name: Option<&str>,
    timeout: Duration,
    output: CheckFormat,
) -> io::Result<ExitCode> {
    // Every backend's settings are checked before any address is tried.
    let names = selected(name, config);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let all = match catalog.configure_all(config, &names) {
        Ok(all) => all,
        Err(error) => return Ok(fail(&error)),
    };
    let mut targets = Vec::new();
    for (name, configured) in names.iter().zip(&all) {
        let path = escape_path(&configured.plugin().info().path);
        match configured.endpoints() {
            // console writes to the collector's own log: nothing to reach.
            Ok(endpoints) if endpoints.is_empty() => {
                eprintln!(
                    "note: {} connects to no address: nothing to check",
                    escape_control(name)
                );
            }
            Ok(endpoints) => targets.extend(endpoints.into_iter().map(|e| (name.to_string(), e))),
            Err(error) => {
                eprintln!("error: {path}: {}", error.to_text());
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let report = ConnectionReport {
        timeout_ms: timeout.as_millis(),
        endpoints: targets
            .into_iter()
            .map(|(backend, endpoint)| EndpointReport {
                outcome: connection::check(&endpoint, timeout),
                backend,
                endpoint,
            })
            .collect(),
    };
    let mut stdout = io::stdout().lock();
    match output {
        CheckFormat::Json => print(&mut stdout, &report, Format::Json)?,
        CheckFormat::Table => {
            for entry in &report.endpoints {
                let status = if entry.outcome.is_reachable() {
                    "ok"
                } else {
                    "FAIL"
                };
                // The endpoint is the plugin's: it could forge a row.
                let line = format!("{}  {}: {}", entry.backend, entry.endpoint, entry.outcome);
                writeln!(stdout, "{status:<4}  {}", escape_control(&line))?;
            }
        }
    }
    // The first failure decides the status, so a script can tell why.
    let code = report
        .endpoints
        .iter()
        .map(|entry| entry.outcome.exit_code())
        .find(|code| *code != 0)
        .unwrap_or(0);
    Ok(ExitCode::from(code))
}

fn check(
    search_path: &SearchPath,
    options: &LoadOptions,
    config: &Config,
    output: CheckFormat,
) -> io::Result<ExitCode> {
    // Settings are checked before any plugin is called, as for the other
    // commands; an invalid configuration is a usage error, not a problem of
    // the plugins.
    let checked = match Catalog::check(search_path, options, config) {
        Ok(checked) => checked,
        Err(error) => return Ok(fail(&error)),
    };
    let report = ListReport::of_checked(search_path, &checked);
    let mut stdout = io::stdout().lock();
    match output {
        CheckFormat::Json => print(&mut stdout, &report, Format::Json)?,
        CheckFormat::Table => {
            for info in &report.plugins {
                let failed = report.problems.iter().any(|p| p.path == info.path);
                let status = if failed { "FAIL" } else { "ok" };
                writeln!(
                    stdout,
                    "{status:<4}  {} {}  {}",
                    escape_control(&info.name),
                    escape_control(&info.version.to_string()),
                    escape_path(&info.path)
                )?;
            }
            for problem in &report.problems {
                writeln!(stdout, "error: {}", problem.to_text())?;
            }
            writeln!(
                stdout,
                "{} plugin(s) loaded, {} problem(s)",
                report.plugins.len(),
                report.problems.len()
            )?;
        }
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn warn_all(problems: &[ProblemReport]) {
    for problem in problems {
        eprintln!("warning: {}", problem.to_text());
    }
}

fn print(out: &mut impl Write, value: &impl serde::Serialize, format: Format) -> io::Result<()> {
    let text = report::render(value, format).map_err(io::Error::other)?;
    out.write_all(text.as_bytes())
}
