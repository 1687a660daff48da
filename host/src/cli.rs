//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

pub mod plain;

const AFTER_HELP: &str = "\
Plugin search path, in order:
  1. each --plugin-dir DIR
  2. each directory in $FLOE_PLUGIN_PATH (separated by ':')
  3. the directory of the floe-telemetry executable, then
     <prefix>/lib/floe-telemetry/plugins for <prefix>/bin/floe-telemetry
     (where `install --system` puts plugins), then
     $XDG_DATA_HOME/floe-telemetry/plugins (where `install` puts them)
     (all skipped with --no-default-plugin-dirs)
Files ending in .so are candidates, by file name within each directory. Of two
plugins with the same name, the first found wins. `list -v` shows the path.

Commands that call plugins (exporter-config, helm-values, render, check) run each one in
a process of its own, so that a plugin that crashes or hangs fails alone. `list`
loads no plugin: it reads each file's metadata section (a plugin built without
one is loaded in a process of its own). --in-process makes calls in
floe-telemetry itself, except for `check`. Plugin files
must be regular files, not writable by group or others, owned by you or root.

Configuration, the first of: -c FILE, $FLOE_TELEMETRY_CONFIG,
$XDG_CONFIG_HOME/floe-telemetry/config.yaml, /etc/floe/telemetry.yaml; a YAML
or JSON file:
  backends:
    - backend: datadog
      config: {site: datadoghq.eu, api_key_env: DD_API_KEY}
Without one, the default backend (jaeger) with its defaults. Settings are
checked against each backend's schema (`schema NAME`) before any call.

Exit status: 0 success; 1 a plugin failed (or `check` found a problem);
2 usage error, unknown backend name, or invalid configuration.
check-connection: 0 reachable; 3 DNS failure; 4 connection refused;
5 timed out; 6 other network error (and 1, 2 as above).

Logging goes to stderr: -v, -vv, -vvv, or RUST_LOG (e.g. RUST_LOG=floe_host=debug);
coloured on a terminal unless NO_COLOR is set.";

/// Lists, checks and calls floe telemetry backend plugins.
///
/// A backend plugin says where floe's OpenTelemetry data goes: the
/// OpenTelemetry Collector exporter to configure, and the Helm values that
/// deploy the backend's own services.
#[derive(Debug, Parser)]
#[command(name = "floe-telemetry", version, after_help = AFTER_HELP)]
pub struct Cli {
    // First, so that no group's help heading carries over to it.
    /// More logging on stderr (repeat for more); RUST_LOG overrides it.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    // Every option a subcommand takes is also taken before it
    // (`floe-telemetry --plugin-dir DIR list`), as when they were global;
    // each subcommand's help shows only its own.
    #[command(flatten)]
    pub plugins: PluginArgs,

    #[command(flatten)]
    pub isolation: IsolationArgs,

    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Where to look for plugins, and what a plugin file must pass to be read.
#[derive(Debug, Clone, Default, Args)]
pub struct PluginArgs {
    /// Time limit: for loading a plugin or one call in its own process
    /// (default 10s), and for each connection of check-connection (default 5s).
    /// Seconds, or e.g. 500ms, 5s, 2m.
    #[arg(long, value_name = "DURATION", value_parser = floe_host::connection::parse_timeout)]
    pub timeout: Option<Duration>,

    // The groups last: each sets the help heading of what follows it.
    #[command(flatten)]
    pub search: SearchArgs,

    #[command(flatten)]
    pub checks: FileChecks,
}

/// Where to look for plugins.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Plugin search")]
pub struct SearchArgs {
    /// Search DIR for plugins first (repeatable, searched in order).
    #[arg(long = "plugin-dir", value_name = "DIR")]
    pub plugin_dirs: Vec<PathBuf>,

    /// Search only --plugin-dir and $FLOE_PLUGIN_PATH, not the default directories.
    #[arg(long)]
    pub no_default_plugin_dirs: bool,
}

/// What a plugin file must pass before it is read as a plugin.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Plugin checks")]
pub struct FileChecks {
    /// Load plugin files that others could have changed: writable by group or
    /// others, owned by another user, or linked from outside the plugin directories.
    #[arg(long)]
    pub allow_insecure_permissions: bool,

