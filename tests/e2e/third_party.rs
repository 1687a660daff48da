//! A plugin built the way the plugin-api documentation tells a third party to
//! build one: its own cargo project, outside this workspace, depending on
//! nothing but `floe-plugin-api`, with the crate documentation's example as
//! its source.
//! Only its bare `.so` reaches the host.

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

const LIB_RS: &str = r##"use floe_plugin_api::serde_json::Value;
use floe_plugin_api::{JsonObject, PluginError, Signals, TelemetryBackend, export_backend, json_object};

pub struct Acme {
    region: String,
    api_key_env: String,
}

impl Default for Acme {
    fn default() -> Self {
        Self { region: "us".into(), api_key_env: "ACME_API_KEY".into() }
    }
}

impl TelemetryBackend for Acme {
    const NAME: &'static str = "acme";
    const DESCRIPTION: &'static str = "Acme Observability Cloud over OTLP/HTTP";
    const SELF_HOSTED: bool = false;
    const SIGNALS: Signals = Signals::TRACES.union(Signals::LOGS);

    // The host checks the user's settings against this before any call.
    fn settings_schema() -> JsonObject {
        json_object!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "region": {"description": "the Acme region", "enum": ["us", "eu"], "default": "us"},
                "api_key_env": {
                    "description": "environment variable holding the API key",
                    "type": "string",
                    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                    "default": "ACME_API_KEY"
                }
            }
        })
    }

    // Called with settings that passed the schema; `{}` means defaults.
    fn configure(settings: JsonObject) -> Result<Self, PluginError> {
        let mut acme = Acme::default();
        if let Some(Value::String(region)) = settings.get("region") {
            acme.region = region.clone();
        }
        if let Some(Value::String(name)) = settings.get("api_key_env") {
            acme.api_key_env = name.clone();
        }
        Ok(acme)
    }

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        Ok(json_object!({
            "exporters": {
                "otlphttp/acme": {
                    "endpoint": format!("https://otlp.{}.acme.example", self.region),
                    // The collector reads the key from its environment.
                    "headers": { "x-acme-key": format!("${{env:{}}}", self.api_key_env) }
                }
            }
        }))
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        Ok(JsonObject::new()) // nothing to deploy for a hosted service
    }
}

export_backend!(Acme);
"##;

/// Builds the acme plugin once per test process; returns its library.
pub fn acme_library() -> PathBuf {
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
    assert_eq!(acme["signals"], json!(["traces", "logs"]));
    assert_eq!(acme["has_settings"], true);
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
            "endpoint": "https://otlp.us.acme.example",
            "headers": {"x-acme-key": "${env:ACME_API_KEY}"}
        }}})
    );
    helm.assert_success();
    assert_eq!(helm.json(), json!({}));
    check.assert_success();
}

#[test]
fn a_plugin_built_outside_the_workspace_takes_its_settings() {
    let (dir, _) = acme_dir();
    let plugins_dir = dir.join("plugins");
    let good = dir.write(
        "good.yaml",
        "backends: [{backend: acme, config: {region: eu, api_key_env: ACME_EU_KEY}}]",
    );
    let bad = dir.write(
        "bad.yaml",
        "backends: [{backend: acme, config: {region: mars}}]",
    );

    let output = floe_in(&plugins_dir)
        .args(["exporter-config", "acme", "-o", "json", "-c"])
        .arg(&good)
        .run();
    output.assert_success();
    assert_eq!(
        output.json(),
        json!({"exporters": {"otlphttp/acme": {
            "endpoint": "https://otlp.eu.acme.example",
            "headers": {"x-acme-key": "${env:ACME_EU_KEY}"}
        }}})
    );

    let output = floe_in(&plugins_dir)
        .args(["exporter-config", "acme", "-c"])
        .arg(&bad)
        .run();
    output.assert_code(2);
    assert!(
        output
            .stderr
            .contains(r#"backends[0].config.region: "mars" is not one of ["us", "eu"]"#),
        "{output}"
    );
}
