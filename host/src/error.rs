//! The error type of the host.
//!
//! Every variant that concerns one plugin file renders as "what is wrong; what
//! to do", and is wrapped with the file's path in a [`Problem`].

use std::fmt;
use std::path::PathBuf;

use floe_plugin_api::ApiVersion;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Call;
use crate::config::Violation;
use crate::escape::{escape_control, escape_path};

/// Everything that can go wrong while finding, loading or calling plugins.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A plugin directory or file could not be read.
    #[error("cannot read it: {source}; check that it exists and is readable")]
    Io {
        /// The operating system's error.
        #[from]
        source: std::io::Error,
    },

    /// A symbolic link that dangles or loops.
    #[error("a broken symbolic link ({reason}); remove it or point it at a plugin file")]
    BrokenSymlink {
        /// Why it cannot be followed.
        reason: String,
    },

    /// A symbolic link to a file outside every plugin directory.
    #[error(
        "a symbolic link to {}, outside the plugin directories; copy the plugin into a \
         plugin directory, or pass --allow-insecure-permissions to load it anyway",
        target.display()
    )]
    SymlinkOutside {
        /// Where the link leads.
        target: PathBuf,
    },

    /// Not a regular file: a FIFO, socket or device would block or lie to the loader.
    #[error("not a regular file but {what}; remove it from the plugin directory")]
    NotARegularFile {
        /// What it is instead.
        what: &'static str,
    },

    /// Others than its owner (or an untrusted owner) could change the code the host runs.
    #[error("{problem}; {fix}, or pass --allow-insecure-permissions to load it anyway")]
    UnsafePermissions {
        /// What is wrong.
        problem: String,
        /// The command that fixes it.
        fix: String,
    },

    /// An ELF file for another machine.
    #[error(
        "built for {found}, but this host is {expected}; install the build of the plugin \
         for {expected}"
    )]
    WrongArchitecture {
        /// What the file is built for.
        found: String,
        /// What this host runs on.
        expected: String,
    },

    /// An ELF shared library that cannot be mapped as it describes itself.
    #[error("a truncated or corrupt shared library ({reason}); copy the plugin file again")]
    CorruptLibrary {
        /// What is inconsistent.
        reason: String,
    },

    /// The dynamic loader refused the file.
    #[error(
        "not a loadable shared library ({reason}); remove it from the plugin directory, \
         or replace it with a build of the plugin for this platform"
    )]
    NotALibrary {
        /// The loader's explanation.
        reason: String,
    },

    /// A shared library without the symbols every floe plugin exports.
    #[error(
        "not a floe-telemetry plugin: it lacks the `{symbol}` symbol; remove it from the \
         plugin directory, or export the backend with floe_plugin_api::export_backend!"
    )]
    NotAFloePlugin {
        /// The symbol that is missing.
        symbol: &'static str,
    },

    /// The plugin's declared API version cannot be parsed.
    #[error(
        "declares plugin API version {version:?}, which is not MAJOR.MINOR; \
         rebuild the plugin with the floe-plugin-api crate"
    )]
    ApiVersionMalformed {
        /// The version text as found in the file.
        version: String,
    },

    /// The plugin was built against an API version this host does not accept.
    #[error("{}", incompatible_message(*plugin, *host))]
    ApiVersionIncompatible {
        /// What the plugin was built against.
        plugin: ApiVersion,
        /// What this host implements.
        host: ApiVersion,
    },

    /// abi_stable found the plugin's types laid out differently from the host's.
    #[error(
        "its binary interface does not match this host ({details}); rebuild the plugin \
         against floe-plugin-api for plugin API {}",
        floe_plugin_api_version()
    )]
    AbiMismatch {
        /// The first line of abi_stable's report.
        details: String,
    },

    /// The plugin's metadata is unusable.
    #[error("invalid {field}: {reason}; fix the plugin's metadata and rebuild it")]
    InvalidMetadata {
        /// Which piece of metadata.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The plugin's metadata section cannot be read or decoded.
    #[error(
        "its metadata section (.floe_plugin) is unreadable: {reason}; rebuild the plugin with \
         floe_plugin_api::export_backend!"
    )]
    InvalidMetadataSection {
        /// What is wrong with it.
        reason: String,
    },

    /// Once loaded, the plugin's root module says something other than its
    /// metadata section.
    #[error(
        "its metadata section says {field} {section:?}, but its code says {module:?}, so it \
         is not used; the file was altered or exported by hand: rebuild the plugin with \
         floe_plugin_api::export_backend!"
    )]
    MetadataMismatch {
        /// Which piece of metadata.
        field: &'static str,
        /// What the section says.
        section: String,
        /// What the root module says.
        module: String,
    },

    /// A call returned something that is not a JSON object.
    #[error("{call} returned invalid output: {reason}; report this to the plugin's author")]
    InvalidOutput {
        /// The call.
        call: Call,
        /// What is wrong with the output.
        reason: String,
    },

    /// A call reported an error.
    #[error("{call} failed: {message}")]
    CallFailed {
        /// The call.
        call: Call,
        /// The plugin's message.
        message: String,
    },

    /// A call panicked inside the plugin; the panic was caught there.
    #[error("{call} panicked: {message}; report this to the plugin's author")]
    CallPanicked {
        /// The call.
        call: Call,
        /// The panic message.
        message: String,
    },

    /// The process running the plugin (with `--isolate`) died.
    #[error("{call} killed the plugin's process ({how}); report this to the plugin's author")]
    PluginCrashed {
        /// What the plugin was doing.
        call: Call,
        /// How the process ended, e.g. `signal SIGSEGV (segmentation fault)`.
        how: String,
    },

    /// The plugin did not answer in time (with `--isolate`); its process was killed.
    #[error(
        "{call} did not finish within {seconds} s, so its process was stopped; \
         report this to the plugin's author, or raise --timeout"
    )]
    TimedOut {
        /// What the plugin was doing.
        call: Call,
        /// The time it was given.
        seconds: f64,
    },

    /// The plugin's process spoke out of turn (with `--isolate`).
    #[error(
        "{call}: the plugin's process sent something unexpected ({reason}); report this to the plugin's author"
    )]
    Protocol {
        /// What the plugin was doing.
        call: Call,
        /// What was wrong with the message.
        reason: String,
    },

    /// An error reported by the process that ran the plugin (with `--isolate`).
    #[error("{message}")]
    Isolated {
        /// Its class, as the process reported it.
        kind: ErrorKind,
        /// Its message, as the process rendered it.
        message: String,
    },

    /// The process to run the plugin in could not be started.
    #[error(
        "cannot start a process for the plugin ({reason}); check the limits on processes and \
         open files (`ulimit -u`, `ulimit -n`)"
    )]
    WorkerSpawn {
        /// The operating system's error.
        reason: String,
    },

    /// The file changed between being selected and being loaded.
    #[error(
        "it changed while it was being loaded (its metadata section now says something else), \
         so it was not used; if a plugin is being installed, run the command again"
    )]
    ChangedWhileLoading,

    /// The file that provides a backend was refused.
    #[error(
        "backend {name:?} is provided by {}, which was refused: {reason}",
        path.display()
    )]
    Refused {
        /// The backend asked for.
        name: String,
        /// The file that claims it.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },

    /// A second plugin with a name already taken.
    #[error(
        "also calls itself {name:?}, which {} already provides; this file is ignored: \
         remove one of the two", first.display()
    )]
    DuplicateName {
        /// The contested name.
        name: String,
        /// The file that provides it.
        first: PathBuf,
    },

    /// The lock file cannot be read or parsed.
    #[error("{}: {reason}", file.display())]
    LockUnreadable {
        /// The lock file.
        file: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },

    /// With `--locked`: a plugin file the lock file does not pin.
    #[error(
        "not in the lock file {}, so it was not read as a plugin; remove it from the plugin \
         directory, or run `floe-telemetry lock` to pin the plugins installed now",
        lock.display()
    )]
    NotLocked {
        /// The lock file.
        lock: PathBuf,
    },

    /// With `--locked`: a plugin file whose content changed since it was locked.
    #[error(
        "its sha256 is {found}, but the lock file {} pins {name} at {expected}: the file \
         changed since it was locked, so it was not read as a plugin; reinstall the locked \
         build, or run `floe-telemetry lock` again if the change is wanted",
        lock.display()
    )]
    HashMismatch {
        /// The lock file.
        lock: PathBuf,
        /// The plugin the lock file pins at this path.
        name: String,
        /// The hash the lock file pins.
        expected: String,
        /// The hash of the file.
        found: String,
    },

    /// The trust directory of `--require-signatures` cannot be used.
    #[error("{}: {reason}", dir.display())]
    TrustUnreadable {
        /// The directory.
        dir: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },

    /// A key file cannot be read, written or used.
    #[error("{}: {reason}", file.display())]
    KeyUnusable {
        /// The key file.
        file: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },

    /// With `--require-signatures`: the plugin file has no signature.
    #[error(
        "unsigned: there is no {}, so it was not read as a plugin; ask its publisher for the \
         signature, or sign it with `floe-telemetry sign` if you vouch for it",
        signature.display()
    )]
    Unsigned {
        /// Where its signature would be.
        signature: PathBuf,
    },

    /// With `--require-signatures`: the signature is unreadable or does not
    /// match the file.
    #[error(
        "bad signature ({reason}), so it was not read as a plugin; reinstall the plugin and its \
         .sig file from its publisher"
    )]
    BadSignature {
        /// What is wrong.
        reason: String,
    },

    /// With `--require-signatures`: signed with a key that is not trusted.
    #[error(
        "signed with key {key}, which is not in the trust directory {}, so it was not read as \
         a plugin; add the publisher's .pub file there if you trust them",
        trust_dir.display()
    )]
    UntrustedKey {
        /// The public key, in hex.
        key: String,
        /// Where trusted keys are.
        trust_dir: PathBuf,
    },

    /// The configuration file cannot be read or parsed.
    #[error("{}: {reason}", file.display())]
    ConfigUnreadable {
        /// The file.
        file: PathBuf,
        /// What is wrong, and what to do.
        reason: String,
    },

    /// The configuration, or a backend's settings in it, break the rules:
    /// one line per violation, each naming the file and the path.
    #[error("{}", violation_lines(source_name, violations))]
    InvalidConfig {
        /// The file, or a description of where the settings came from.
        source_name: String,
        /// Every violation found.
        violations: Vec<Violation>,
    },

    /// A plugin published a settings schema that is not a valid JSON Schema.
    #[error(
        "its settings schema is not a valid JSON Schema ({reason}); report this to the \
         plugin's author"
    )]
    InvalidSchema {
        /// What the validator said.
        reason: String,
    },

    /// An error of the plugin at `path`, met while serving another request
    /// (checking a configuration, say).
    #[error("{}: {error}", path.display())]
    InPlugin {
        /// The plugin's file.
        path: PathBuf,
        /// What went wrong in it.
        error: Box<Error>,
    },

    /// A composed collector configuration breaks the collector's structural
    /// rules: one line per problem, each naming the backend (or the base
    /// configuration) and the key.
    #[error("{}", problems.join("\n"))]
    InvalidCollectorConfig {
        /// Every problem found.
        problems: Vec<String>,
    },

    /// Two backends set one Helm value to different values.
    #[error(
        "backends {first} and {second} both set the Helm value `{path}`, to {first_value} and \
         {second_value}; change the settings of one of them so that they agree"
    )]
    HelmConflict {
        /// The dotted key path.
        path: String,
        /// The backend that set it first.
        first: String,
        /// Its value, as JSON.
        first_value: String,
        /// The backend that set it differently.
        second: String,
        /// Its value, as JSON.
        second_value: String,
    },

    /// `install` or `uninstall` would not do what was asked: the file (or
    /// directory) concerned, why, and what to do instead.
    #[error("{}: {reason}", file.display())]
    InstallRefused {
        /// The plugin file or directory.
        file: PathBuf,
        /// What stands in the way, and what to do.
        reason: String,
    },

    /// No plugin has the requested name.
    #[error(
        "no backend named {name:?}{}; installed backends: {}",
        did_you_mean(name, known),
        known_names(known)
    )]
    UnknownBackend {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
}