    /// Refuse every plugin file that the lock file does not pin, with its
    /// sha256, before reading it as a plugin. The lock file is
    /// ./floe-telemetry.lock, or FILE with --locked=FILE.
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = floe_host::lock::DEFAULT_LOCK_FILE,
        env = "FLOE_TELEMETRY_LOCKED"
    )]
    pub locked: Option<PathBuf>,

    /// Refuse every plugin file without a good signature (`<file>.sig`) by
    /// a key of the trust directory (needs --trust-dir), before reading it
    /// as a plugin.
    #[arg(long, env = "FLOE_TELEMETRY_REQUIRE_SIGNATURES", value_parser = boolish)]
    pub require_signatures: bool,

    /// The trusted public keys for --require-signatures: the *.pub files
    /// of DIR.
    #[arg(long, value_name = "DIR", env = "FLOE_TELEMETRY_TRUST_DIR")]
    pub trust_dir: Option<PathBuf>,
}

/// Whether the command line `args` (without the program name) plainly asks
/// for a command that calls plugins in processes of their own: a word names
/// such a command (after options such as `-c FILE`, or as the value of one:
/// this is a guess), and no word asks for help, the version, plugins in
/// process, or logs (a plugin process started before logging is set up
/// would log nothing). A hint only, for starting the plugin process before
/// the command line is parsed: a wrong guess costs a process or a moment.
pub fn plainly_calls_isolated(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    const CALLING: [&str; 6] = [
        "exporter-config",
        "helm-values",
        "render",
        "check",
        "schema",
        "check-connection",
    ];
    let mut calls = false;
    for arg in args {
        match arg.to_str() {
            Some("--in-process" | "--help" | "-h" | "help" | "--version" | "-V" | "--verbose") => {
                return false;
            }
            // -v, -vv, ...
            Some(flag)
                if flag.len() > 1
                    && flag
                        .strip_prefix('-')
                        .is_some_and(|v| v.bytes().all(|b| b == b'v')) =>
            {
                return false;
            }
            Some(word) => calls |= CALLING.contains(&word),
            None => {}
        }
    }
    calls
}

/// Where plugins run when they are called.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Plugin isolation")]
pub struct IsolationArgs {
    /// Run every plugin in a process of its own, so that a plugin that
    /// crashes, exits or hangs while loading fails alone (the default for
    /// commands that call plugins; `list` loads none).
    #[arg(long, env = "FLOE_TELEMETRY_ISOLATE", value_parser = boolish)]
    pub isolate: bool,

    /// Run plugins inside floe-telemetry, even for commands that call them
    /// (faster; a crashing plugin then takes the command down). Not for `check`.
    #[arg(long)]
    pub in_process: bool,
}

/// The configuration file.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Configuration")]
pub struct ConfigArgs {
    /// The configuration file (YAML or JSON): backends and their settings.
    /// Without it: $FLOE_TELEMETRY_CONFIG, then
    /// $XDG_CONFIG_HOME/floe-telemetry/config.yaml, then /etc/floe/telemetry.yaml.
    // Not `env`: the environment is the second place looked at, and -v
    // says which one was used (see floe_host::config_path).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// What to call plugins with: where they run, and their configuration.
#[derive(Debug, Clone, Default, Args)]
pub struct CallArgs {
    #[command(flatten)]
    pub isolation: IsolationArgs,

    #[command(flatten)]
    pub config: ConfigArgs,
}

impl PluginArgs {
    /// These options, then `later`'s, as if given in one place.
    fn then(mut self, later: &PluginArgs) -> PluginArgs {
        let search = &mut self.search;
        search
            .plugin_dirs
            .extend(later.search.plugin_dirs.iter().cloned());
        search.no_default_plugin_dirs |= later.search.no_default_plugin_dirs;
        let checks = &mut self.checks;
        checks.allow_insecure_permissions |= later.checks.allow_insecure_permissions;
        checks.require_signatures |= later.checks.require_signatures;
        checks.locked = later.checks.locked.clone().or(checks.locked.take());
        checks.trust_dir = later.checks.trust_dir.clone().or(checks.trust_dir.take());
        self.timeout = later.timeout.or(self.timeout);
        self
    }
}

impl IsolationArgs {
    fn then(mut self, later: &IsolationArgs) -> IsolationArgs {
        self.isolate |= later.isolate;
        self.in_process |= later.in_process;
        self
    }
}

impl ConfigArgs {
    fn then(self, later: &ConfigArgs) -> ConfigArgs {
        ConfigArgs {
            config: later.config.clone().or(self.config),
        }
    }
}

/// Every option that shapes how plugins are found, checked and called,
/// wherever on the command line it was given.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub plugins: PluginArgs,
    pub isolation: IsolationArgs,
    /// `-c`, when given (see [`floe_host::config_path::find`] for the rest).
    pub config: Option<PathBuf>,
}

