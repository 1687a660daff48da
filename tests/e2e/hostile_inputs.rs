//! Files an attacker may place or point the host at: signatures, keys, lock
//! and configuration files that are named pipes or devices, file names that
//! carry control characters into the terminal, a settings schema built to
//! be slow to check, and the boolean environment variables the documentation
//! spells `=1`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use floe_telemetry_tests::{BUNDLED, Dir, TestCommand, TestOutput, bundled_plugin};
use serde_json::Value;

use crate::util::{
    copy_bundled, floe_in, mkfifo, names, plugin, problems, table, the_problem, warnings,
};

/// Far longer than any of these runs takes on a loaded machine; a run that
/// waits on a named pipe never ends, so any bound tells the two apart.
const DEADLINE: Duration = Duration::from_secs(60);

/// Enough for every command; a run that reads a device without end fails
/// against it within a second or two instead of filling the machine.
const MEMORY_LIMIT: u64 = 2 << 30;

/// Replaces `path` with a link to `/dev/zero`: a file that reports a size
/// of 0 and never ends.
fn link_to_dev_zero(path: &Path) {
    let _ = fs::remove_file(path);
    std::os::unix::fs::symlink("/dev/zero", path).unwrap();
}

/// A new key pair in `dir`, and a trust directory holding its public key;
/// returns the trust directory and the secret key.
fn trust_dir(dir: &Dir) -> (PathBuf, PathBuf) {
    let base = dir.join("publisher");
    TestCommand::new()
        .args(["keygen", "--out"])
        .arg(&base)
        .run()
        .assert_success();
    let trust = dir.create_dir("trusted");
    fs::copy(base.with_extension("pub"), trust.join("publisher.pub")).unwrap();
    (trust, base.with_extension("key"))
}

/// The bundled plugins, each signed, and a trust directory with their key.
struct Signed {
    _dir: Dir,
    plugins: PathBuf,
    trust: PathBuf,
}

impl Signed {
    fn new() -> Self {
        let dir = Dir::new();
        let plugins = copy_bundled(&dir, "plugins");
        let (trust, secret) = trust_dir(&dir);
        for entry in fs::read_dir(&plugins).unwrap() {
            TestCommand::new()
                .arg("sign")
                .arg(entry.unwrap().path())
                .arg("--key")
                .arg(&secret)
                .run()
                .assert_success();
        }
        Signed {
            _dir: dir,
            plugins,
            trust,
        }
    }

    fn jaeger(&self) -> PathBuf {
        self.plugins.join("libfloe_backend_jaeger.so")
    }

    /// `list -o json` requiring signatures, bounded in time and memory.
    fn list(&self) -> TestOutput {
        floe_in(&self.plugins)
            .args(["--require-signatures", "--trust-dir"])
            .arg(&self.trust)
            .args(["list", "-o", "json"])
            .memory_limit(MEMORY_LIMIT)
            .run_within(DEADLINE)
    }
}

/// The other plugins are listed, and jaeger is refused for its signature
/// file, whose kind the message names.
#[track_caller]
fn only_jaeger_is_refused(signed: &Signed, output: &TestOutput, what: &str) {
    output.assert_success();
    let list = output.json();
    let others: Vec<&str> = BUNDLED.iter().copied().filter(|n| *n != "jaeger").collect();
    assert_eq!(names(&list), others, "{list:#}");
    let problem = the_problem(&list, "bad_signature", &signed.jaeger());
    let message = problem["error"].as_str().unwrap();
    assert!(
        message.contains(what) && message.contains("libfloe_backend_jaeger.so.sig"),
        "{problem:#}"
    );
}

#[test]
fn a_signature_that_is_a_named_pipe_is_refused_without_waiting() {
    let signed = Signed::new();
    let sig = signed.plugins.join("libfloe_backend_jaeger.so.sig");
    fs::remove_file(&sig).unwrap();
    mkfifo(&sig);
    only_jaeger_is_refused(&signed, &signed.list(), "a named pipe");
}

