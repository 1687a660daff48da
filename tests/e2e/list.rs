//! `floe-telemetry list` with the bundled plugins, found where `cargo build`
//! puts them: beside the binary.

use floe_telemetry_tests::{
    BUNDLED, Dir, TestCommand, bundled_plugin, debug_dir, normalize, same_path,
};
use serde_json::{Value, json};

use crate::util::{
    assert_path, floe_in, list_json, names, plugin, problems, search_path, table, warnings, yes_no,
};

/// What each bundled plugin declares: name, description, self-hosted,
/// signals.
const METADATA: &[(&str, &str, bool, &[&str])] = &[
    (
        "console",
        "Console, the collector's own log (debug exporter)",
        true,
        &["traces", "metrics", "logs"],
    ),
    (
        "datadog",
        "Datadog, hosted APM and distributed tracing",
        false,
        &["traces", "metrics", "logs"],
    ),
    (
        "grafana-cloud",
        "Grafana Cloud, managed Grafana with Tempo, Loki and metrics",
        false,
        &["traces", "metrics", "logs"],
    ),
    (
        "jaeger",
        "Jaeger, self-hosted tracing (default backend)",
        true,
        &["traces"],
    ),
];

#[test]
fn bundled_plugins_are_listed_with_their_metadata() {
    let (list, _) = list_json(&mut TestCommand::new());

    assert_eq!(problems(&list), &[] as &[Value], "{list:#}");
    // One directory, so file-name order: libfloe_backend_{datadog,grafana_cloud,jaeger}.so.
    assert_eq!(names(&list), BUNDLED);
    for &(name, description, self_hosted, signals) in METADATA {
        let plugin = plugin(&list, name);
        assert_eq!(plugin["version"], "0.1.0", "{plugin:#}");
        assert_eq!(plugin["floe_api_version"], "1.1", "{plugin:#}");
        assert_eq!(plugin["description"], description, "{plugin:#}");
        assert_eq!(plugin["self_hosted"], self_hosted, "{plugin:#}");
        assert_eq!(plugin["signals"], json!(signals), "{plugin:#}");
        assert_eq!(plugin["has_settings"], true, "{plugin:#}");
        assert_path(plugin, "path", bundled_plugin(name));
    }
}

#[test]
fn default_search_path_is_the_binary_directory_its_lib_directory_then_the_user_s() {
    let home = Dir::new();
    let (list, _) = list_json(TestCommand::new().env("XDG_DATA_HOME", home.path()));

    let lib = normalize(debug_dir().join("../lib/floe-telemetry/plugins"));
    let path = search_path(&list);
    assert_eq!(path.len(), 3, "{list:#}");
    assert_path(&path[2], "dir", home.join("floe-telemetry/plugins"));
    assert_eq!(path[2]["source"], "default");
    assert_path(&path[0], "dir", debug_dir());
    assert_eq!(path[0]["source"], "default");
    assert_eq!(path[0]["exists"], true);
    assert_path(&path[1], "dir", &lib);
    assert_eq!(path[1]["source"], "default");
    assert_eq!(path[1]["exists"], lib.is_dir());
}

#[test]
fn table_has_one_row_per_plugin() {
    let output = TestCommand::new().arg("list").run();
    output.assert_success();

    let (header, rows) = table(&output.stdout);
    assert_eq!(
        header,
        ["NAME", "VERSION", "API", "SELF-HOSTED", "SIGNALS", "PATH"],
        "{output}"
    );
    assert_eq!(rows.len(), METADATA.len(), "{output}");
    for (row, &(name, _, self_hosted, signals)) in rows.iter().zip(METADATA) {
        assert_eq!(row.len(), 6, "{row:?}");
        assert_eq!(&row[..3], [name, "0.1.0", "1.1"], "{output}");
        assert_eq!(yes_no(row[3]), self_hosted, "{output}");
        assert_eq!(row[4], signals.join(","), "{output}");
        assert!(same_path(row[5], bundled_plugin(name)), "{output}");
    }
    assert_eq!(warnings(&output), &[] as &[&str], "{output}");
}

#[test]
fn table_is_the_default_output() {
    let default = TestCommand::new().arg("list").run();
    let table = TestCommand::new().args(["list", "-o", "table"]).run();
    default.assert_success();
    table.assert_success();
    assert_eq!(default.stdout, table.stdout);
}

#[test]
fn yaml_is_the_json_document() {
    let (json, _) = list_json(&mut TestCommand::new());
    let output = TestCommand::new().args(["list", "-o", "yaml"]).run();
    output.assert_success();

    let yaml: Value = serde_norway::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not YAML: {e}\n{output}"));
    assert_eq!(yaml, json);
}

#[test]
fn verbose_list_shows_the_search_path() {
    let dir = Dir::new();
    let plugins = dir.create_dir("searched-but-empty");

    let output = floe_in(&plugins).args(["list", "-v"]).run();
    output.assert_success();

    let shown = format!("{}{}", output.stdout, output.stderr);
    assert!(shown.contains(plugins.to_str().unwrap()), "{output}");
}

#[test]
fn an_empty_search_path_lists_nothing() {
    let (list, _) = list_json(TestCommand::new().no_default_plugin_dirs());

    assert_eq!(
        list,
        json!({"search_path": [], "plugins": [], "problems": []})
    );
}