impl Options {
    /// `--plugin-dir` and friends.
    pub fn search(&self) -> &SearchArgs {
        &self.plugins.search
    }

    /// `--locked`, `--require-signatures` and friends.
    pub fn checks(&self) -> &FileChecks {
        &self.plugins.checks
    }
}

/// The option groups a subcommand takes after its name, outermost first.
#[derive(Default)]
struct OwnOptions<'a> {
    plugins: Vec<&'a PluginArgs>,
    isolation: Vec<&'a IsolationArgs>,
    config: Vec<&'a ConfigArgs>,
}

impl Cli {
    /// The options given before the subcommand merged with those given
    /// after it, checked together as clap cannot check them across levels.
    pub fn options(&self) -> Result<Options, clap::Error> {
        let own = self.command.own_options();
        let mut plugins = self.plugins.clone();
        for later in own.plugins {
            plugins = plugins.then(later);
        }
        let mut isolation = self.isolation.clone();
        for later in own.isolation {
            isolation = isolation.then(later);
        }
        let mut config = self.config.clone();
        for later in own.config {
            config = config.then(later);
        }
        let usage = |message: &str| {
            use clap::CommandFactory;
            Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message)
        };
        if isolation.isolate && isolation.in_process {
            return Err(usage(
                "--isolate and --in-process cannot be used together; choose one",
            ));
        }
        if plugins.checks.require_signatures && plugins.checks.trust_dir.is_none() {
            return Err(usage(
                "--require-signatures needs --trust-dir DIR: the directory of the trusted *.pub keys",
            ));
        }
        Ok(Options {
            plugins,
            isolation,
            config: config.config,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the installed backends (problems go to stderr).
    List {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        output: ListFormat,

        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Print a backend's OpenTelemetry Collector exporter configuration.
    ExporterConfig(DocumentArgs),
    /// Print the Helm values that deploy a backend's own services.
    HelmValues(DocumentArgs),
    /// Compose a whole collector configuration or one Helm values file from
    /// every backend the configuration selects.
    Render(Render),
    /// Load every plugin file and call every backend; exit 1 on any problem.
    Check {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = CheckFormat::Table)]
        output: CheckFormat,

        #[command(flatten)]
        plugins: PluginArgs,

        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print the JSON Schema of a backend's settings.
    Schema {
        /// The backend's name, as shown by `list`.
        name: String,

        /// Output format.
        #[arg(short, long, value_enum, default_value_t = SchemaFormat::Json)]
        output: SchemaFormat,

        #[command(flatten)]
        plugins: PluginArgs,

        #[command(flatten)]
        isolation: IsolationArgs,
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

        #[command(flatten)]
        plugins: PluginArgs,

        #[command(flatten)]
        call: CallArgs,
    },
    /// Pin the installed plugins: write a lock file of each one's name,
    /// version, path and sha256, for --locked. Loads each plugin in a process
    /// of its own, and calls none.
    Lock {
        /// The lock file to write.
        #[arg(long, value_name = "FILE", default_value = floe_host::lock::DEFAULT_LOCK_FILE)]
        file: PathBuf,

        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Check a plugin file and copy it into the per-user (default) or the
    /// system plugin directory.
    Install(InstallArgs),
    /// Remove an installed plugin, by backend name, from the per-user
    /// (default) or the system plugin directory.
    Uninstall(UninstallArgs),
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
    /// Print a shell completion script (e.g. `floe-telemetry completions
    /// bash > /etc/bash_completion.d/floe-telemetry`).
    Completions {
        /// The shell to complete for.
        shell: Shell,
    },
    /// Print the manual page (roff), as shipped in the packages.
    #[command(hide = true)]
    Manpage,
    /// Check a built plugin library against the plugin rules, through the
    /// host's loader: one line per rule; exit 1 when any fails.
    CheckPlugin {
        /// The plugin library (`.so`).
        file: PathBuf,

        #[command(flatten)]
        plugins: PluginArgs,
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

impl Command {
    fn own_options(&self) -> OwnOptions<'_> {
        fn calling<'a>(plugins: &'a PluginArgs, call: &'a CallArgs) -> OwnOptions<'a> {
            OwnOptions {
                plugins: vec![plugins],
                isolation: vec![&call.isolation],
                config: vec![&call.config],
            }
        }
        match self {
            Command::List { plugins, .. } | Command::Lock { plugins, .. } => OwnOptions {
                plugins: vec![plugins],
                ..OwnOptions::default()
            },
            Command::Install(InstallArgs { plugins, .. })
            | Command::Uninstall(UninstallArgs { plugins, .. }) => OwnOptions {
                plugins: vec![plugins],
                ..OwnOptions::default()
            },
            Command::ExporterConfig(args) | Command::HelmValues(args) => {
                calling(&args.plugins, &args.call)
            }
            Command::CheckConnection { plugins, call, .. } => calling(plugins, call),
            Command::Render(render) => {
                let inner = render.command.args();
                OwnOptions {
                    plugins: vec![&render.plugins, &inner.plugins],
                    isolation: vec![&render.call.isolation, &inner.call.isolation],
                    config: vec![&render.call.config, &inner.call.config],
                }
            }
            Command::Check {
                plugins, config, ..
            } => OwnOptions {
                plugins: vec![plugins],
                config: vec![config],
                ..OwnOptions::default()
            },
            Command::Schema {
                plugins, isolation, ..
            } => OwnOptions {
                plugins: vec![plugins],
                isolation: vec![isolation],
                ..OwnOptions::default()
            },
            Command::Keygen { .. }
            | Command::Sign { .. }
            | Command::Completions { .. }
            | Command::Manpage
            | Command::NewPlugin { .. } => OwnOptions::default(),
            Command::CheckPlugin { plugins, .. } => OwnOptions {
                plugins: vec![plugins],
                ..OwnOptions::default()
            },
        }
    }
}

/// `render`: the options may come before or after `collector`/`helm`.
#[derive(Debug, Args)]
pub struct Render {
    #[command(flatten)]
    pub plugins: PluginArgs,

    #[command(flatten)]
    pub call: CallArgs,

    #[command(subcommand)]
    pub command: RenderCommand,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The plugin file (a .so built for this plugin API).
    pub plugin: PathBuf,

    /// Install for every user: <prefix>/lib/floe-telemetry/plugins beside
    /// this executable.
    #[arg(long, conflicts_with = "user")]
    pub system: bool,

    /// Install for yourself: $XDG_DATA_HOME/floe-telemetry/plugins (the default).
    #[arg(long)]
    pub user: bool,

    /// Replace an installed plugin of the same name but another version or build.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub plugins: PluginArgs,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// The backend's name, as shown by `list`.
    pub name: String,

    /// Remove it from the system plugin directory.
    #[arg(long, conflicts_with = "user")]
    pub system: bool,

    /// Remove it from your per-user plugin directory (the default).
    #[arg(long)]
    pub user: bool,

    #[command(flatten)]
    pub plugins: PluginArgs,
}

/// Shells `completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct DocumentArgs {
    /// The backend's name, as shown by `list`; without it, the one backend
    /// the configuration selects (jaeger without a configuration file).
    pub name: Option<String>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = DocumentFormat::Yaml)]
    pub output: DocumentFormat,

    #[command(flatten)]
    pub plugins: PluginArgs,

    #[command(flatten)]
    pub call: CallArgs,
}

#[derive(Debug, Subcommand)]
pub enum RenderCommand {
    /// A complete OpenTelemetry Collector configuration: receivers,
    /// processors, every selected backend's exporters and extensions, one
    /// pipeline per signal (ready for `otelcol --config`).
    Collector(RenderArgs),
    /// Every selected backend's Helm values, deep-merged onto --base
    /// (ready for `helm install -f`).
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

