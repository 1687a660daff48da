//! `install` and `uninstall`: checked plugin files copied into the per-user
//! or the system plugin directory, and the refusals that leave it as it was.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use floe_telemetry_tests::{
    BINARY, Dir, TestCommand, TestOutput, bundled_plugin, fixture_plugin, floe_telemetry_binary,
};

use crate::util::{assert_path, list_json, names, plugin};

/// A per-user data directory of its own.
struct Home {
    dir: Dir,
}

impl Home {
    fn new() -> Self {
        Self { dir: Dir::new() }
    }

    fn plugins(&self) -> PathBuf {
        self.dir.join("data/floe-telemetry/plugins")
    }

    /// `floe-telemetry` with this home's data directory.
    fn floe(&self) -> TestCommand {
        let mut command = TestCommand::new();
        command.env("XDG_DATA_HOME", self.dir.join("data"));
        command
    }

    fn install(&self, plugin: &Path, extra: &[&str]) -> TestOutput {
        self.floe().arg("install").arg(plugin).args(extra).run()
    }

    /// The names of the files in the per-user plugin directory.
    fn files(&self) -> Vec<String> {
        let mut files: Vec<String> = fs::read_dir(self.plugins())
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn an_installed_plugin_is_found_on_the_default_search_path_and_uninstalled() {
    let home = Home::new();
    let source = fixture_plugin("marks-load");

    home.install(&source, &[]).assert_success();
    let installed = home.plugins().join(source.file_name().unwrap());
    assert_eq!(
        home.files(),
        [source.file_name().unwrap().to_str().unwrap()]
    );
    assert_eq!(mode(&installed), 0o644);
    assert_eq!(mode(&home.plugins()), 0o755);
    assert_eq!(fs::read(&installed).unwrap(), fs::read(&source).unwrap());

    // No --plugin-dir: the per-user directory is searched by default.
    let (list, _) = list_json(&mut home.floe());
    assert_path(plugin(&list, "marks-load"), "path", &installed);

    // The same file again changes nothing.
    let again = home.install(&source, &[]);
    again.assert_success();
    assert!(again.stderr.contains("already installed"), "{again}");

    let output = home.floe().args(["uninstall", "marks-load"]).run();
    output.assert_success();
    assert!(home.files().is_empty(), "{:?}", home.files());
    let (list, _) = list_json(&mut home.floe());
    assert!(!names(&list).contains(&"marks-load"), "{list:#}");
}

#[test]
fn files_that_are_not_loadable_plugins_are_refused_and_nothing_is_written() {
    let home = Home::new();
    for (fixture, expected) in [
        ("not-a-plugin", "not a floe-telemetry plugin"),
        ("future-2-0", "plugin API 2.0"),
        ("legacy-1-0", "no .floe_plugin metadata section"),
    ] {
        let output = home.install(&fixture_plugin(fixture), &[]);
        output.assert_code(1);
        assert!(output.stderr.contains(expected), "{fixture}: {output}");
        assert!(
            output
                .stderr
                .contains(fixture_plugin(fixture).to_str().unwrap()),
            "the refusal names the file: {output}"
        );
        assert!(home.files().is_empty(), "{fixture}: {:?}", home.files());
    }

    let dir = Dir::new();
    let text = dir.write("notes.txt", "not a library");
    let output = home.install(&text, &[]);
    output.assert_code(1);
    assert!(output.stderr.contains("not named *.so"), "{output}");
}

#[test]
fn a_bare_file_name_is_the_file_in_the_working_directory() {
    // Not a library of the system's search path, as dlopen would take it.
    let home = Home::new();
    let dir = Dir::new();
    dir.copy(fixture_plugin("marks-load"), "libmarks.so");
    let output = home
        .floe()
        .current_dir(dir.path())
        .args(["install", "libmarks.so"])
        .run();
    output.assert_success();
    assert_eq!(home.files(), ["libmarks.so"]);
}

#[test]
fn a_name_another_file_provides_is_refused_even_with_force() {
    let home = Home::new();
    // The bundled jaeger beside the binary is on the default search path.
    for extra in [&[][..], &["--force"][..]] {
        let output = home.install(&fixture_plugin("dup-jaeger"), extra);
        output.assert_code(1);
        assert!(
            output.stderr.contains("already provided by")
                && output
                    .stderr
                    .contains(bundled_plugin("jaeger").to_str().unwrap()),
            "{output}"
        );
        assert!(home.files().is_empty());
    }
}

#[test]
fn another_build_of_an_installed_plugin_replaces_it_only_with_force() {
    let home = Home::new();
    let install = |plugin: &Path, extra: &[&str]| {
        let mut command = home.floe();
        command
            .args(["install", "--no-default-plugin-dirs"])
            .arg(plugin)
            .args(extra);
        command.run()
    };
    install(&bundled_plugin("jaeger"), &[]).assert_success();

    let refused = install(&fixture_plugin("dup-jaeger"), &[]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("--force"), "{refused}");
    assert_eq!(home.files(), ["libfloe_backend_jaeger.so"]);

    let forced = install(&fixture_plugin("dup-jaeger"), &["--force"]);
    forced.assert_success();
    assert!(forced.stderr.contains("replacing jaeger"), "{forced}");
    // The old file is gone, not left to shadow or be shadowed.
    assert_eq!(home.files(), ["libfloe_fixture_dup_jaeger.so"]);
}

#[test]
fn install_with_a_lock_file_pins_the_new_plugin_and_uninstall_unpins_it() {
    let home = Home::new();
    let dir = Dir::new();
    let lock = dir.join("floe.lock");
    home.floe()
        .args(["lock", "--file"])
        .arg(&lock)
        .run()
        .assert_success();
    let locked = format!("--locked={}", lock.display());

    home.install(&fixture_plugin("marks-load"), &[&locked])
        .assert_success();
    let text = fs::read_to_string(&lock).unwrap();
    assert!(text.contains("\"marks-load\""), "{text}");

    // Every plugin passes the lock, the new one included.
    let (list, output) = list_json(home.floe().arg(&locked));
    assert!(names(&list).contains(&"marks-load"), "{output}");
    assert_eq!(list["problems"], serde_json::json!([]), "{list:#}");

    home.floe()
        .args(["uninstall", "marks-load", &locked])
        .run()
        .assert_success();
    let text = fs::read_to_string(&lock).unwrap();
    assert!(!text.contains("\"marks-load\""), "{text}");
    assert!(text.contains("\"jaeger\""), "{text}");
}

#[test]
fn with_require_signatures_only_a_signed_plugin_is_installed_with_its_signature() {
    let home = Home::new();
    let dir = Dir::new();
    let base = dir.join("publisher");
    TestCommand::new()
        .arg("keygen")
        .arg("--out")
        .arg(&base)
        .run()
        .assert_success();
    let trust = dir.create_dir("trust");
    fs::copy(base.with_extension("pub"), trust.join("publisher.pub")).unwrap();
    let plugin = dir.copy(fixture_plugin("marks-load"), "in/libmarks.so");
    let require = [
        "--require-signatures",
        "--trust-dir",
        trust.to_str().unwrap(),
    ];

    let output = home.install(&plugin, &require);
    output.assert_code(1);
    assert!(output.stderr.contains(".sig"), "{output}");
    assert!(home.files().is_empty());

    TestCommand::new()
        .arg("sign")
        .arg(&plugin)
        .arg("--key")
        .arg(base.with_extension("key"))
        .run()
        .assert_success();
    home.install(&plugin, &require).assert_success();
    assert_eq!(home.files(), ["libmarks.so", "libmarks.so.sig"]);
    let (list, output) = list_json(home.floe().args(require));
    assert!(names(&list).contains(&"marks-load"), "{output}");
}

#[test]
fn system_installs_go_beside_the_running_executable() {
    let prefix = Dir::new();
    let binary = prefix.copy(floe_telemetry_binary(), format!("bin/{BINARY}"));
    let floe = || TestCommand::with_binary(&binary);
    let system = prefix.join("lib/floe-telemetry/plugins");

    floe()
        .args(["install", "--system"])
        .arg(bundled_plugin("datadog"))
        .run()
        .assert_success();
    let (list, _) = list_json(&mut floe());
    assert_path(
        plugin(&list, "datadog"),
        "path",
        system.join("libfloe_backend_datadog.so"),
    );

    let output = floe().args(["uninstall", "datadog"]).run();
    output.assert_code(1);
    assert!(
        output.stderr.contains("--system") && output.stderr.contains("installed here: none"),
        "{output}"
    );
    floe()
        .args(["uninstall", "--system", "datadog"])
        .run()
        .assert_success();
    assert!(fs::read_dir(&system).unwrap().next().is_none());
}
