//! Where plugins are searched for, in which order, and what happens when two
//! plugins share a name.

use std::path::Path;

use floe_telemetry_tests::{
    BUNDLED, Dir, TestCommand, absent_user_plugin_dir, bundled_plugin, debug_dir, fixture_plugin,
    floe_telemetry_binary, normalize,
};
use serde_json::Value;

use crate::util::{
    assert_path, copy_bundled, floe_in, list_json, names, plugin, plugins, problems, search_path,
    table, the_problem, warnings,
};

/// Asserts that `entry` of `search_path` is `dir`, from `source`.
#[track_caller]
fn assert_entry(entry: &Value, dir: &Path, source: &str) {
    assert_path(entry, "dir", dir);
    assert_eq!(entry["source"], source, "{entry:#}");
    assert_eq!(entry["exists"], dir.is_dir(), "{entry:#}");
}

#[test]
fn plugin_dir_alone_is_searched_with_no_default_dirs() {
    let dir = Dir::new();
    let plugins_dir = copy_bundled(&dir, "plugins");

    let (list, _) = list_json(&mut floe_in(&plugins_dir));

    let path = search_path(&list);
    assert_eq!(path.len(), 1, "{list:#}");
    assert_entry(&path[0], &plugins_dir, "--plugin-dir");
    assert_eq!(names(&list), BUNDLED);
    for name in BUNDLED {
        let file = bundled_plugin(name);
        assert_path(
            plugin(&list, name),
            "path",
            plugins_dir.join(file.file_name().unwrap()),
        );
    }
}

#[test]
fn global_flags_are_accepted_after_the_subcommand() {
    let dir = Dir::new();
    let plugins_dir = copy_bundled(&dir, "plugins");

    let (before, _) = list_json(&mut floe_in(&plugins_dir));
    let output = TestCommand::new()
        .args(["list", "-o", "json", "--plugin-dir"])
        .arg(&plugins_dir)
        .arg("--no-default-plugin-dirs")
        .run();
    output.assert_success();

    assert_eq!(output.json(), before);
}

#[test]
fn floe_plugin_path_dirs_are_searched() {
    let dir = Dir::new();
    let first = dir.create_dir("first");
    let second = dir.create_dir("second");
    dir.copy(bundled_plugin("jaeger"), "first/jaeger.so");
    dir.copy(bundled_plugin("datadog"), "second/datadog.so");

    let (list, _) = list_json(
        TestCommand::new()
            .no_default_plugin_dirs()
            .plugin_path([&first, &second]),
    );

    let path = search_path(&list);
    assert_eq!(path.len(), 2, "{list:#}");
    assert_entry(&path[0], &first, "FLOE_PLUGIN_PATH");
    assert_entry(&path[1], &second, "FLOE_PLUGIN_PATH");
    assert_eq!(names(&list), ["jaeger", "datadog"]);
}

#[test]
fn order_is_search_path_order_then_file_name() {
    let dir = Dir::new();
    let a = dir.create_dir("a");
    let b = dir.create_dir("b");
    let c = dir.create_dir("c");
    let missing = dir.join("missing");
    // Neither plugin names nor file names alone give this order.
    dir.copy(bundled_plugin("jaeger"), "a/20-jaeger.so");
    dir.copy(bundled_plugin("grafana-cloud"), "a/10-grafana.so");
    dir.copy(bundled_plugin("datadog"), "b/00-datadog.so");
    dir.copy(fixture_plugin("panicky"), "c/00-panicky.so");

    let mut command = TestCommand::new();
    command
        .plugin_dir(&a)
        .plugin_dir(&b)
        .plugin_path([&c, &missing]);
    let (list, _) = list_json(&mut command);

    let path = search_path(&list);
    assert_eq!(path.len(), 7, "{list:#}");
    assert_entry(&path[0], &a, "--plugin-dir");
    assert_entry(&path[1], &b, "--plugin-dir");
    assert_entry(&path[2], &c, "FLOE_PLUGIN_PATH");
    assert_entry(&path[3], &missing, "FLOE_PLUGIN_PATH");
    assert_entry(&path[4], &debug_dir(), "default");
    assert_entry(
        &path[5],
        &normalize(debug_dir().join("../lib/floe-telemetry/plugins")),
        "default",
    );
    assert_entry(&path[6], &absent_user_plugin_dir(), "default");

    // Then the bundled plugins beside the binary: duplicates by now, but
    // for console, which no other directory has.
    assert_eq!(
        names(&list),
        ["grafana-cloud", "jaeger", "datadog", "panicky", "console"]
    );
    assert_path(
        plugin(&list, "grafana-cloud"),
        "path",
        a.join("10-grafana.so"),
    );
    assert_path(plugin(&list, "jaeger"), "path", a.join("20-jaeger.so"));
    assert_path(plugin(&list, "datadog"), "path", b.join("00-datadog.so"));
    assert_path(plugin(&list, "panicky"), "path", c.join("00-panicky.so"));
    for name in BUNDLED.iter().filter(|name| **name != "console") {
        the_problem(&list, "duplicate_name", &bundled_plugin(name));
    }
    assert_path(plugin(&list, "console"), "path", bundled_plugin("console"));
}

