//! `floe-telemetry lock` and `--locked`: only the files pinned, with the same
//! bytes, are read as plugins.

use std::fs;

use floe_telemetry_tests::{BUNDLED, Dir, fixture_plugin};

use crate::util::{copy_bundled, floe_in, list_json, names, problems, the_problem};

/// The bundled plugins and `marks-load` (whose initialiser leaves a marker
/// when it is loaded), locked in `<dir>/floe-telemetry.lock`.
fn locked() -> (Dir, std::path::PathBuf) {
    let dir = Dir::new();
    let plugins = copy_bundled(&dir, "plugins");
    dir.copy(
        fixture_plugin("marks-load"),
        "plugins/libfloe_fixture_marks_load.so",
    );
    let lock = dir.join("floe-telemetry.lock");
    let output = floe_in(&plugins)
        .args(["lock", "--file", lock.to_str().unwrap()])
        .run();
    output.assert_success();
    let pinned = format!("locked {} plugin(s)", BUNDLED.len() + 1);
    assert!(output.stderr.contains(&pinned), "{output}");
    (dir, lock)
}

fn locked_flag(lock: &std::path::Path) -> String {
    format!("--locked={}", lock.display())
}

#[test]
fn the_lock_file_pins_each_plugin_by_hash() {
    let (dir, lock) = locked();
    let written: serde_json::Value = serde_json::from_slice(&fs::read(&lock).unwrap()).unwrap();
    assert_eq!(written["format"], 1);
    let entries = written["plugins"].as_array().unwrap();
    assert_eq!(entries.len(), BUNDLED.len() + 1, "{written:#}");
    for entry in entries {
        assert_eq!(entry["sha256"].as_str().unwrap().len(), 64, "{entry:#}");
        assert_eq!(entry["version"], "0.1.0");
    }

    let (list, _) = list_json(floe_in(dir.join("plugins")).arg(locked_flag(&lock)));
    assert_eq!(problems(&list), &[] as &[serde_json::Value], "{list:#}");
    assert_eq!(names(&list).len(), BUNDLED.len() + 1, "{list:#}");
    let output = floe_in(dir.join("plugins"))
        .args([&locked_flag(&lock), "exporter-config", "jaeger"])
        .run();
    output.assert_success();
}

#[test]
fn one_flipped_byte_fails_the_hash_and_the_file_is_never_loaded() {
    let (dir, lock) = locked();
    let markers = dir.create_dir("markers");
    let path = dir.join("plugins/libfloe_fixture_marks_load.so");
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, bytes).unwrap();

    let output = floe_in(dir.join("plugins"))
        .env("FLOE_FIXTURE_MARKER_DIR", &markers)
        .args([&locked_flag(&lock), "check", "-o", "json"])
        .run();
    output.assert_code(1);
    let report = output.json();
    let problem = the_problem(&report, "hash_mismatch", &path);
    let error = problem["error"].as_str().unwrap();
    assert!(
        error.contains("pins marks-load at") && error.contains("floe-telemetry lock"),
        "{error}"
    );
    assert_eq!(problems(&report).len(), 1, "{report:#}");
    assert!(
        !markers.join("marks-load-loaded").exists(),
        "a file that failed its hash was loaded"
    );
}

#[test]
fn a_file_not_in_the_lock_is_refused_and_a_missing_lock_is_a_usage_error() {
    let (dir, lock) = locked();
    let extra = dir.copy(fixture_plugin("dup-jaeger"), "plugins/libzz_not_locked.so");

    let (list, _) = list_json(floe_in(dir.join("plugins")).arg(locked_flag(&lock)));
    the_problem(&list, "not_locked", &extra);
    // Without --locked it is read as usual (an impostor jaeger, here).
    let (list, _) = list_json(&mut floe_in(dir.join("plugins")));
    the_problem(&list, "duplicate_name", &extra);

    let output = floe_in(dir.join("plugins"))
        .args(["--locked=/nonexistent/floe-telemetry.lock", "list"])
        .run();
    output.assert_code(2);
    assert!(output.stderr.contains("floe-telemetry lock"), "{output}");
}