#[test]
fn a_signature_linked_to_a_device_is_refused_without_reading_it() {
    let signed = Signed::new();
    link_to_dev_zero(&signed.plugins.join("libfloe_backend_jaeger.so.sig"));
    only_jaeger_is_refused(&signed, &signed.list(), "a device");
}

#[test]
fn a_trusted_key_that_is_a_named_pipe_is_refused_without_waiting() {
    let signed = Signed::new();
    let key = signed.trust.join("stranger.pub");
    mkfifo(&key);
    let output = signed.list();
    output.assert_code(2);
    assert!(
        output.stderr.contains(key.to_str().unwrap()) && output.stderr.contains("a named pipe"),
        "{output}"
    );
}

#[test]
fn a_lock_file_that_is_a_pipe_or_a_device_is_refused() {
    let dir = Dir::new();
    let plugins = copy_bundled(&dir, "plugins");
    let lock = dir.join("floe-telemetry.lock");
    for (make, what) in [
        (mkfifo as fn(&Path), "a named pipe"),
        (link_to_dev_zero, "a device"),
    ] {
        let _ = fs::remove_file(&lock);
        make(&lock);
        let output = floe_in(&plugins)
            .arg(format!("--locked={}", lock.display()))
            .arg("list")
            .memory_limit(MEMORY_LIMIT)
            .run_within(DEADLINE);
        output.assert_code(2);
        assert!(
            output.stderr.contains(lock.to_str().unwrap()) && output.stderr.contains(what),
            "{output}"
        );
    }
}

#[test]
fn a_configuration_file_that_is_a_pipe_or_a_device_is_refused() {
    let dir = Dir::new();
    let plugins = copy_bundled(&dir, "plugins");
    let config = dir.join("floe.yaml");
    for (make, what) in [
        (mkfifo as fn(&Path), "a named pipe"),
        (link_to_dev_zero, "a device"),
    ] {
        let _ = fs::remove_file(&config);
        make(&config);
        let output = floe_in(&plugins)
            .arg("-c")
            .arg(&config)
            .args(["--in-process", "exporter-config", "jaeger"])
            .memory_limit(MEMORY_LIMIT)
            .run_within(DEADLINE);
        output.assert_code(2);
        assert!(
            output.stderr.contains(config.to_str().unwrap()) && output.stderr.contains(what),
            "{output}"
        );
    }
}

/// A file name that, printed as is, adds a `list` row and a `check` row.
const FORGING_NAME: &str =
    "junk\njaeger  9.9.9  1.1  yes  traces  forged.so\nok    jaeger 9.9.9  forged\n.so";

/// A plugin file name that, printed as is, turns the terminal red and
/// retitles its window.
const ESCAPING_NAME: &str = "libfloe_backend_jaeger\x1b[31m\x1b]0;owned\x07.so";

/// The bundled plugins, jaeger under [`ESCAPING_NAME`], beside a file that
/// is no library under [`FORGING_NAME`].
struct HostileNames {
    _dir: Dir,
    plugins: PathBuf,
}

impl HostileNames {
    fn new() -> Self {
        let dir = Dir::new();
        let plugins = dir.create_dir("plugins");
        for name in ["datadog", "grafana-cloud", "jaeger"] {
            let source = bundled_plugin(name);
            let file_name = match name {
                "jaeger" => ESCAPING_NAME.into(),
                _ => source.file_name().unwrap().to_owned(),
            };
            dir.copy(&source, plugins.join(file_name));
        }
        dir.write(plugins.join(FORGING_NAME), "not a library\n");
        HostileNames { _dir: dir, plugins }
    }
}

/// No raw control byte reaches the terminal, and the forged rows are only
/// ever part of a `warning:` or `error:` line.
#[track_caller]
fn assert_nothing_forged(output: &TestOutput) {
    for text in [&output.stdout, &output.stderr] {
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "a raw control character was printed\n{output}"
        );
        for line in text.lines().filter(|line| line.contains("9.9.9")) {
            assert!(
                line.starts_with("warning: ") || line.starts_with("error: "),
                "forged line {line:?}\n{output}"
            );
        }
    }
}

