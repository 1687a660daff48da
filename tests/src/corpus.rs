//! The corpus of broken and hostile plugin files.
//!
//! [`Corpus::build`] lays out, in a plugin directory of its own, every kind of
//! file a plugin folder collects in real life, next to the healthy bundled
//! plugins: junk, half-copied files, builds for another machine, libraries
//! that are not plugins, plugins for another API, plugins that return garbage,
//! and plugins that panic, abort, crash, overflow their stack, hang or exit,
//! either while being loaded or when called. Each file is paired with the
//! problem kind the host must report for it.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use crate::{BUNDLED, Dir, bundled_plugin, fixture_plugin, floe_telemetry_binary};

/// When a corpus file shows its problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// From the file alone (its type, permissions, ELF headers, metadata
    /// section and the API version in it), or, for a file without a metadata
    /// section, when `list` loads it in a process of its own: `list` reports it.
    File,
    /// Only when the plugin is loaded: its metadata section is sound, so
    /// `list`, which loads nothing, shows it as a plugin; `check` reports it.
    Load,
    /// Only when the plugin is called: `list` shows it as a plugin.
    Call,
}

/// One file of the corpus.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file, inside the corpus directory.
    pub path: PathBuf,
    /// The `kind` the host must report for it.
    pub kind: &'static str,
    /// When the problem shows.
    pub phase: Phase,
    /// Whether the problem, by its nature, ends the process that meets it
    /// (an abort, a crash, an exit, a hang): only an isolated host survives it.
    pub fatal_in_process: bool,
    /// The backend name it claims, for plugins `list` shows.
    pub name: Option<&'static str>,
}