#[test]
fn a_missing_directory_is_shown_and_does_not_stop_the_search() {
    let dir = Dir::new();
    let missing = dir.join("missing");
    let plugins_dir = dir.create_dir("plugins");
    dir.copy(bundled_plugin("jaeger"), "plugins/jaeger.so");

    let mut command = TestCommand::new();
    command
        .no_default_plugin_dirs()
        .plugin_dir(&missing)
        .plugin_dir(&plugins_dir);
    let (list, _) = list_json(&mut command);

    assert_entry(&search_path(&list)[0], &missing, "--plugin-dir");
    assert_eq!(search_path(&list)[0]["exists"], false);
    assert_eq!(names(&list), ["jaeger"]);
}

/// A copy of the binary in `<root>/bin`, as an installation would have it.
fn install(dir: &Dir) -> std::path::PathBuf {
    dir.copy(floe_telemetry_binary(), "bin/floe-telemetry")
}

#[test]
fn default_dirs_are_the_binary_directory_then_lib_floe_telemetry_plugins() {
    let dir = Dir::new();
    let binary = install(&dir);
    let bin = dir.join("bin");
    let lib = dir.create_dir("lib/floe-telemetry/plugins");
    dir.copy(bundled_plugin("jaeger"), "bin/libfloe_backend_jaeger.so");
    dir.copy(
        bundled_plugin("datadog"),
        lib.join("libfloe_backend_datadog.so"),
    );
    dir.copy(
        bundled_plugin("grafana-cloud"),
        lib.join("libfloe_backend_grafana_cloud.so"),
    );

    let (list, _) = list_json(&mut TestCommand::with_binary(&binary));

    let path = search_path(&list);
    assert_eq!(path.len(), 3, "{list:#}");
    assert_entry(&path[0], &bin, "default");
    assert_entry(&path[1], &lib, "default");
    assert_entry(&path[2], &absent_user_plugin_dir(), "default");
    assert_eq!(names(&list), ["jaeger", "datadog", "grafana-cloud"]);
    assert_path(
        plugin(&list, "jaeger"),
        "path",
        bin.join("libfloe_backend_jaeger.so"),
    );
    assert_path(
        plugin(&list, "datadog"),
        "path",
        lib.join("libfloe_backend_datadog.so"),
    );
    assert_eq!(problems(&list), &[] as &[Value], "{list:#}");
}

#[test]
fn default_dirs_come_after_plugin_dir_and_floe_plugin_path() {
    let dir = Dir::new();
    let binary = install(&dir);
    let bin = dir.join("bin");
    let flag = dir.create_dir("flag");
    let env = dir.create_dir("env");
    dir.copy(bundled_plugin("jaeger"), "bin/a.so");
    dir.copy(bundled_plugin("datadog"), "flag/z.so");
    dir.copy(bundled_plugin("grafana-cloud"), "env/m.so");

    let mut command = TestCommand::with_binary(&binary);
    command.plugin_dir(&flag).plugin_path([&env]);
    let (list, _) = list_json(&mut command);

    let path = search_path(&list);
    assert_eq!(path.len(), 5, "{list:#}");
    assert_entry(&path[0], &flag, "--plugin-dir");
    assert_entry(&path[1], &env, "FLOE_PLUGIN_PATH");
    assert_entry(&path[2], &bin, "default");
    assert_entry(&path[3], &dir.join("lib/floe-telemetry/plugins"), "default");
    assert_entry(&path[4], &absent_user_plugin_dir(), "default");
    assert_eq!(names(&list), ["datadog", "grafana-cloud", "jaeger"]);
}