/// The exact file name of `entry`'s `path`.
fn file_name(entry: &Value) -> &str {
    let path = entry["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no path in {entry:#}"));
    Path::new(path).file_name().unwrap().to_str().unwrap()
}

#[test]
fn file_names_cannot_forge_rows_or_reach_the_terminal_as_escapes() {
    let hostile = HostileNames::new();

    let output = floe_in(&hostile.plugins).arg("list").run();
    output.assert_success();
    assert_nothing_forged(&output);
    let (_, rows) = table(&output.stdout);
    let listed: Vec<&str> = rows.iter().map(|row| row[0]).collect();
    assert_eq!(listed, ["datadog", "grafana-cloud", "jaeger"], "{output}");
    assert!(
        rows[2]
            .last()
            .unwrap()
            .ends_with(r"libfloe_backend_jaeger\x1b[31m\x1b]0;owned\x07.so"),
        "{output}"
    );
    let warnings = warnings(&output);
    assert_eq!(warnings.len(), 1, "{output}");
    assert!(
        warnings[0].contains(r"junk\njaeger  9.9.9  1.1  yes  traces  forged.so\nok"),
        "{output}"
    );

    let output = floe_in(&hostile.plugins).arg("check").run();
    output.assert_code(1);
    assert_nothing_forged(&output);
    let lines: Vec<&str> = output.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        5,
        "three plugins, one problem, the summary\n{output}"
    );
    assert!(
        lines[..3].iter().all(|line| line.starts_with("ok ")) && lines[3].starts_with("error: "),
        "{output}"
    );
}

#[test]
fn json_carries_the_exact_file_names() {
    let hostile = HostileNames::new();
    for command in [&["list", "-o", "json"][..], &["check", "-o", "json"]] {
        let output = floe_in(&hostile.plugins).args(command).run();
        let document = output.json();
        assert_eq!(
            file_name(plugin(&document, "jaeger")),
            ESCAPING_NAME,
            "{output}"
        );
        let problems = problems(&document);
        assert_eq!(problems.len(), 1, "{output}");
        assert_eq!(file_name(&problems[0]), FORGING_NAME, "{output}");
    }
}

#[test]
fn boolean_environment_variables_take_1_yes_on_and_0() {
    let dir = Dir::new();
    let plugins = copy_bundled(&dir, "plugins");
    // A trusted key that signed none of the plugins: with signatures
    // required, every plugin is refused as unsigned.
    let (trust, _) = trust_dir(&dir);
    let list = |require: &str| {
        let output = floe_in(&plugins)
            .env("FLOE_TELEMETRY_REQUIRE_SIGNATURES", require)
            .env("FLOE_TELEMETRY_TRUST_DIR", &trust)
            .args(["list", "-o", "json"])
            .run();
        output.assert_success();
        output.json()
    };
    for on in ["1", "yes", "ON", "true"] {
        let document = list(on);
        assert!(names(&document).is_empty(), "={on}: {document:#}");
        assert_eq!(
            problems(&document).len(),
            BUNDLED.len(),
            "={on}: {document:#}"
        );
    }
    for off in ["0", "no", "Off", "false"] {
        let document = list(off);
        assert_eq!(
            names(&document).len(),
            BUNDLED.len(),
            "={off}: {document:#}"
        );
        assert!(problems(&document).is_empty(), "={off}: {document:#}");
    }

    let exporter_config = |isolate: &str, in_process: bool| {
        let mut command = floe_in(&plugins);
        command.env("FLOE_TELEMETRY_ISOLATE", isolate);
        if in_process {
            command.arg("--in-process");
        }
        command.args(["exporter-config", "jaeger"]).run()
    };
    exporter_config("1", false).assert_success();
    exporter_config("0", true).assert_success();
    let output = exporter_config("1", true);
    output.assert_code(2);
    assert!(output.stderr.contains("--in-process"), "{output}");

    let output = floe_in(&plugins)
        .env("FLOE_TELEMETRY_REQUIRE_SIGNATURES", "maybe")
        .arg("list")
        .run();
    output.assert_code(2);
    assert!(
        output.stderr.contains("'maybe'") && output.stderr.contains("0, false, no or off"),
        "{output}"
    );
}