/// The corpus directory and what is in it.
pub struct Corpus {
    /// Owns the directory.
    pub dir: Dir,
    /// The plugin directory holding every file.
    pub plugins: PathBuf,
    /// The broken and hostile files.
    pub entries: Vec<Entry>,
    /// The healthy plugins, by backend name.
    pub healthy: Vec<(&'static str, PathBuf)>,
}

/// Fixture plugins copied as they are: (fixture, kind, phase, fatal, name).
const FIXTURES: &[(&str, &str, Phase, bool, Option<&str>)] = &[
    (
        "not-a-plugin",
        "not_a_floe_plugin",
        Phase::File,
        false,
        None,
    ),
    ("other-layout", "abi_mismatch", Phase::File, false, None),
    (
        "future-2-0",
        "api_version_incompatible",
        Phase::File,
        false,
        None,
    ),
    (
        "future-1-2",
        "api_version_incompatible",
        Phase::File,
        false,
        None,
    ),
    (
        "api-malformed",
        "api_version_malformed",
        Phase::File,
        false,
        None,
    ),
    ("dup-jaeger", "duplicate_name", Phase::File, false, None),
    (
        "section-mismatch",
        "metadata_mismatch",
        Phase::Load,
        false,
        Some("section-mismatch"),
    ),
    (
        "panic-in-load",
        "plugin_crashed",
        Phase::Load,
        true,
        Some("panic-in-load"),
    ),
    (
        "abort-in-load",
        "plugin_crashed",
        Phase::Load,
        true,
        Some("abort-in-load"),
    ),
    (
        "segv-in-load",
        "plugin_crashed",
        Phase::Load,
        true,
        Some("segv-in-load"),
    ),
    (
        "stack-overflow-in-load",
        "plugin_crashed",
        Phase::Load,
        true,
        Some("stack-overflow-in-load"),
    ),
    (
        "exit-in-load",
        "plugin_crashed",
        Phase::Load,
        true,
        Some("exit-in-load"),
    ),
    (
        "hang-in-load",
        "timed_out",
        Phase::Load,
        true,
        Some("hang-in-load"),
    ),
    (
        "invalid-json",
        "invalid_output",
        Phase::Call,
        false,
        Some("invalid-json"),
    ),
    (
        "json-array",
        "invalid_output",
        Phase::Call,
        false,
        Some("json-array"),
    ),
    (
        "panicky",
        "call_panicked",
        Phase::Call,
        false,
        Some("panicky"),
    ),
    (
        "abort-in-call",
        "plugin_crashed",
        Phase::Call,
        true,
        Some("abort-in-call"),
    ),
    (
        "segv-in-call",
        "plugin_crashed",
        Phase::Call,
        true,
        Some("segv-in-call"),
    ),
    (
        "stack-overflow-in-call",
        "plugin_crashed",
        Phase::Call,
        true,
        Some("stack-overflow-in-call"),
    ),
    (
        "exit-in-call",
        "plugin_crashed",
        Phase::Call,
        true,
        Some("exit-in-call"),
    ),
    (
        "hang-in-call",
        "timed_out",
        Phase::Call,
        true,
        Some("hang-in-call"),
    ),
];

impl Corpus {
    /// Builds the whole corpus in a new temporary directory.
    pub fn build() -> Corpus {
        let dir = Dir::new();
        let plugins = dir.create_dir("plugins");
        let mut entries = Vec::new();
        let mut add = |path: PathBuf, kind, phase, fatal_in_process, name| {
            entries.push(Entry {
                path,
                kind,
                phase,
                fatal_in_process,
                name,
            })
        };

        let healthy: Vec<(&'static str, PathBuf)> = BUNDLED
            .iter()
            .map(|name| {
                let source = bundled_plugin(name);
                (
                    *name,
                    dir.copy(&source, plugins.join(source.file_name().unwrap())),
                )
            })
            .collect();
        let jaeger = bundled_plugin("jaeger");

        let load = Phase::File;
        add(
            dir.write("plugins/empty.so", b""),
            "not_a_library",
            load,
            false,
            None,
        );
        add(
            dir.write("plugins/notes.so", "release notes\nnothing to load here\n"),
            "not_a_library",
            load,
            false,
            None,
        );
        add(
            dir.write("plugins/random.so", random_bytes(4096)),
            "not_a_library",
            load,
            false,
            None,
        );
        let whole = fs::read(&jaeger).unwrap();
        // Cut inside the loadable segments, as an interrupted copy would: the
        // headers promise bytes that are not there.
        add(
            dir.write("plugins/truncated.so", &whole[..16 * 1024]),
            "corrupt_library",
            load,
            false,
            None,
        );
        add(
            dir.write("plugins/foreign-machine.so", with_other_machine(whole)),
            "wrong_architecture",
            load,
            false,
            None,
        );
        add(
            dir.copy(floe_telemetry_binary(), "plugins/executable.so"),
            "not_a_library",
            load,
            false,
            None,
        );
        let writable = dir.copy(bundled_plugin("datadog"), "plugins/world-writable.so");
        fs::set_permissions(&writable, fs::Permissions::from_mode(0o666)).unwrap();
        add(writable, "unsafe_permissions", load, false, None);
        let (loop_a, loop_b) = (plugins.join("loop-a.so"), plugins.join("loop-b.so"));
        symlink(&loop_b, &loop_a).unwrap();
        symlink(&loop_a, &loop_b).unwrap();
        add(loop_a, "broken_symlink", load, false, None);
        add(loop_b, "broken_symlink", load, false, None);
        let pipe = plugins.join("pipe.so");
        let status = std::process::Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo failed");
        add(pipe, "not_a_regular_file", load, false, None);

        for &(fixture, kind, phase, fatal, name) in FIXTURES {
            // After the bundled `libfloe_backend_*` in name order, so that the
            // bundled jaeger is found before its impostor.
            let file = format!("plugin-{fixture}.so");
            add(
                dir.copy(fixture_plugin(fixture), plugins.join(file)),
                kind,
                phase,
                fatal,
                name,
            );
        }

        Corpus {
            dir,
            plugins,
            entries,
            healthy,
        }
    }

    /// Removes every file whose problem ends the process that meets it while
    /// loading, so that an in-process host can be run over the rest.
    pub fn without_fatal_loads(&mut self) {
        self.entries.retain(|entry| {
            let keep = !(entry.fatal_in_process && entry.phase == Phase::Load);
            if !keep {
                fs::remove_file(&entry.path).unwrap();
            }
            keep
        });
    }

    /// The entries showing their problem in `phase`.
    pub fn in_phase(&self, phase: Phase) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |entry| entry.phase == phase)
    }

    /// The corpus entry at `path`.
    pub fn entry(&self, path: &Path) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|entry| crate::same_path(&entry.path, path))
    }
}

/// Bytes that are no format at all; deterministic, so failures reproduce.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A real plugin relabelled for another machine: `e_machine`, at offset 18,
/// set to aarch64 (183), or to x86_64 (62) on an aarch64 host.
fn with_other_machine(mut elf: Vec<u8>) -> Vec<u8> {
    let other: u16 = if cfg!(target_arch = "aarch64") {
        62
    } else {
        183
    };
    elf[18..20].copy_from_slice(&other.to_le_bytes());
    elf
}