    #[command(flatten)]
    pub plugins: PluginArgs,

    #[command(flatten)]
    pub call: CallArgs,
}

impl RenderCommand {
    pub fn args(&self) -> &RenderArgs {
        match self {
            RenderCommand::Collector(args) => args,
            RenderCommand::Helm(args) => &args.render,
        }
    }
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

/// A boolean environment variable's value, spelled as people write it in
/// shells and unit files, in any case.
fn boolish(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(
            "expected 1, true, yes or on to turn it on, or 0, false, no or off to turn it off"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_calling_command_line_is_recognised_and_nothing_else() {
        let calls = |line: &str| plainly_calls_isolated(line.split_whitespace().map(Into::into));
        assert!(calls("exporter-config jaeger"));
        assert!(calls("render collector -c floe.yaml"));
        assert!(calls("check"));
        assert!(calls("-c floe.yaml render collector"));
        assert!(calls(
            "--plugin-dir /opt/plugins --timeout 5s exporter-config jaeger"
        ));
        assert!(!calls("exporter-config jaeger --in-process"));
        assert!(!calls("exporter-config --help"));
        assert!(!calls("exporter-config jaeger -vv"));
        assert!(!calls("exporter-config --verbose jaeger"));
        assert!(!calls("-v exporter-config jaeger"));
        assert!(!calls("help render"));
        assert!(!calls("list"));
        assert!(!calls("lock"));
        assert!(!calls("-c floe.yaml list"));
        assert!(!calls(""));
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("floe-telemetry").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn options_go_before_or_after_the_subcommand_in_order() {
        let cli = parse(&[
            "--plugin-dir",
            "/a",
            "list",
            "--plugin-dir",
            "/b",
            "-vv",
            "--plugin-dir=/c",
            "-o",
            "json",
        ]);
        let options = cli.options().unwrap();
        assert_eq!(
            options.search().plugin_dirs,
            [
                PathBuf::from("/a"),
                PathBuf::from("/b"),
                PathBuf::from("/c")
            ]
        );
        assert_eq!(cli.verbose, 2);
        assert!(matches!(
            cli.command,
            Command::List {
                output: ListFormat::Json,
                ..
            }
        ));
    }

    #[test]
    fn render_options_go_at_either_level() {
        let cli = parse(&[
            "render",
            "--in-process",
            "collector",
            "--base",
            "/etc/otelcol.yaml",
            "-c",
            "/etc/floe.yaml",
            "-o",
            "json",
        ]);
        let options = cli.options().unwrap();
        assert!(options.isolation.in_process);
        assert_eq!(options.config, Some(PathBuf::from("/etc/floe.yaml")));
        let Command::Render(render) = &cli.command else {
            panic!("render")
        };
        let RenderCommand::Collector(args) = &render.command else {
            panic!("render collector")
        };
        assert_eq!(args.base, Some(PathBuf::from("/etc/otelcol.yaml")));
        assert_eq!(args.output, DocumentFormat::Json);
        parse(&["render", "helm"]);
    }

    #[test]
    fn config_and_timeout() {
        let cli = parse(&[
            "check-connection",
            "jaeger",
            "-c",
            "/etc/floe.yaml",
            "--timeout",
            "250ms",
        ]);
        let options = cli.options().unwrap();
        assert_eq!(options.config, Some(PathBuf::from("/etc/floe.yaml")));
        assert_eq!(options.plugins.timeout, Some(Duration::from_millis(250)));
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

    #[test]
    fn a_later_value_wins_and_conflicts_are_seen_across_levels() {
        let cli = parse(&["--timeout", "1s", "list", "--timeout", "2s"]);
        assert_eq!(
            cli.options().unwrap().plugins.timeout,
            Some(Duration::from_secs(2))
        );
        let cli = parse(&["--isolate", "exporter-config", "--in-process"]);
        assert!(cli.options().is_err());
        let cli = parse(&["--require-signatures", "list"]);
        let error = cli.options().unwrap_err().to_string();
        assert!(error.contains("--trust-dir"), "{error}");
        let cli = parse(&["--require-signatures", "list", "--trust-dir", "/keys"]);
        assert!(cli.options().is_ok());
    }

    #[test]
    fn subcommand_help_shows_only_the_options_that_apply() {
        use clap::CommandFactory;
        let mut command = Cli::command();
        let help = |command: &mut clap::Command, name: &str| {
            command
                .find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string()
        };
        let keygen = help(&mut command, "keygen");
        for flag in [
            "--plugin-dir",
            "--locked",
            "--isolate",
            "--config",
            "--timeout",
        ] {
            assert!(
                !keygen.contains(flag),
                "keygen --help lists {flag}:\n{keygen}"
            );
        }
        let list = help(&mut command, "list");
        assert!(list.contains("--plugin-dir"), "{list}");
        assert!(!list.contains("--in-process"), "{list}");
        assert!(!list.contains("--config"), "{list}");
        let render = help(&mut command, "exporter-config");
        for flag in ["--plugin-dir", "--locked", "--in-process", "--config"] {
            assert!(render.contains(flag), "exporter-config --help lacks {flag}");
        }
    }
}
