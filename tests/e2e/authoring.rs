//! For plugin authors: `check-plugin` applies the plugin rules to real
//! libraries through the real loader, every bundled plugin and the API
//! crate's example pass, one fixture plugin per rule fails it, and a crate
//! written by `new-plugin` builds outside the workspace, passes and loads.

use std::path::PathBuf;
use std::sync::OnceLock;

use floe_telemetry_tests::{
    BUNDLED, Dir, TestCommand, TestOutput, bundled_plugin, cargo, fixture_plugin,
    fixtures_target_dir, library_file_name, run_build, target_dir, workspace_root,
};
use serde_json::Value;

use crate::util::floe_in;

/// The rules, in the order `check-plugin` reports them.
const RULES: [&str; 12] = [
    "loads",
    "metadata",
    "schema-closed",
    "schema-documented",
    "empty-settings",
    "objects",
    "component-ids",
    "no-literal-credentials",
    "fragment-shape",
    "pipelines",
    "composes",
    "hosted-helm-empty",
];

fn check_plugin(library: impl AsRef<std::path::Path>) -> TestOutput {
    TestCommand::new()
        .arg("check-plugin")
        .arg(library.as_ref())
        .run()
}

/// Checks that every rule has its line, and all of them passed.
#[track_caller]
fn assert_all_pass(output: &TestOutput, name: &str) {
    output.assert_success();
    let lines: Vec<&str> = output.stdout.lines().collect();
    assert_eq!(lines.len(), RULES.len() + 1, "{output}");
    for (line, rule) in lines.iter().zip(RULES) {
        assert!(
            line.starts_with(&format!("pass  {rule} ")),
            "{rule}: {output}"
        );
    }
    assert_eq!(
        lines[RULES.len()],
        format!("{name}: 12 rule(s) passed, 0 failed, 0 not run"),
        "{output}"
    );
}

#[test]
fn every_bundled_plugin_passes_check_plugin() {
    for name in BUNDLED {
        let output = check_plugin(bundled_plugin(name));
        assert_all_pass(&output, name);
        // In the order the skeleton's default configuration lists them.
        let others: Vec<&str> = ["jaeger", "datadog", "grafana-cloud"]
            .into_iter()
            .filter(|other| other != name)
            .collect();
        // Composed with the other bundled backends, found beside the binary.
        assert!(
            output
                .stdout
                .contains(&format!("composes alone and with {}", others.join(", "))),
            "{output}"
        );
    }
}

/// For each rule, the fixture plugin that breaks it and the start of the
/// message it must fail with.
const BREAKERS: &[(&str, &str, &str)] = &[
    (
        "abort-in-load",
        "loads",
        "loading the plugin killed the plugin's process",
    ),
    (
        "section-mismatch",
        "metadata",
        "its metadata section says description \"what the section says\", but its code says \
         \"what the code says\"",
    ),
    (
        "rule-open-schema",
        "schema-closed",
        "settings schema: the root is an object without \"additionalProperties\": false",
    ),
    (
        "rule-undocumented-setting",
        "schema-documented",
        "settings schema: `region` has no \"description\"",
    ),
    (
        "rule-required-setting",
        "empty-settings",
        "the settings schema refuses `{}`: \"region\" is a required property",
    ),
    (
        "rule-not-an-object",
        "objects",
        "get_otlp_exporter_config(): expected a JSON object, got an array",
    ),
    (
        "rule-bad-component-id",
        "component-ids",
        "fragment: `exporters`: \"otlp fixture\" is not a collector component id",
    ),
    (
        "rule-literal-credential",
        "no-literal-credentials",
        "fragment: `exporters.otlphttp/fixture.headers.x-api-key` looks like a credential but \
         holds a value",
    ),
    (
        "rule-receivers-in-fragment",
        "fragment-shape",
        "fragment: `receivers`: a backend's fragment holds only `exporters`, `extensions` and \
         `service`",
    ),
    (
        "rule-stray-pipeline",
        "pipelines",
        "fragment: `service.pipelines.logs`: the backend does not declare logs (SIGNALS: traces)",
    ),
    (
        "rule-undefined-authenticator",
        "composes",
        "composed alone: rule-undefined-authenticator: `exporters.otlp/fixture` authenticates \
         with oauth2client/fixture, which is not defined under extensions",
    ),
    (
        "rule-hosted-helm-values",
        "hosted-helm-empty",
        "SELF_HOSTED is false, so nothing is deployed, but the Helm values set `fixture`",
    ),
];

#[test]
fn each_rule_has_a_plugin_that_breaks_it() {
    let covered: Vec<&str> = BREAKERS.iter().map(|(_, rule, _)| *rule).collect();
    assert_eq!(covered, RULES);
    for (fixture, rule, message) in BREAKERS {
        let dir = Dir::new();
        let library = dir.copy(fixture_plugin(fixture), library_file_name(fixture));
        let output = check_plugin(&library);
        output.assert_code(1);
        let expected = format!("FAIL  {rule:<22}  {message}");
        assert!(
            output
                .stdout
                .lines()
                .any(|line| line.starts_with(&expected)),
            "{fixture} must fail {rule} with {message:?}\n{output}"
        );
        // One line per rule at least, and nothing left unsaid.
        for rule in RULES {
            assert!(
                output
                    .stdout
                    .lines()
                    .any(|line| line[6..].starts_with(rule)),
                "{fixture}: no line for {rule}\n{output}"
            );
        }
    }
}