fn incompatible_message(plugin: ApiVersion, host: ApiVersion) -> String {
    if plugin.major == host.major {
        format!(
            "built for plugin API {plugin}, newer than this host's plugin API {host}; upgrade \
             floe-telemetry, or install a build of the plugin for API {host}"
        )
    } else {
        let accepted = if host.minor == 0 {
            format!("only plugins built for {host}")
        } else {
            format!("plugins built for {}.0 through {host}", host.major)
        };
        format!(
            "built for plugin API {plugin}, but this host implements plugin API {host} and \
             accepts {accepted}; install a build of the plugin for API {}.x",
            host.major
        )
    }
}

fn violation_lines(source_name: &str, violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|violation| format!("{source_name}: {violation}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn known_names(known: &[String]) -> String {
    if known.is_empty() {
        "none (see `floe-telemetry list -v` for where plugins are searched)".to_owned()
    } else {
        known.join(", ")
    }
}

fn did_you_mean(name: &str, known: &[String]) -> String {
    crate::suggest::closest(name, known.iter().map(String::as_str))
        .map(|closest| format!(" (did you mean `{closest}`?)"))
        .unwrap_or_default()
}

fn floe_plugin_api_version() -> &'static str {
    floe_plugin_api::FLOE_API_VERSION
}