/// Makes the program header of the dynamic segment of the ELF library
/// `bytes` claim `size` bytes.
fn claim_a_dynamic_segment_of(bytes: &mut [u8], size: u64) {
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap());
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (entry_size, count) = (u16_at(0x36) as usize, u16_at(0x38) as usize);
    const PT_DYNAMIC: u32 = 2;
    let dynamic = (0..count)
        .map(|index| phoff + index * entry_size)
        .find(|&at| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == PT_DYNAMIC)
        .expect("a library has a dynamic segment");
    // p_offset, then p_filesz.
    bytes[dynamic + 8..dynamic + 16].copy_from_slice(&4096u64.to_le_bytes());
    bytes[dynamic + 32..dynamic + 40].copy_from_slice(&size.to_le_bytes());
}

/// A plugin file of a gigabyte whose headers claim most of it (a sparse
/// file: it takes no disk) is refused as corrupt, and the host never holds
/// more than its usual few megabytes for it.
#[test]
fn a_file_claiming_a_gigabyte_of_headers_is_refused_without_reading_them() {
    let dir = Dir::new();
    let plugins = copy_bundled(&dir, "plugins");
    let huge = plugins.join("libfloe_backend_huge.so");
    let mut bytes = fs::read(bundled_plugin("jaeger")).unwrap();
    claim_a_dynamic_segment_of(&mut bytes, 900 << 20);
    fs::write(&huge, &bytes).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&huge)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let output = floe_in(&plugins)
        .args(["list", "-o", "json"])
        .memory_limit(256 << 20)
        .run_within(DEADLINE);
    output.assert_success();
    let list = output.json();
    assert_eq!(names(&list), BUNDLED, "{list:#}");
    let problem = the_problem(&list, "corrupt_library", &huge);
    assert!(problem["error"].as_str().is_some(), "{problem:#}");
}

/// A plugin's settings schema is its own text: one listing 300 000 names in
/// a `required` must not make the host compare them pair by pair (which
/// never ends) before it calls the plugin.
#[test]
fn a_schema_with_a_huge_required_list_is_judged_in_time() {
    let dir = Dir::new();
    let plugins = copy_bundled(&dir, "plugins");
    dir.copy(
        floe_telemetry_tests::fixture_plugin("huge-schema"),
        plugins.join("libfloe_fixture_huge_schema.so"),
    );
    let output = floe_in(&plugins)
        .args(["exporter-config", "huge-schema"])
        .run_within(DEADLINE);
    output.assert_success();
    assert!(output.stdout.contains("huge.invalid:4317"), "{output}");
}

/// A plugin's settings schema with a pattern built to be slow to translate
/// (50 000 `\cA`): `check` reports the schema as invalid, promptly, and
/// still checks the healthy plugins; a command given that setting refuses
/// it the same way instead of translating for minutes.
#[test]
fn a_schema_with_a_pattern_slow_to_translate_is_refused_in_time() {
    let dir = Dir::new();
    let plugins = copy_bundled(&dir, "plugins");
    let slow = plugins.join("libfloe_fixture_slow_pattern.so");
    dir.copy(floe_telemetry_tests::fixture_plugin("slow-pattern"), &slow);
    let output = floe_in(&plugins)
        .args(["check", "-o", "json"])
        .run_within(DEADLINE);
    output.assert_code(1);
    let report = output.json();
    let problem = the_problem(&report, "invalid_schema", &slow);
    let error = problem["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("a pattern of 150000 bytes, over the 4096"),
        "{problem:#}"
    );
    assert_eq!(problems(&report).len(), 1, "{report:#}");

    let config = dir.write(
        "floe.yaml",
        "backends:\n  - backend: slow-pattern\n    config:\n      name: x\n",
    );
    let output = floe_in(&plugins)
        .arg("-c")
        .arg(&config)
        .args(["exporter-config", "slow-pattern"])
        .run_within(DEADLINE);
    assert_ne!(output.code(), 0, "{output}");
    assert!(output.stderr.contains("over the 4096"), "{output}");
    assert!(!output.stdout.contains("slow.invalid"), "{output}");
}
