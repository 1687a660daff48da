//! A plugin built the way the plugin-api documentation tells a third party to
//! build one: its own cargo project, outside this workspace, depending on
//! nothing but `floe-plugin-api`. Only its bare `.so` reaches the host.

use std::path::PathBuf;
use std::sync::OnceLock;

use floe_telemetry_tests::{
    Dir, cargo, fixtures_target_dir, library_file_name, run_build, workspace_root,
};
use serde_json::{Value, json};

use crate::util::{assert_path, floe_in, list_json, plugin, plugins, problems};

const MANIFEST: &str = r#"[package]
name = "floe-backend-acme"
version = "0.3.1"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
floe-plugin-api = { path = "@PLUGIN_API@" }

# A project of its own, wherever the temporary directory happens to be.
[workspace]
"#;

const LIB_RS: &str = r#"use floe_plugin_api::{JsonObject, PluginError, TelemetryBackend, export_backend, json_object};

#[derive(Default)]
pub struct Acme;

impl TelemetryBackend for Acme {
    const NAME: &'static str = "acme";
    const DESCRIPTION: &'static str = "Acme Observability Cloud over OTLP/HTTP";
    const SELF_HOSTED: bool = false;

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        Ok(json_object!({
            "exporters": {
                "otlphttp/acme": {
                    "endpoint": "https://otlp.acme.example",
                    "headers": { "x-acme-key": "${env:ACME_API_KEY}" }
                }
            }
        }))
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        Ok(JsonObject::new()) // nothing to deploy for a hosted service
    }
}

export_backend!(Acme);
"#;

/// Builds the acme plugin once per test process; returns its library.
fn acme_library() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(build_acme)
        .clone()
        .unwrap_or_else(|error| panic!("{error}"))
}

fn build_acme() -> Result<PathBuf, String> {
    let project = Dir::new();
    let plugin_api = workspace_root().join("plugin-api");
    let manifest = MANIFEST.replace("@PLUGIN_API@", plugin_api.to_str().expect("UTF-8 path"));
    project.write("Cargo.toml", manifest);
    project.write("src/lib.rs", LIB_RS);
    // The workspace's lock file pins the versions already fetched, so the
    // build works offline; cargo drops the entries acme does not use.
    project.copy(workspace_root().join("Cargo.lock"), "Cargo.lock");

    let mut command = cargo();
    command
        .current_dir(project.path())
        .args(["build", "--offline", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        // Shared with the fixture plugins: abi_stable and the rest are
        // compiled once for both.
        .env("CARGO_TARGET_DIR", fixtures_target_dir());
    run_build(command)?;
    Ok(fixtures_target_dir()
        .join("debug")
        .join(library_file_name("floe_backend_acme")))
}

/// An otherwise empty plugin directory holding only acme's library.
fn acme_dir() -> (Dir, PathBuf) {
    let dir = Dir::new();
    let library = dir.copy(acme_library(), "plugins/libfloe_backend_acme.so");
    (dir, library)
}

#[test]
fn a_plugin_built_outside_the_workspace_is_listed() {
    let (dir, library) = acme_dir();

    let (list, _) = list_json(&mut floe_in(dir.join("plugins")));

    assert_eq!(plugins(&list).len(), 1, "{list:#}");
    assert_eq!(problems(&list), &[] as &[Value], "{list:#}");
    let acme = plugin(&list, "acme");
    assert_eq!(acme["version"], "0.3.1");
    assert_eq!(acme["floe_api_version"], "1.1");
    assert_eq!(acme["signals"], json!(["traces", "metrics", "logs"]));
    assert_eq!(
        acme["description"],
        "Acme Observability Cloud over OTLP/HTTP"
    );
    assert_eq!(acme["self_hosted"], false);
    assert_path(acme, "path", &library);
}

#[test]
fn a_plugin_built_outside_the_workspace_is_called() {
    let (dir, _) = acme_dir();
    let plugins_dir = dir.join("plugins");

    let exporter = floe_in(&plugins_dir)
        .args(["exporter-config", "acme", "-o", "json"])
        .run();
    let helm = floe_in(&plugins_dir)
        .args(["helm-values", "acme", "-o", "json"])
        .run();
    let check = floe_in(&plugins_dir).arg("check").run();

    exporter.assert_success();
    assert_eq!(
        exporter.json(),
        json!({"exporters": {"otlphttp/acme": {
            "endpoint": "https://otlp.acme.example",
            "headers": {"x-acme-key": "${env:ACME_API_KEY}"}
        }}})
    );
    helm.assert_success();
    assert_eq!(helm.json(), json!({}));
    check.assert_success();
}