#[test]
fn no_default_plugin_dirs_skips_the_binary_directory() {
    let dir = Dir::new();
    let binary = install(&dir);
    dir.copy(bundled_plugin("jaeger"), "bin/libfloe_backend_jaeger.so");
    dir.copy(
        bundled_plugin("datadog"),
        "lib/floe-telemetry/plugins/libfloe_backend_datadog.so",
    );

    let (list, _) = list_json(TestCommand::with_binary(&binary).no_default_plugin_dirs());

    assert_eq!(search_path(&list), &[] as &[Value]);
    assert_eq!(plugins(&list), &[] as &[Value]);
}

/// Two directories, each holding a plugin named `jaeger`: the bundled one
/// and the impostor fixture.
struct TwoJaegers {
    dir: Dir,
    bundled: std::path::PathBuf,
    impostor: std::path::PathBuf,
}

impl TwoJaegers {
    fn new() -> Self {
        let dir = Dir::new();
        let bundled = dir.copy(
            bundled_plugin("jaeger"),
            "bundled/libfloe_backend_jaeger.so",
        );
        let impostor = dir.copy(
            fixture_plugin("dup-jaeger"),
            "impostor/libfloe_backend_jaeger.so",
        );
        Self {
            dir,
            bundled,
            impostor,
        }
    }

    /// `floe-telemetry` searching `first`, then `second`, and nothing else.
    fn floe(&self, first: &str, second: &str) -> TestCommand {
        let mut command = TestCommand::new();
        command
            .no_default_plugin_dirs()
            .plugin_dir(self.dir.join(first))
            .plugin_dir(self.dir.join(second));
        command
    }
}

#[test]
fn the_first_plugin_of_a_name_wins_and_the_later_one_is_reported() {
    let jaegers = TwoJaegers::new();

    let (list, _) = list_json(&mut jaegers.floe("bundled", "impostor"));

    let jaeger = plugin(&list, "jaeger");
    assert_path(jaeger, "path", &jaegers.bundled);
    assert_eq!(
        jaeger["description"],
        "Jaeger, self-hosted tracing (default backend)"
    );
    assert_eq!(problems(&list).len(), 1, "{list:#}");
    // Filed under the ignored file, with a message naming the one that won:
    // together they name both.
    let problem = the_problem(&list, "duplicate_name", &jaegers.impostor);
    let error = problem["error"].as_str().expect("error is a string");
    assert!(
        error.contains(jaegers.bundled.to_str().unwrap()),
        "{error:?}"
    );
}

#[test]
fn whichever_comes_first_wins_even_the_impostor() {
    let jaegers = TwoJaegers::new();

    let (list, _) = list_json(&mut jaegers.floe("impostor", "bundled"));
    let jaeger = plugin(&list, "jaeger");
    assert_path(jaeger, "path", &jaegers.impostor);
    assert_eq!(jaeger["description"], "impostor");
    the_problem(&list, "duplicate_name", &jaegers.bundled);

    // Calls go to the winner too.
    let output = jaegers
        .floe("impostor", "bundled")
        .args(["exporter-config", "jaeger", "-o", "json"])
        .run();
    output.assert_success();
    assert_eq!(
        output.json()["exporters"]["otlp/impostor"]["endpoint"],
        "impostor:4317",
        "{output}"
    );
}

#[test]
fn within_a_directory_the_first_file_name_wins() {
    let dir = Dir::new();
    let plugins_dir = dir.create_dir("plugins");
    let first = dir.copy(fixture_plugin("dup-jaeger"), "plugins/a-jaeger.so");
    let second = dir.copy(bundled_plugin("jaeger"), "plugins/b-jaeger.so");

    let (list, _) = list_json(&mut floe_in(&plugins_dir));

    assert_path(plugin(&list, "jaeger"), "path", &first);
    the_problem(&list, "duplicate_name", &second);
}

#[test]
fn duplicates_are_warnings_in_the_table() {
    let jaegers = TwoJaegers::new();

    let output = jaegers.floe("bundled", "impostor").arg("list").run();

    output.assert_success();
    let [bundled, impostor] = [&jaegers.bundled, &jaegers.impostor].map(|p| p.to_str().unwrap());
    assert!(
        warnings(&output)
            .iter()
            .any(|line| line.contains(bundled) && line.contains(impostor)),
        "no warning line names both files\n{output}"
    );
    let (_, rows) = table(&output.stdout);
    assert_eq!(rows.len(), 1, "{output}");
    assert_eq!(rows[0].last(), Some(&bundled), "{output}");
}
