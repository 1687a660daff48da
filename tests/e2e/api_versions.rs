//! Plugins built for other plugin API versions: a real 1.0 plugin (built
//! against the frozen 1.0 `floe-plugin-api`) still loads and runs in this
//! 1.1 host, as a backend without settings; plugins claiming 1.2 or 2.0 are
//! refused before any of their code runs.

use std::path::PathBuf;

use floe_telemetry_tests::{Dir, TestOutput, fixture_plugin, read_to_string};
use serde_json::{Value, json};

use crate::util::{copy_bundled, floe_in, list_json, plugin, problems, the_problem};

/// A plugin directory with the bundled plugins, the 1.0 plugin and the two
/// from the future, and a marker file the latter write if any of their code
/// runs.
struct Mixed {
    dir: Dir,
    plugins: PathBuf,
    marker: PathBuf,
}

impl Mixed {
    fn new() -> Self {
        let dir = Dir::new();
        let plugins = copy_bundled(&dir, "plugins");
        for name in ["legacy-1-0", "future-1-2", "future-2-0"] {
            let file = format!("plugins/libfloe_fixture_{}.so", name.replace('-', "_"));
            dir.copy(fixture_plugin(name), file);
        }
        let marker = dir.join("future-code-ran");
        Self {
            dir,
            plugins,
            marker,
        }
    }

    fn library(&self, name: &str) -> PathBuf {
        self.plugins
            .join(format!("libfloe_fixture_{}.so", name.replace('-', "_")))
    }

    fn run(&self, args: &[&str]) -> TestOutput {
        let output = floe_in(&self.plugins)
            .env("FLOE_FIXTURE_MARKER", &self.marker)
            .args(args)
            .run();
        assert!(
            !self.marker.exists(),
            "code of a refused plugin ran: {}\n{output}",
            read_to_string(&self.marker)
        );
        output
    }
}

#[test]
fn a_1_0_plugin_is_listed_beside_1_1_plugins() {
    let mixed = Mixed::new();
    let (list, _) = list_json(floe_in(&mixed.plugins).env("FLOE_FIXTURE_MARKER", &mixed.marker));

    let legacy = plugin(&list, "legacy");
    assert_eq!(legacy["floe_api_version"], "1.0", "{list:#}");
    assert_eq!(
        legacy["signals"],
        Value::Null,
        "a 1.0 plugin does not say\n{list:#}"
    );
    assert_eq!(legacy["has_settings"], false);
    // Built before plugins had a metadata section: loaded to be listed, in a
    // process of its own.
    assert_eq!(legacy["metadata"], "root_module", "{list:#}");
    assert_eq!(plugin(&list, "jaeger")["floe_api_version"], "1.1");
    assert_eq!(plugin(&list, "jaeger")["metadata"], "section");
    // The only problems are the two plugins from the future.
    assert_eq!(problems(&list).len(), 2, "{list:#}");
    assert!(!mixed.marker.exists());
}

#[test]
fn a_1_0_plugin_runs_without_settings() {
    let mixed = Mixed::new();

    let exporter = mixed.run(&["exporter-config", "legacy", "-o", "json"]);
    exporter.assert_success();
    assert_eq!(
        exporter.json(),
        json!({"exporters": {"otlp/legacy": {"endpoint": "legacy-collector:4317"}}})
    );
    let helm = mixed.run(&["helm-values", "legacy", "-o", "json"]);
    helm.assert_success();
    assert_eq!(helm.json(), json!({"legacy": {"enabled": true}}));

    // Its schema accepts exactly no settings.
    let schema = mixed.run(&["schema", "legacy"]);
    schema.assert_success();
    assert_eq!(schema.json()["additionalProperties"], false);

    // An empty `config:` is fine; a setting is not, and says why.
    let config = mixed
        .dir
        .write("empty.yaml", "backends: [{backend: legacy, config: {}}]");
    let output = mixed.run(&["exporter-config", "legacy", "-c", config.to_str().unwrap()]);
    output.assert_success();
    let config = mixed.dir.write(
        "settings.yaml",
        "backends: [{backend: legacy, config: {endpoint: \"x:1\"}}]",
    );
    let output = mixed.run(&["exporter-config", "legacy", "-c", config.to_str().unwrap()]);
    output.assert_code(2);
    assert!(
        output.stderr.contains(
            "backends[0].config: legacy was built for plugin API 1.0 and takes no settings"
        ),
        "{output}"
    );
    assert_eq!(output.stdout, "");
}

#[test]
fn check_calls_1_0_and_1_1_plugins_alike() {
    let mixed = Mixed::new();
    let output = mixed.run(&["check", "-o", "json"]);
    // The plugins from the future are the only problems.
    output.assert_code(1);
    let report = output.json();
    assert_eq!(problems(&report).len(), 2, "{report:#}");
    for problem in problems(&report) {
        assert_eq!(problem["kind"], "api_version_incompatible", "{report:#}");
    }
}

#[test]
fn plugins_claiming_1_2_or_2_0_are_refused_naming_both_versions() {
    let mixed = Mixed::new();
    let output = mixed.run(&["list", "-o", "json"]);
    output.assert_success();
    let list = output.json();
    for (name, version, advice) in [
        ("future-1-2", "1.2", "upgrade floe-telemetry"),
        ("future-2-0", "2.0", "install a build of the plugin"),
    ] {
        let problem = the_problem(&list, "api_version_incompatible", &mixed.library(name));
        let error = problem["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("plugin API {version}")) && error.contains("plugin API 1.1"),
            "{error}"
        );
        assert!(error.contains(advice), "{error}");
    }
    // Asked for by name, the backend is refused, with the reason, and
    // nothing of it ran.
    let output = mixed.run(&["exporter-config", "future"]);
    output.assert_code(2);
    assert!(
        output.stderr.contains(&format!(
            "error: backend \"future\" is provided by {}, which was refused: built for plugin API",
            mixed.library("future-1-2").display()
        )),
        "{output}"
    );
}