#[test]
fn every_failure_is_reported_not_only_the_first() {
    let dir = Dir::new();
    let library = dir.copy(fixture_plugin("rule-stray-pipeline"), "libstray.so");
    let output = check_plugin(&library);
    output.assert_code(1);
    let failures: Vec<&str> = output
        .stdout
        .lines()
        .filter(|line| line.starts_with("FAIL"))
        .collect();
    // Two problems of `pipelines`, and the host's own validation refusing it
    // alone and with the bundled backends.
    assert_eq!(failures.len(), 4, "{output}");
    assert!(
        output
            .stdout
            .ends_with("rule-stray-pipeline: 10 rule(s) passed, 2 failed, 0 not run\n")
    );
}

#[test]
fn the_api_crates_example_passes_check_plugin() {
    run_build({
        let mut command = cargo();
        command
            .args([
                "build",
                "-p",
                "floe-plugin-api",
                "--example",
                "acme",
                "--target-dir",
            ])
            .arg(target_dir());
        command
    })
    .unwrap_or_else(|error| panic!("{error}"));
    let library = target_dir()
        .join("debug/examples")
        .join(library_file_name("acme"));
    assert_all_pass(&check_plugin(&library), "acme");
}

#[test]
fn new_plugin_refuses_a_bad_name_and_a_used_directory() {
    let dir = Dir::new();
    let output = TestCommand::new()
        .args(["new-plugin", "Acme Cloud", "--path"])
        .arg(dir.join("acme"))
        .run();
    output.assert_code(2);
    assert!(
        output
            .stderr
            .starts_with("error: \"Acme Cloud\" is not a backend name")
    );
    dir.write("used/notes.txt", "mine");
    let output = TestCommand::new()
        .args(["new-plugin", "acme", "--path"])
        .arg(dir.join("used"))
        .run();
    output.assert_code(2);
    assert!(output.stderr.contains("used: not empty"), "{output}");
    assert_eq!(
        std::fs::read_to_string(dir.join("used/notes.txt")).unwrap(),
        "mine"
    );
}

/// Writes a crate with `new-plugin`, outside the workspace, runs its unit
/// tests (the plugin rules among them) and builds it, once per test
/// process; returns the crate's directory and its library.
fn scaffolded() -> &'static (Dir, PathBuf) {
    static BUILT: OnceLock<Result<(Dir, PathBuf), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = Dir::new();
            let project = dir.join("acme-logs");
            TestCommand::new()
                .args(["new-plugin", "acme-logs", "--path"])
                .arg(&project)
                .run()
                .assert_success();
            // The workspace's lock file pins the versions already fetched,
            // so the build works offline.
            dir.copy(workspace_root().join("Cargo.lock"), "acme-logs/Cargo.lock");
            for step in ["test", "build"] {
                let mut command = cargo();
                command
                    .current_dir(&project)
                    .args([step, "--offline", "--manifest-path"])
                    .arg(project.join("Cargo.toml"))
                    // Shared with the fixture plugins: abi_stable and the
                    // rest are compiled once for all of them.
                    .env("CARGO_TARGET_DIR", fixtures_target_dir());
                run_build(command)?;
            }
            let library = fixtures_target_dir()
                .join("debug")
                .join(library_file_name("floe_backend_acme_logs"));
            Ok((dir, library))
        })
        .as_ref()
        .unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn a_new_plugin_builds_passes_check_plugin_and_loads() {
    let (project, library) = scaffolded();
    let manifest = std::fs::read_to_string(project.join("acme-logs/Cargo.toml")).unwrap();
    let plugin_api = workspace_root().join("plugin-api");
    assert!(
        manifest.contains(&format!(
            "floe-plugin-api = {{ path = {:?}, version = \"~1.2\" }}",
            plugin_api.canonicalize().unwrap().display().to_string()
        )),
        "{manifest}"
    );
    assert!(
        manifest.contains("# floe-plugin-api = \"~1.2\""),
        "{manifest}"
    );

    assert_all_pass(&check_plugin(library), "acme-logs");

    let dir = Dir::new();
    dir.copy(library, "plugins/libfloe_backend_acme_logs.so");
    let output = floe_in(dir.join("plugins"))
        .args(["exporter-config", "acme-logs", "-o", "json"])
        .run();
    output.assert_success();
    let exporter: &Value = &output.json()["exporters"]["otlphttp/acme_logs"];
    assert_eq!(
        exporter["endpoint"], "https://otlp.acme-logs.example",
        "{output}"
    );
    assert_eq!(
        exporter["headers"]["authorization"], "Bearer ${env:ACME_LOGS_API_TOKEN}",
        "{output}"
    );
}