/// A stable, machine-readable name for each class of [`Error`], as in
/// `floe-telemetry list -o json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::Io`]
    Io,
    /// [`Error::BrokenSymlink`]
    BrokenSymlink,
    /// [`Error::SymlinkOutside`]
    SymlinkOutsidePluginDirs,
    /// [`Error::NotARegularFile`]
    NotARegularFile,
    /// [`Error::UnsafePermissions`]
    UnsafePermissions,
    /// [`Error::WrongArchitecture`]
    WrongArchitecture,
    /// [`Error::CorruptLibrary`]
    CorruptLibrary,
    /// [`Error::PluginCrashed`]
    PluginCrashed,
    /// [`Error::TimedOut`]
    TimedOut,
    /// [`Error::Protocol`]
    Protocol,
    /// [`Error::WorkerSpawn`]
    WorkerSpawn,
    /// [`Error::ChangedWhileLoading`]
    ChangedWhileLoading,
    /// [`Error::Refused`]
    Refused,
    /// [`Error::NotALibrary`]
    NotALibrary,
    /// [`Error::NotAFloePlugin`]
    NotAFloePlugin,
    /// [`Error::ApiVersionMalformed`]
    ApiVersionMalformed,
    /// [`Error::ApiVersionIncompatible`]
    ApiVersionIncompatible,
    /// [`Error::AbiMismatch`]
    AbiMismatch,
    /// [`Error::InvalidMetadata`]
    InvalidMetadata,
    /// [`Error::InvalidMetadataSection`]
    InvalidMetadataSection,
    /// [`Error::MetadataMismatch`]
    MetadataMismatch,
    /// [`Error::InvalidOutput`]
    InvalidOutput,
    /// [`Error::CallFailed`]
    CallFailed,
    /// [`Error::CallPanicked`]
    CallPanicked,
    /// [`Error::DuplicateName`]
    DuplicateName,
    /// [`Error::UnknownBackend`]
    UnknownBackend,
    /// [`Error::ConfigUnreadable`]
    ConfigUnreadable,
    /// [`Error::LockUnreadable`]
    LockUnreadable,
    /// [`Error::TrustUnreadable`]
    TrustUnreadable,
    /// [`Error::KeyUnusable`]
    KeyUnusable,
    /// [`Error::Unsigned`]
    Unsigned,
    /// [`Error::BadSignature`]
    BadSignature,
    /// [`Error::UntrustedKey`]
    UntrustedKey,
    /// [`Error::NotLocked`]
    NotLocked,
    /// [`Error::HashMismatch`]
    HashMismatch,
    /// [`Error::InvalidConfig`]
    InvalidConfig,
    /// [`Error::InvalidSchema`]
    InvalidSchema,
    /// [`Error::InvalidCollectorConfig`]
    InvalidCollectorConfig,
    /// [`Error::HelmConflict`]
    HelmConflict,
    /// [`Error::InstallRefused`]
    InstallRefused,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Io,
            Error::BrokenSymlink { .. } => ErrorKind::BrokenSymlink,
            Error::SymlinkOutside { .. } => ErrorKind::SymlinkOutsidePluginDirs,
            Error::NotARegularFile { .. } => ErrorKind::NotARegularFile,
            Error::UnsafePermissions { .. } => ErrorKind::UnsafePermissions,
            Error::WrongArchitecture { .. } => ErrorKind::WrongArchitecture,
            Error::CorruptLibrary { .. } => ErrorKind::CorruptLibrary,
            Error::PluginCrashed { .. } => ErrorKind::PluginCrashed,
            Error::TimedOut { .. } => ErrorKind::TimedOut,
            Error::Protocol { .. } => ErrorKind::Protocol,
            Error::Isolated { kind, .. } => *kind,
            Error::WorkerSpawn { .. } => ErrorKind::WorkerSpawn,
            Error::ChangedWhileLoading => ErrorKind::ChangedWhileLoading,
            Error::Refused { .. } => ErrorKind::Refused,
            Error::NotALibrary { .. } => ErrorKind::NotALibrary,
            Error::NotAFloePlugin { .. } => ErrorKind::NotAFloePlugin,
            Error::ApiVersionMalformed { .. } => ErrorKind::ApiVersionMalformed,
            Error::ApiVersionIncompatible { .. } => ErrorKind::ApiVersionIncompatible,
            Error::AbiMismatch { .. } => ErrorKind::AbiMismatch,
            Error::InvalidMetadata { .. } => ErrorKind::InvalidMetadata,
            Error::InvalidMetadataSection { .. } => ErrorKind::InvalidMetadataSection,
            Error::MetadataMismatch { .. } => ErrorKind::MetadataMismatch,
            Error::InvalidOutput { .. } => ErrorKind::InvalidOutput,
            Error::CallFailed { .. } => ErrorKind::CallFailed,
            Error::CallPanicked { .. } => ErrorKind::CallPanicked,
            Error::DuplicateName { .. } => ErrorKind::DuplicateName,
            Error::UnknownBackend { .. } => ErrorKind::UnknownBackend,
            Error::ConfigUnreadable { .. } => ErrorKind::ConfigUnreadable,
            Error::LockUnreadable { .. } => ErrorKind::LockUnreadable,
            Error::TrustUnreadable { .. } => ErrorKind::TrustUnreadable,
            Error::KeyUnusable { .. } => ErrorKind::KeyUnusable,
            Error::Unsigned { .. } => ErrorKind::Unsigned,
            Error::BadSignature { .. } => ErrorKind::BadSignature,
            Error::UntrustedKey { .. } => ErrorKind::UntrustedKey,
            Error::NotLocked { .. } => ErrorKind::NotLocked,
            Error::HashMismatch { .. } => ErrorKind::HashMismatch,
            Error::InvalidConfig { .. } => ErrorKind::InvalidConfig,
            Error::InvalidSchema { .. } => ErrorKind::InvalidSchema,
            Error::InvalidCollectorConfig { .. } => ErrorKind::InvalidCollectorConfig,
            Error::HelmConflict { .. } => ErrorKind::HelmConflict,
            Error::InstallRefused { .. } => ErrorKind::InstallRefused,
            Error::InPlugin { error, .. } => error.kind(),
        }
    }
}

