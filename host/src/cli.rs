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

Commands that call plugins (exporter-config, helm-values, render, check) run each one in
a process of its own, so that a plugin that crashes or hangs fails alone. `list`
loads no plugin: it reads each file's metadata section (a plugin built without
one is loaded in a process of its own). --in-process makes calls in
floe-telemetry itself, except for `check`. Plugin files
must be regular files, not writable by group or others, owned by you or root.

Configuration: -c FILE or $FLOE_TELEMETRY_CONFIG, a YAML or JSON file:
  backends:
    - backend: datadog
      config: {site: datadoghq.eu, api_key_env: DD_API_KEY}
Without one, the default backend (jaeger) with its defaults. Settings are
checked against each backend's schema (`schema NAME`) before any call.

Exit status: 0 success; 1 a plugin failed (or `check` found a problem);
2 usage error, unknown backend name, or invalid configuration.
check-connection: 0 reachable; 3 DNS failure; 4 connection refused;
5 timed out; 6 other network error (and 1, 2 as above).

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

    /// The configuration file (YAML or JSON): backends and their settings.
    #[arg(
        short,
        long,
        value_name = "FILE",
        env = "FLOE_TELEMETRY_CONFIG",
        global = true
    )]
    pub config: Option<PathBuf>,

    /// More logging on stderr (repeat for more); RUST_LOG overrides it.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// A boolean environment variable's value, spelled as people write it in
/// shells and unit files, in any case.
fn boolish(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(
            "expected 1, true, yes or on to turn it on, or 0, false, no or off to turn \
                  it off"
                .to_owned(),
        ),
    }
}

impl Cli {
    /// Parses the command line and the environment, and exits with a usage
    /// error when they are not a valid invocation.
    pub fn parse_checked() -> Cli {
        let cli = Cli::parse();
        if let Err(error) = cli.load.check() {
            error.exit();
        }
        cli
    }
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
    /// Run every plugin in a process of its own, so that a plugin that
    /// crashes, exits or hangs while loading fails alone (the default for
    /// commands that call plugins; `list` loads none).
    #[arg(
        long,
        global = true,
        env = "FLOE_TELEMETRY_ISOLATE",
        value_parser = boolish
    )]
    pub isolate: bool,

    /// Run plugins inside floe-telemetry, even for commands that call them
    /// (faster; a crashing plugin then takes the command down). Not for `check`.
    #[arg(long, global = true)]
    pub in_process: bool,

    /// Time limit: for loading a plugin or one call in its own process
    /// (default 10s), and for each connection of check-connection (default 5s).
    /// Seconds, or e.g. 500ms, 5s, 2m.
    #[arg(long, global = true, value_name = "DURATION", value_parser = floe_host::connection::parse_timeout)]
    pub timeout: Option<Duration>,

    /// Load plugin files that others could have changed: writable by group or
    /// others, owned by another user, or linked from outside the plugin directories.
    #[arg(long, global = true)]
    pub allow_insecure_permissions: bool,

    /// Refuse every plugin file that the lock file does not pin, with its
    /// sha256, before reading it as a plugin. The lock file is
    /// ./floe-telemetry.lock, or FILE with --locked=FILE.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = floe_host::lock::DEFAULT_LOCK_FILE,
        env = "FLOE_TELEMETRY_LOCKED"
    )]
    pub locked: Option<PathBuf>,

    /// Refuse every plugin file without a good signature (`<file>.sig`) by
    /// a key of the trust directory, before reading it as a plugin.
    #[arg(
        long,
        global = true,
        env = "FLOE_TELEMETRY_REQUIRE_SIGNATURES",
        value_parser = boolish
    )]
    pub require_signatures: bool,

    /// The trusted public keys for --require-signatures: the *.pub files
    /// of DIR.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "FLOE_TELEMETRY_TRUST_DIR"
    )]
    pub trust_dir: Option<PathBuf>,
}

impl LoadArgs {
    /// What clap's `requires` and `conflicts_with` would say, on the flags'
    /// values: to clap, `FLOE_TELEMETRY_ISOLATE=0` is as present as `=1`,
    /// yet it turns the flag off.
    fn check(&self) -> Result<(), clap::Error> {
        use clap::CommandFactory as _;
        use clap::error::ErrorKind;
        if self.require_signatures && self.trust_dir.is_none() {
            return Err(Cli::command().error(
                ErrorKind::MissingRequiredArgument,
                "--require-signatures (or FLOE_TELEMETRY_REQUIRE_SIGNATURES) needs --trust-dir \
                 DIR (or FLOE_TELEMETRY_TRUST_DIR), the directory of the trusted public keys",
            ));
        }
        if self.isolate && self.in_process {
            return Err(Cli::command().error(
                ErrorKind::ArgumentConflict,
                "--isolate (or FLOE_TELEMETRY_ISOLATE) cannot be used with --in-process",
            ));
        }
        Ok(())
    }
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
    /// Compose a whole collector configuration or one Helm values file from
    /// every backend the configuration selects.
    #[command(subcommand)]
    Render(RenderCommand),
    /// Load every plugin file and call every backend; exit 1 on any problem.
    Check {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = CheckFormat::Table)]
        output: CheckFormat,
    },
    /// Print the JSON Schema of a backend's settings.
    Schema {
        /// The backend's name, as shown by `list`.
        name: String,

        /// Output format.
        #[arg(short, long, value_enum, default_value_t = SchemaFormat::Json)]
        output: SchemaFormat,
    },
    /// Open a TCP connection to each address the backend sends to (exit 0
    /// reachable, 3 DNS failure, 4 refused, 5 timed out, 6 other error).
    CheckConnection {
        /// The backend's name, as shown by `list`; without it, every backend
        /// the configuration selects (jaeger without a configuration file).
        name: Option<String>,

        /// Output format.
        #[arg(short, long, value_enum, default_value_t = CheckFormat::Table)]
        output: CheckFormat,
    },
    /// Pin the installed plugins: write a lock file of each one's name,
    /// version, path and sha256, for --locked. Loads no plugin.
    Lock {
        /// The lock file to write.
        #[arg(long, value_name = "FILE", default_value = floe_host::lock::DEFAULT_LOCK_FILE)]
        file: PathBuf,
    },
    /// Make a signing key pair: BASE.key (secret, keep it private) and
    /// BASE.pub (copy it into trust directories).
    Keygen {
        /// Where to write the two files, without extension.
        #[arg(long, value_name = "BASE", default_value = "floe-telemetry-signing")]
        out: PathBuf,
    },
    /// Sign a plugin file: writes PLUGIN.sig beside it, covering its bytes.
    Sign {
        /// The plugin file.
        plugin: PathBuf,
        /// The secret key, as `keygen` writes it.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Check a built plugin library against the plugin rules, through the
    /// host's loader: one line per rule; exit 1 when any fails.
    CheckPlugin {
        /// The plugin library (`.so`).
        file: PathBuf,
    },
    /// Write a new backend plugin crate that builds, passes the plugin
    /// rules and loads.
    NewPlugin {
        /// The backend's name: `a-z`, `0-9` and `-`, starting with a letter.
        name: String,
        /// The crate's directory (default ./floe-backend-NAME); must not
        /// exist or be empty.
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct DocumentArgs {
    /// The backend's name, as shown by `list`; without it, the one backend
    /// the configuration selects (jaeger without a configuration file).
    pub name: Option<String>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = DocumentFormat::Yaml)]
    pub output: DocumentFormat,
}

