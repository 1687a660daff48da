//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Plugin search path, in order:
  1. each --plugin-dir DIR
  2. each directory in $FLOE_PLUGIN_PATH (separated by ':')
  3. the directory of the floe-telemetry executable, then
     <prefix>/lib/floe-telemetry/plugins for <prefix>/bin/floe-telemetry
     (skipped with --no-default-plugin-dirs)
Files ending in .so are candidates, by file name within each directory. Of two
plugins with the same name, the first found wins. `list -v` shows the path.

Commands that call plugins (exporter-config, helm-values, check) run each one in
a process of its own, so that a plugin that crashes or hangs fails alone; `list`
loads them into floe-telemetry itself unless --isolate (or FLOE_TELEMETRY_ISOLATE=1).
--in-process makes calls in floe-telemetry too, except for `check`. Plugin files
must be regular files, not writable by group or others, owned by you or root.

Exit status: 0 success; 1 a plugin failed (or `check` found a problem);
2 usage error or unknown backend name.

Logging goes to stderr: -v, -vv, -vvv, or RUST_LOG (e.g. RUST_LOG=floe_host=debug).";

/// Lists, checks and calls floe telemetry backend plugins.
///
/// A backend plugin says where floe's OpenTelemetry data goes: the
/// OpenTelemetry Collector exporter to configure, and the Helm values that
/// deploy the backend's own services.
#[derive(Debug, Parser)]
#[command(name = "floe-telemetry", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub search: SearchArgs,

    #[command(flatten)]
    pub load: LoadArgs,

    /// More logging on stderr (repeat for more); RUST_LOG overrides it.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// Where to look for plugins.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Search DIR for plugins first (repeatable, searched in order).
    #[arg(long = "plugin-dir", value_name = "DIR", global = true)]
    pub plugin_dirs: Vec<PathBuf>,

    /// Search only --plugin-dir and $FLOE_PLUGIN_PATH, not the default directories.
    #[arg(long, global = true)]
    pub no_default_plugin_dirs: bool,
}

/// How to load plugins.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Run every plugin in a process of its own, `list` included, so that a
    /// plugin that crashes, exits or hangs while loading fails alone.
    #[arg(
        long,
        global = true,
        env = "FLOE_TELEMETRY_ISOLATE",
        conflicts_with = "in_process"
    )]
    pub isolate: bool,

    /// Run plugins inside floe-telemetry, even for commands that call them
    /// (faster; a crashing plugin then takes the command down). Not for `check`.
    #[arg(long, global = true)]
    pub in_process: bool,

    /// Time limit for loading a plugin or one call, with --isolate: `10s`, `500ms`, `2m`.
    #[arg(long, global = true, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Load plugin files that others could have changed: writable by group or
    /// others, owned by another user, or linked from outside the plugin directories.
    #[arg(long, global = true)]
    pub allow_insecure_permissions: bool,
}

/// `10`, `10s`, `500ms`, `2m`: a time limit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 10s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        other => return Err(format!("unknown unit {other:?}: use ms, s or m")),
    };
    if !(seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!(
            "{text:?} is out of range: more than 0 and at most a day"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the installed backends (problems go to stderr).
    List {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        output: ListFormat,
    },
    /// Print a backend's OpenTelemetry Collector exporter configuration.
    ExporterConfig(DocumentArgs),
    /// Print the Helm values that deploy a backend's own services.
    HelmValues(DocumentArgs),
    /// Load every plugin file and call every backend; exit 1 on any problem.
    Check {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = CheckFormat::Table)]
        output: CheckFormat,
    },
    /// Load one plugin and answer calls on stdin; how --isolate runs plugins.
    #[command(name = floe_host::isolation::WORKER_SUBCOMMAND, hide = true)]
    PluginWorker { path: PathBuf },
}

#[derive(Debug, Args)]
pub struct DocumentArgs {
    /// The backend's name, as shown by `list`.
    pub name: String,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = DocumentFormat::Yaml)]
    pub output: DocumentFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DocumentFormat {
    Yaml,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "s", "0", "-1s", "10h", "1e9", "NaN", "ten"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn global_flags_go_after_the_subcommand_too() {
        let cli = Cli::try_parse_from([
            "floe-telemetry",
            "list",
            "--plugin-dir",
            "/a",
            "-vv",
            "--plugin-dir=/b",
            "-o",
            "json",
        ])
        .unwrap();
        assert_eq!(
            cli.search.plugin_dirs,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(cli.verbose, 2);
        assert!(matches!(
            cli.command,
            Command::List {
                output: ListFormat::Json
            }
        ));
    }
}