impl Error {
    /// The message for a terminal: one line per violation or problem for the
    /// errors that list several, and every control character within a line
    /// escaped, so that a file name or a plugin's words cannot forge a line
    /// or reach the terminal as an escape sequence.
    pub fn to_text(&self) -> String {
        self.message_lines()
            .iter()
            .map(|line| escape_control(line))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The message, split only where it lists several things.
    fn message_lines(&self) -> Vec<String> {
        match self {
            Error::InvalidConfig {
                source_name,
                violations,
            } => violations
                .iter()
                .map(|violation| format!("{source_name}: {violation}"))
                .collect(),
            Error::InvalidCollectorConfig { problems } => problems.clone(),
            Error::InPlugin { path, error } => {
                let mut lines = error.message_lines();
                if let Some(first) = lines.first_mut() {
                    *first = format!("{}: {first}", path.display());
                }
                lines
            }
            other => vec![other.to_string()],
        }
    }
}

impl From<floe_plugin_api::Error> for Error {
    fn from(error: floe_plugin_api::Error) -> Self {
        match error {
            floe_plugin_api::Error::MalformedApiVersion { version } => {
                Error::ApiVersionMalformed { version }
            }
            floe_plugin_api::Error::IncompatibleApiVersion { plugin, host } => {
                Error::ApiVersionIncompatible { plugin, host }
            }
            other => Error::InvalidMetadata {
                field: "floe_api_version",
                reason: other.to_string(),
            },
        }
    }
}

/// An [`Error`] concerning one file: a plugin, or a plugin directory.
#[derive(Debug)]
pub struct Problem {
    /// The file or directory.
    pub path: PathBuf,
    /// What is wrong with it.
    pub error: Error,
}

impl Problem {
    /// A problem with `path`.
    pub fn new(path: impl Into<PathBuf>, error: Error) -> Self {
        Self {
            path: path.into(),
            error,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // For a terminal: see `Error::to_text`.
        write!(f, "{}: {}", escape_path(&self.path), self.error.to_text())
    }
}

impl std::error::Error for Problem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_in_a_plugin_names_its_file_and_keeps_its_kind() {
        let error = Error::InPlugin {
            path: PathBuf::from("/opt/floe/plugins/libacme.so"),
            error: Box::new(Error::InvalidSchema {
                reason: "bad type".to_owned(),
            }),
        };
        assert_eq!(error.kind(), ErrorKind::InvalidSchema);
        let text = error.to_string();
        assert!(
            text.starts_with("/opt/floe/plugins/libacme.so: its settings schema is not a valid"),
            "{text}"
        );
    }