#[derive(Debug, Subcommand)]
pub enum RenderCommand {
    /// A complete OpenTelemetry Collector configuration: receivers,
    /// processors, every selected backend's exporters and extensions, one
    /// pipeline per signal (ready for `otelcol --config`).
    Collector(RenderArgs),
    /// Every selected backend's Helm values, deep-merged onto --base
    /// (ready for `helm install -f`); with --chart floe-platform, the values
    /// of floe's umbrella chart: collector configuration, its credentials'
    /// Secrets, and Jaeger.
    Helm(HelmArgs),
}

#[derive(Debug, Args)]
pub struct HelmArgs {
    #[command(flatten)]
    pub render: RenderArgs,

    /// Write the values of this chart: `floe-platform` (floe's umbrella
    /// chart) puts the collector configuration under `otel.config`, reads
    /// credentials from Secrets (`otel.extraEnvs`) and deploys Jaeger only
    /// when it is selected.
    #[arg(long, value_enum, value_name = "CHART")]
    pub chart: Option<Chart>,
}

/// A chart `render helm --chart` writes values for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Chart {
    /// floe's umbrella chart.
    FloePlatform,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Your own collector configuration (or values file) to add the
    /// backends to; its receivers, processors and pipelines are kept.
    #[arg(long, value_name = "FILE")]
    pub base: Option<PathBuf>,

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
pub enum SchemaFormat {
    Json,
    Yaml,
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

    #[test]
    fn boolean_variables_take_the_usual_spellings() {
        for (value, expected) in [("1", true), ("YES", true), ("On", true), ("0", false)] {
            assert_eq!(boolish(value), Ok(expected), "{value}");
        }
        assert!(boolish("2").is_err() && boolish("").is_err());
    }

    #[test]
    fn require_signatures_needs_a_trust_dir_and_isolate_excludes_in_process() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["floe-telemetry"], args, &["list"]].concat())?;
            cli.load.check()
        };
        assert!(parse(&["--require-signatures"]).is_err());
        assert!(parse(&["--require-signatures", "--trust-dir", "/k"]).is_ok());
        assert!(parse(&["--isolate", "--in-process"]).is_err());
        assert!(parse(&["--isolate"]).is_ok());
        assert!(parse(&["--in-process"]).is_ok());
    }

    #[test]
    fn render_takes_a_base_and_a_format() {
        let cli = Cli::try_parse_from([
            "floe-telemetry",
            "render",
            "collector",
            "--base",
            "/etc/otelcol.yaml",
            "-o",
            "json",
        ])
        .unwrap();
        let Command::Render(RenderCommand::Collector(args)) = cli.command else {
            panic!("render collector")
        };
        assert_eq!(args.base, Some(PathBuf::from("/etc/otelcol.yaml")));
        assert_eq!(args.output, DocumentFormat::Json);
        assert!(Cli::try_parse_from(["floe-telemetry", "render", "helm"]).is_ok());
        let cli = Cli::try_parse_from([
            "floe-telemetry",
            "render",
            "helm",
            "--chart",
            "floe-platform",
        ])
        .unwrap();
        let Command::Render(RenderCommand::Helm(args)) = cli.command else {
            panic!("render helm")
        };
        assert_eq!(args.chart, Some(Chart::FloePlatform));
        assert!(
            Cli::try_parse_from(["floe-telemetry", "render", "collector", "--chart", "x"]).is_err()
        );
    }

    #[test]
    fn config_and_timeout() {
        let cli = Cli::try_parse_from([
            "floe-telemetry",
            "check-connection",
            "jaeger",
            "-c",
            "/etc/floe.yaml",
            "--timeout",
            "250ms",
        ])
        .unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("/etc/floe.yaml")));
        assert_eq!(cli.load.timeout, Some(Duration::from_millis(250)));
        assert!(matches!(cli.command, Command::CheckConnection { .. }));
        assert!(
            Cli::try_parse_from([
                "floe-telemetry",
                "check-connection",
                "x",
                "--timeout",
                "soon"
            ])
            .is_err()
        );
    }
}
