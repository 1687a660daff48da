//! Plugins that panic, files that are not plugins at all, and files that are
//! not candidates: none of them may take the healthy plugins down.

use std::path::PathBuf;

use floe_telemetry_tests::{BUNDLED, Dir, bundled_plugin, fixture_plugin};
use serde_json::{Value, json};

use crate::util::{
    assert_warning_about, copy_bundled, floe_in, list_json, names, plugins, problems, the_problem,
};

const PANIC_MESSAGE: &str = "exporter config exploded";

/// The bundled plugins plus the panicking fixture, in one directory.
struct WithPanicky {
    _dir: Dir,
    plugins: PathBuf,
    panicky: PathBuf,
}

impl WithPanicky {
    fn new() -> Self {
        let dir = Dir::new();
        let plugins = copy_bundled(&dir, "plugins");
        let panicky = dir.copy(
            fixture_plugin("panicky"),
            "plugins/libfloe_fixture_panicky.so",
        );
        Self {
            _dir: dir,
            plugins,
            panicky,
        }
    }
}

#[test]
fn a_panicking_call_exits_1_naming_the_plugin_and_the_panic() {
    let setup = WithPanicky::new();

    let output = floe_in(&setup.plugins)
        .args(["exporter-config", "panicky"])
        .run();

    // A real exit code: `code` fails the test if a signal ended the process.
    output.assert_code(1);
    assert!(
        output.stderr.contains(setup.panicky.to_str().unwrap()),
        "{output}"
    );
    // The fixture silences its own panic hook, so only the host can have
    // printed this.
    assert!(output.stderr.contains(PANIC_MESSAGE), "{output}");
    assert_eq!(output.stdout, "", "{output}");
}

#[test]
fn the_other_call_of_a_panicking_plugin_still_works() {
    let setup = WithPanicky::new();

    let output = floe_in(&setup.plugins)
        .args(["helm-values", "panicky", "-o", "json"])
        .run();

    output.assert_success();
    assert_eq!(output.json(), json!({}));
}

#[test]
fn list_does_not_call_plugins_and_lists_every_one() {
    let setup = WithPanicky::new();

    let (list, _) = list_json(&mut floe_in(&setup.plugins));

    for name in BUNDLED {
        assert!(names(&list).contains(name), "{name} missing from {list:#}");
    }
    assert_eq!(problems(&list), &[] as &[Value], "{list:#}");
}

#[test]
fn check_reports_the_panic_and_exits_1() {
    let setup = WithPanicky::new();

    let output = floe_in(&setup.plugins).args(["check", "-o", "json"]).run();

    output.assert_code(1);
    let report = output.json();
    let problem = the_problem(&report, "call_panicked", &setup.panicky);
    assert!(
        problem["error"]
            .as_str()
            .is_some_and(|e| e.contains(PANIC_MESSAGE)),
        "{report:#}"
    );
    // The healthy plugins answered both calls without a problem.
    assert_eq!(problems(&report).len(), 1, "{report:#}");
}

#[test]
fn check_table_also_exits_1() {
    let setup = WithPanicky::new();

    floe_in(&setup.plugins)
        .args(["check", "-o", "table"])
        .run()
        .assert_code(1);
    floe_in(&setup.plugins).arg("check").run().assert_code(1);
}

#[test]
fn check_passes_with_healthy_plugins() {
    let dir = Dir::new();
    let plugins_dir = copy_bundled(&dir, "plugins");

    let output = floe_in(&plugins_dir).args(["check", "-o", "json"]).run();

    output.assert_success();
    assert_eq!(problems(&output.json()), &[] as &[Value], "{output}");
    floe_in(&plugins_dir).arg("check").run().assert_success();
}

/// The bundled plugins, plus three `.so` files no loader accepts.
struct WithJunk {
    _dir: Dir,
    plugins: PathBuf,
    junk: [PathBuf; 3],
}

impl WithJunk {
    fn new() -> Self {
        let dir = Dir::new();
        let plugins = copy_bundled(&dir, "plugins");
        let junk = [
            dir.write(
                "plugins/notes.so",
                "remember to install the jaeger plugin\n",
            ),
            dir.write("plugins/empty.so", ""),
            dir.write("plugins/random.so", noise(4096)),
        ];
        Self {
            _dir: dir,
            plugins,
            junk,
        }
    }
}

/// `len` bytes that look random but are the same on every run, and are no
/// known file format.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            // xorshift32
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[test]
fn files_that_are_not_libraries_are_problems_and_the_rest_still_load() {
    let setup = WithJunk::new();

    let (list, _) = list_json(&mut floe_in(&setup.plugins));

    assert_eq!(names(&list), BUNDLED, "{list:#}");
    for junk in &setup.junk {
        the_problem(&list, "not_a_library", junk);
    }
    assert_eq!(problems(&list).len(), setup.junk.len(), "{list:#}");
}

#[test]
fn files_that_are_not_libraries_are_warnings_in_the_table() {
    let setup = WithJunk::new();

    let output = floe_in(&setup.plugins).arg("list").run();

    output.assert_success();
    for junk in &setup.junk {
        assert_warning_about(&output, junk);
    }
    for name in BUNDLED {
        assert!(
            output.stdout.lines().any(|l| l.starts_with(name)),
            "{name} missing\n{output}"
        );
    }
}

#[test]
fn check_fails_on_files_that_are_not_libraries() {
    let setup = WithJunk::new();

    let output = floe_in(&setup.plugins).args(["check", "-o", "json"]).run();

    output.assert_code(1);
    let report = output.json();
    for junk in &setup.junk {
        the_problem(&report, "not_a_library", junk);
    }
}

#[test]
fn files_without_the_so_suffix_are_not_candidates() {
    let dir = Dir::new();
    let plugins_dir = dir.create_dir("plugins");
    dir.copy(
        bundled_plugin("jaeger"),
        "plugins/libfloe_backend_jaeger.so",
    );
    // Would be problems, or a second plugin, if they were looked at.
    dir.write("plugins/README.txt", "plugins for floe-telemetry go here\n");
    dir.write("plugins/so", noise(64));
    dir.write("plugins/notes.so.txt", "not a library\n");
    dir.copy(
        bundled_plugin("datadog"),
        "plugins/libfloe_backend_datadog.so.disabled",
    );
    dir.copy(bundled_plugin("grafana-cloud"), "plugins/grafana-cloud.dll");

    let (list, output) = list_json(&mut floe_in(&plugins_dir));

    assert_eq!(names(&list), ["jaeger"], "{list:#}");
    assert_eq!(plugins(&list).len(), 1);
    assert_eq!(problems(&list), &[] as &[Value], "{list:#}");
    for ignored in [
        "README.txt",
        "notes.so.txt",
        "disabled",
        "grafana-cloud.dll",
    ] {
        assert!(
            !output.stdout.contains(ignored),
            "{ignored} was looked at\n{output}"
        );
        assert!(
            !output.stderr.contains(ignored),
            "{ignored} was looked at\n{output}"
        );
    }
}
