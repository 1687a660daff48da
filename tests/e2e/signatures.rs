//! `keygen`, `sign` and `--require-signatures`: a plugin file is read only
//! with a good signature by a trusted key, checked before anything loads it.

use std::fs;
use std::path::{Path, PathBuf};

use floe_telemetry_tests::{BUNDLED, Dir, TestCommand, TestOutput, fixture_plugin};

use crate::util::{copy_bundled, floe_in, list_json, names, problems, the_problem};

/// A publisher's key pair, a trust directory holding its public key, and a
/// plugin directory with the bundled plugins and `marks-load` (whose
/// initialiser leaves a marker when loaded), every file signed.
struct Signed {
    dir: Dir,
    plugins: PathBuf,
    trust: PathBuf,
    secret: PathBuf,
    markers: PathBuf,
}

impl Signed {
    fn new() -> Self {
        let dir = Dir::new();
        let plugins = copy_bundled(&dir, "plugins");
        dir.copy(
            fixture_plugin("marks-load"),
            "plugins/libfloe_fixture_marks_load.so",
        );
        let (secret, public) = keygen(&dir, "publisher");
        let trust = dir.create_dir("trusted");
        fs::copy(&public, trust.join("publisher.pub")).unwrap();
        for entry in fs::read_dir(&plugins).unwrap() {
            sign(&entry.unwrap().path(), &secret).assert_success();
        }
        let markers = dir.create_dir("markers");
        Signed {
            dir,
            plugins,
            trust,
            secret,
            markers,
        }
    }

    /// floe-telemetry over the plugin directory, requiring signatures.
    fn floe(&self) -> TestCommand {
        let mut command = floe_in(&self.plugins);
        command
            .env("FLOE_FIXTURE_MARKER_DIR", &self.markers)
            .args(["--require-signatures", "--trust-dir"])
            .arg(&self.trust);
        command
    }

    fn plugin(&self, file: &str) -> PathBuf {
        self.plugins.join(file)
    }

    fn loaded(&self) -> bool {
        self.markers.join("marks-load-loaded").exists()
    }
}

fn keygen(dir: &Dir, base: &str) -> (PathBuf, PathBuf) {
    let base = dir.join(base);
    let output = TestCommand::new()
        .args(["keygen", "--out"])
        .arg(&base)
        .run();
    output.assert_success();
    (base.with_extension("key"), base.with_extension("pub"))
}

fn sign(plugin: &Path, key: &Path) -> TestOutput {
    TestCommand::new()
        .arg("sign")
        .arg(plugin)
        .arg("--key")
        .arg(key)
        .run()
}

#[test]
fn signed_plugins_by_a_trusted_key_are_served() {
    let signed = Signed::new();
    assert!(signed.plugin("libfloe_backend_jaeger.so.sig").is_file());

    let (list, _) = list_json(&mut signed.floe());
    assert_eq!(problems(&list), &[] as &[serde_json::Value], "{list:#}");
    assert_eq!(names(&list).len(), BUNDLED.len() + 1, "{list:#}");

    let output = signed.floe().args(["check", "-o", "json"]).run();
    output.assert_success();
    assert!(signed.loaded());
}

#[test]
fn one_flipped_byte_fails_the_signature_and_the_file_is_never_loaded() {
    let signed = Signed::new();
    let path = signed.plugin("libfloe_fixture_marks_load.so");
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, bytes).unwrap();

    let output = signed.floe().args(["check", "-o", "json"]).run();
    output.assert_code(1);
    let report = output.json();
    let problem = the_problem(&report, "bad_signature", &path);
    assert!(
        problem["error"]
            .as_str()
            .unwrap()
            .contains("changed after it was signed"),
        "{problem:#}"
    );
    assert_eq!(problems(&report).len(), 1, "{report:#}");
    assert!(!signed.loaded(), "a badly signed file was loaded");
}

#[test]
fn a_key_that_is_not_trusted_fails() {
    let signed = Signed::new();
    let (stranger, _) = keygen(&signed.dir, "stranger");
    let path = signed.plugin("libfloe_fixture_marks_load.so");
    sign(&path, &stranger).assert_success();

    let output = signed.floe().args(["check", "-o", "json"]).run();
    output.assert_code(1);
    let report = output.json();
    let problem = the_problem(&report, "untrusted_key", &path);
    assert!(
        problem["error"]
            .as_str()
            .unwrap()
            .contains(signed.trust.to_str().unwrap()),
        "{problem:#}"
    );
    assert!(!signed.loaded(), "a file signed by a stranger was loaded");
    // The publisher's own signature is accepted again.
    sign(&path, &signed.secret).assert_success();
    signed.floe().arg("check").run().assert_success();
}

#[test]
fn an_unsigned_plugin_passes_only_without_require_signatures() {
    let signed = Signed::new();
    let path = signed.plugin("libfloe_fixture_marks_load.so");
    fs::remove_file(signed.plugin("libfloe_fixture_marks_load.so.sig")).unwrap();

    let (list, _) = list_json(&mut signed.floe());
    let problem = the_problem(&list, "unsigned", &path);
    assert!(
        problem["error"].as_str().unwrap().contains(".so.sig"),
        "{problem:#}"
    );
    assert!(!names(&list).contains(&"marks-load"), "{list:#}");

    let (list, _) = list_json(&mut floe_in(&signed.plugins));
    assert!(names(&list).contains(&"marks-load"), "{list:#}");
    assert_eq!(problems(&list), &[] as &[serde_json::Value], "{list:#}");
}

#[test]
fn requiring_signatures_needs_a_readable_trust_directory() {
    let signed = Signed::new();

    let output = floe_in(&signed.plugins)
        .args(["--require-signatures", "list"])
        .run();
    output.assert_code(2);
    assert!(output.stderr.contains("--trust-dir"), "{output}");

    let output = floe_in(&signed.plugins)
        .args(["--require-signatures", "--trust-dir"])
        .arg(signed.dir.join("nowhere"))
        .arg("list")
        .run();
    output.assert_code(2);
    assert!(output.stderr.contains("nowhere"), "{output}");
}
