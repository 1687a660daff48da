//! What each subcommand does.

use std::io::{self, Write};
use std::process::ExitCode;

use floe_host::report::{self, Format, ListReport, ProblemReport};
use floe_host::{Call, Catalog, Isolation, LoadOptions, PLUGIN_PATH_ENV, SearchPath, isolation};

use crate::cli::{CheckFormat, Cli, Command, DocumentArgs, DocumentFormat, ListFormat};

/// Exit status for a usage error, as clap uses for its own.
const USAGE: u8 = 2;

pub fn run(cli: Cli) -> io::Result<ExitCode> {
    if let Command::PluginWorker { path } = &cli.command {
        isolation::serve(path)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Calling a plugin is where a broken one does harm, so those commands
    // isolate unless told otherwise; `check` exists to survive broken plugins.
    let isolate = match cli.command {
        Command::Check { .. } => true,
        Command::ExporterConfig(_) | Command::HelmValues(_) => !cli.load.in_process,
        Command::List { .. } | Command::PluginWorker { .. } => cli.load.isolate,
    };
    let options = LoadOptions {
        isolation: if isolate {
            Some(Isolation::through_current_exe(cli.load.timeout)?)
        } else {
            None
        },
        allow_insecure_permissions: cli.load.allow_insecure_permissions,
    };
    let env_path = std::env::var_os(PLUGIN_PATH_ENV);
    let search_path = SearchPath::new(
        &cli.search.plugin_dirs,
        env_path.as_deref(),
        !cli.search.no_default_plugin_dirs,
    );
    let catalog = Catalog::load(&search_path, &options);
    match cli.command {
        Command::List { output } => list(&search_path, &catalog, output, cli.verbose > 0),
        Command::ExporterConfig(args) => document(&catalog, &args, Call::GetOtlpExporterConfig),
        Command::HelmValues(args) => document(&catalog, &args, Call::GetHelmValuesOverride),
        Command::Check { output } => check(&search_path, &catalog, output),
        Command::PluginWorker { .. } => unreachable!("handled above"),
    }
}

fn list(
    search_path: &SearchPath,
    catalog: &Catalog,
    output: ListFormat,
    verbose: bool,
) -> io::Result<ExitCode> {
    let report = ListReport::new(search_path, catalog, &[]);
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

fn document(catalog: &Catalog, args: &DocumentArgs, call: Call) -> io::Result<ExitCode> {
    // Other plugins' problems do not stop this one, but the user should know.
    for problem in catalog.problems() {
        eprintln!("warning: {problem}");
    }
    let plugin = match catalog.get(&args.name) {
        Ok(plugin) => plugin,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(USAGE));
        }
    };
    match plugin.call(call) {
        Ok(object) => {
            let format = match args.output {
                DocumentFormat::Yaml => Format::Yaml,
                DocumentFormat::Json => Format::Json,
            };
            print(&mut io::stdout().lock(), &object, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {}: {error}", plugin.info().path.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn check(search_path: &SearchPath, catalog: &Catalog, output: CheckFormat) -> io::Result<ExitCode> {
    let call_problems = catalog.check_calls();
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