    #[test]
    fn a_problem_escapes_control_characters_but_keeps_its_listed_lines() {
        let problem = Problem::new(
            "/p/evil\njaeger  9.9.9\x1b[31m.so",
            Error::InPlugin {
                path: PathBuf::from("/p/evil\n.so"),
                error: Box::new(Error::InvalidConfig {
                    source_name: "/etc/floe\r.yaml".to_owned(),
                    violations: vec![
                        Violation::new("a", "bad\x1b]0;title\x07"),
                        Violation::new("b", "unknown"),
                    ],
                }),
            },
        );
        assert_eq!(
            problem.to_string(),
            "/p/evil\\njaeger  9.9.9\\x1b[31m.so: /p/evil\\n.so: /etc/floe\\r.yaml: a: \
             bad\\x1b]0;title\\x07\n/etc/floe\\r.yaml: b: unknown"
        );
    }

    #[test]
    fn config_violations_are_one_line_each_with_the_file() {
        let error = Error::InvalidConfig {
            source_name: "/etc/floe.yaml".to_owned(),
            violations: vec![
                Violation::new("backends[0].config.site", "bad"),
                Violation::new("backends[1].backend", "unknown"),
            ],
        };
        assert_eq!(
            error.to_string(),
            "/etc/floe.yaml: backends[0].config.site: bad\n/etc/floe.yaml: backends[1].backend: unknown"
        );
    }
}
