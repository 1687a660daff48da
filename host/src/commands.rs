//! What each subcommand does.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use floe_host::connection::{self, Outcome};
use floe_host::lock::{Lock, Locked};
use floe_host::report::{self, Format, ListReport, ProblemReport};
use floe_host::signature::{self, Trust};
use floe_host::{
    Call, Catalog, Config, Error, ErrorKind, Isolation, JsonObject, Listing, LoadOptions,
    PLUGIN_PATH_ENV, SearchPath, config_path, isolation,
};
use serde::Serialize;

use floe_host::render::{self, BackendFragment};

use crate::cli::{
    CheckFormat, Cli, Command, DocumentArgs, DocumentFormat, ListFormat, RenderArgs, RenderCommand,
    SchemaFormat,
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
    if let Command::PluginWorker { path } = &cli.command {
        isolation::serve(path)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Keys, signatures and the shell's files concern what is named on the
    // command line, not the plugins found.
    match &cli.command {
        Command::Keygen { out } => return Ok(keygen(out)),
        Command::Sign { plugin, key } => return Ok(sign(plugin, key)),
        Command::Completions { shell } => return completions(*shell),
        Command::Manpage => return manpage(),
        _ => {}
    }
    let options = match cli.options() {
        Ok(options) => options,
        Err(error) => error.exit(),
    };
    let env_path = std::env::var_os(PLUGIN_PATH_ENV);
    let search_path = SearchPath::new(
        &options.search().plugin_dirs,
        env_path.as_deref(),
        !options.search().no_default_plugin_dirs,
    );
    let plugin_timeout = options.plugins.timeout.unwrap_or(PLUGIN_TIMEOUT);
    let checks = options.checks();
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
    if let Command::Install(_) | Command::Uninstall(_) = &cli.command {
        let options = LoadOptions {
            isolation: None,
            allow_insecure_permissions: checks.allow_insecure_permissions,
            lock: None,
            trust,
        };
        let isolation = Isolation::through_current_exe(plugin_timeout)?;
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
    if let Command::List { .. } | Command::Lock { .. } = cli.command {
        // `list` loads nothing: it reads each file's metadata section. Only a
        // plugin built without one is loaded, and never into this process.
        let options = LoadOptions {
            isolation: None,
            allow_insecure_permissions: checks.allow_insecure_permissions,
            lock,
            trust,
        };
        let isolation = Isolation::through_current_exe(plugin_timeout)?;
        let listing = Catalog::list(&search_path, &options, &isolation);
        return match cli.command {
            Command::List { output, .. } => list(&search_path, &listing, output, cli.verbose > 0),
            Command::Lock { file, .. } => write_lock(&listing, &file),
            _ => unreachable!("matched above"),
        };
    }
    // Calling a plugin is where a broken one does harm, so those commands
    // isolate unless told otherwise; `check` exists to survive broken plugins.
    let isolate = match cli.command {
        Command::Check { .. } => true,
        Command::ExporterConfig(_)
        | Command::HelmValues(_)
        | Command::Render(_)
        | Command::Schema { .. }
        | Command::CheckConnection { .. } => !options.isolation.in_process,
        Command::List { .. }
        | Command::Lock { .. }
        | Command::Install(_)
        | Command::Uninstall(_)
        | Command::Keygen { .. }
        | Command::Sign { .. }
        | Command::Completions { .. }
        | Command::Manpage
        | Command::PluginWorker { .. } => unreachable!("handled above"),
    };
    let load_options = LoadOptions {
        isolation: if isolate {
            Some(Isolation::through_current_exe(plugin_timeout)?)
        } else {
            None
        },
        allow_insecure_permissions: checks.allow_insecure_permissions,
        lock,
        trust,
    };
    let catalog = Catalog::load(&search_path, &load_options);
    let config = options.config.as_deref();
    match cli.command {
        Command::ExporterConfig(args) => {
            document(&catalog, config, &args, Call::GetOtlpExporterConfig)
        }
        Command::HelmValues(args) => document(&catalog, config, &args, Call::GetHelmValuesOverride),
        Command::Render(render) => match render.command {
            RenderCommand::Collector(args) => {
                self::render(&catalog, config, &args, Call::GetOtlpExporterConfig)
            }
            RenderCommand::Helm(args) => {
                self::render(&catalog, config, &args, Call::GetHelmValuesOverride)
            }
        },
        Command::Check { output, .. } => check(&search_path, &catalog, config, output),
        Command::Schema { name, output, .. } => schema(&catalog, &name, output),
        Command::CheckConnection { name, output, .. } => {
            let timeout = options.plugins.timeout.unwrap_or(CONNECTION_TIMEOUT);
            check_connection(&catalog, config, name.as_deref(), timeout, output)
        }
        _ => unreachable!("handled above"),
    }
}

/// The configuration file named by `-c`, the environment, or found in the
/// user's or the system's configuration directory; the default
/// configuration when there is none.
fn load_config(flag: Option<&Path>) -> Result<Config, Error> {
    match config_path::find(flag) {
        Some((file, _)) => Config::load(&file),
        None => Ok(Config::default()),
    }
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
    for line in error.to_string().lines() {
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
                secret.display(),
                public.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error),
    }
}

fn sign(plugin: &Path, key: &Path) -> ExitCode {
    match signature::sign(plugin, key) {
        Ok(signature) => {
            eprintln!("wrote {}; ship it beside the plugin", signature.display());
            ExitCode::SUCCESS
        }
        Err(error) if error.kind() == ErrorKind::KeyUnusable => fail(&error),
        Err(error) => {
            eprintln!("error: {}: {error}", plugin.display());
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
            "error: {}: cannot write the lock file: {error}",
            file.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    eprintln!(
        "locked {} plugin(s) in {}; use it with --locked={}",
        lock.plugins.len(),
        file.display(),
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn document(
    catalog: &Catalog,
    config: Option<&Path>,
    args: &DocumentArgs,
    call: Call,
) -> io::Result<ExitCode> {
    let config = match load_config(config) {
        Ok(config) => config,
        Err(error) => return Ok(fail(&error)),
    };
    warn_about_problems(catalog);
    if let Err(error) = catalog.validate(&config) {
        return Ok(fail(&error));
    }
    let name = match selected(args.name.as_deref(), &config).as_slice() {
        [name] => name.clone(),
        names => {
            eprintln!(
                "error: {}: selects {} backends ({}); name the one to print",
                config.source_name(),
                names.len(),
                names.join(", ")
            );
            return Ok(ExitCode::from(USAGE));
        }
    };
    let configured = match catalog.configure(&config, &name) {
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
            let path = configured.plugin().info().path.display();
            eprintln!("error: {path}: {error}");
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
/// Helm values): every selected backend, composed onto --base.
fn render(
    catalog: &Catalog,
    config: Option<&Path>,
    args: &RenderArgs,
    call: Call,
) -> io::Result<ExitCode> {
    let config = match load_config(config) {
        Ok(config) => config,
        Err(error) => return Ok(fail(&error)),
    };
    warn_about_problems(catalog);
    let base = match args.base.as_deref().map(render::load_base).transpose() {
        Ok(base) => base,
        Err(error) => return Ok(fail(&error)),
    };
    // Every backend's settings are checked before any is called, and every
    // mistake in the file is reported at once, misspelt backend names too.
    if let Err(error) = catalog.validate(&config) {
        return Ok(fail(&error));
    }
    let configured = match catalog.configure_all(&config, &config.selected()) {
        Ok(configured) => configured,
        Err(error) => return Ok(fail(&error)),
    };
    let mut outputs = Vec::new();
    for backend in &configured {
        let info = backend.plugin().info();
        match backend.call(call) {
            Ok(object) => outputs.push((info, object)),
            Err(error) => {
                eprintln!("error: {}: {error}", info.path.display());
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
                eprintln!("note: {rename}");
            }
            for unsent in &composed.unsent {
                eprintln!("note: {unsent}");
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
            eprintln!("error: {}: {error}", plugin.info().path.display());
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
    config: Option<&Path>,
    name: Option<&str>,
    timeout: Duration,
    output: CheckFormat,
) -> io::Result<ExitCode> {
    let config = match load_config(config) {
        Ok(config) => config,
        Err(error) => return Ok(fail(&error)),
    };
    // Every backend's settings are checked before any address is tried.
    if let Err(error) = catalog.validate(&config) {
        return Ok(fail(&error));
    }
    let names = selected(name, &config);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let all = match catalog.configure_all(&config, &names) {
        Ok(all) => all,
        Err(error) => return Ok(fail(&error)),
    };
    let mut targets = Vec::new();
    for (name, configured) in names.iter().zip(&all) {
        let path = configured.plugin().info().path.display();
        match configured.endpoints() {
            Ok(endpoints) if endpoints.is_empty() => {
                eprintln!(
                    "error: {path}: {name} names no endpoint to check; report this to the \
                     plugin's author"
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(endpoints) => targets.extend(endpoints.into_iter().map(|e| (name.to_string(), e))),
            Err(error) => {
                eprintln!("error: {path}: {error}");
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
                writeln!(
                    stdout,
                    "{status:<4}  {}  {}: {}",
                    entry.backend, entry.endpoint, entry.outcome
                )?;
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
    catalog: &Catalog,
    config: Option<&Path>,
    output: CheckFormat,
) -> io::Result<ExitCode> {
    let config = match load_config(config) {
        Ok(config) => config,
        Err(error) => return Ok(fail(&error)),
    };
    // Settings are checked before any plugin is called, as for the other
    // commands; an invalid configuration is a usage error, not a problem of
    // the plugins.
    if let Err(error) = catalog.validate(&config) {
        return Ok(fail(&error));
    }
    let call_problems = catalog.check_calls(&config);
    let report = ListReport::new(search_path, catalog, &call_problems);
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
                    info.name,
                    info.version,
                    info.path.display()
                )?;
            }
            for problem in &report.problems {
                writeln!(
                    stdout,
                    "error: {}: {}",
                    problem.path.display(),
                    problem.error
                )?;
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
        eprintln!("warning: {}: {}", problem.path.display(), problem.error);
    }
}

fn print(out: &mut impl Write, value: &impl serde::Serialize, format: Format) -> io::Result<()> {
    let text = report::render(value, format).map_err(io::Error::other)?;
    out.write_all(text.as_bytes())
}
