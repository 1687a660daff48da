//! What a new user meets first: which configuration file is read, messages
//! that say what to write instead, notes about data sent nowhere, help that
//! shows only what applies, and logs without colour when asked.

use std::process::Command;

use floe_telemetry_tests::{Dir, TestCommand, floe_telemetry_binary};
use serde_json::json;

use crate::render::{filelog_base, render};

/// Configurations that render different exporters, so that the output says
/// which file was read.
const DATADOG: &str = "backends:\n  - backend: datadog\n";
const JAEGER_HTTP: &str = "backends:\n  - backend: jaeger\n    config: {protocol: http}\n";

fn exporters(command: &mut TestCommand) -> Vec<String> {
    let output = command
        .args(["render", "collector", "-o", "json", "-v"])
        .run();
    output.assert_success();
    let config = output.json();
    config["exporters"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn the_configuration_is_c_then_the_environment_then_the_user_s_file() {
    let dir = Dir::new();
    let xdg = dir.join("xdg");
    let user = dir.write("xdg/floe-telemetry/config.yaml", DATADOG);
    let named = dir.write("named.yaml", JAEGER_HTTP);
    let floe = || {
        let mut command = TestCommand::new();
        command.env("XDG_CONFIG_HOME", &xdg);
        command
    };

    // The user's file, found without being named; -v says so.
    let output = floe().args(["render", "collector", "-v"]).run();
    output.assert_success();
    assert!(output.stdout.contains("datadog"), "{output}");
    assert!(
        output.stderr.contains(user.to_str().unwrap())
            && output.stderr.contains("the user's configuration file"),
        "{output}"
    );

    // The environment before the user's file, -c before both.
    let exporters_env = exporters(floe().env("FLOE_TELEMETRY_CONFIG", &named));
    assert_eq!(exporters_env, ["otlphttp/jaeger"]);
    let third = dir.write("third.yaml", "backends:\n  - backend: jaeger\n");
    let exporters_flag = exporters(
        floe()
            .env("FLOE_TELEMETRY_CONFIG", &named)
            .arg("-c")
            .arg(&third),
    );
    assert_eq!(exporters_flag, ["otlp/jaeger"]);

    // Without any file: the default backend, and -v says where it looked.
    let empty = dir.create_dir("empty");
    let output = TestCommand::new()
        .env("XDG_CONFIG_HOME", &empty)
        .args(["render", "collector", "-v"])
        .run();
    output.assert_success();
    assert!(output.stdout.contains("otlp/jaeger"), "{output}");
    assert!(output.stderr.contains("no configuration file"), "{output}");
}

#[test]
fn misspelt_backends_are_all_reported_with_file_path_and_a_suggestion() {
    let dir = Dir::new();
    let config = dir.write(
        "floe.yaml",
        "backends:\n  - backend: jaeger\n    config: {protocol: carrier-pigeon}\n  - backend: datadgo\n  - backend: jeager\n",
    );
    for command in [
        &["render", "collector"][..],
        &["render", "helm"],
        &["check-connection"],
    ] {
        let output = TestCommand::new()
            .args(command)
            .arg("-c")
            .arg(&config)
            .run();
        output.assert_code(2);
        let file = config.display();
        for expected in [
            format!("{file}: backends[0].config.protocol"),
            format!(
                "{file}: backends[1].backend: no backend named \"datadgo\" (did you mean `datadog`?)"
            ),
            format!(
                "{file}: backends[2].backend: no backend named \"jeager\" (did you mean `jaeger`?)"
            ),
        ] {
            assert!(
                output.stderr.contains(&expected),
                "{command:?}: no {expected:?}\n{output}"
            );
        }
    }
}

#[test]
fn a_url_as_jaeger_endpoint_is_refused_saying_the_form_expected() {
    let output = render(
        "collector",
        &[(
            "jaeger",
            json!({"protocol": "http", "endpoint": "http://jaeger:4318"}),
        )],
        &[],
    );
    output.assert_code(2);
    assert!(
        output.stderr.contains("backends[0].config.endpoint")
            && output.stderr.contains("host:port")
            && output.stderr.contains("without a scheme"),
        "{output}"
    );
    assert!(
        !output.stderr.contains("[A-Za-z0-9]"),
        "a raw pattern: {output}"
    );
}

#[test]
fn an_apikey_refusal_suggests_the_setting_datadog_takes() {
    let output = render(
        "collector",
        &[("datadog", json!({"apikey": "abc123"}))],
        &[],
    );
    output.assert_code(2);
    assert!(
        output.stderr.contains("`api_key_env: VAR_NAME`"),
        "{output}"
    );
    assert!(!output.stderr.contains("abc123"), "{output}");
    // And what it suggests is accepted.
    render(
        "collector",
        &[("datadog", json!({"api_key_env": "VAR_NAME"}))],
        &[],
    )
    .assert_success();
}

#[test]
fn a_signal_the_base_has_no_pipeline_for_gets_a_note() {
    let dir = Dir::new();
    let base = dir.write("base.yaml", filelog_base(&dir.join("app.log")));
    // Datadog takes traces, metrics and logs; the base has only logs.
    let output = render(
        "collector",
        &[("datadog", json!({}))],
        &["--base", base.to_str().unwrap()],
    );
    output.assert_success();
    for signal in ["traces", "metrics"] {
        assert!(
            output.stderr.contains(&format!(
                "note: datadog takes {signal}, but the base configuration has no {signal} pipeline"
            )),
            "{output}"
        );
    }
    assert!(!output.stderr.contains("takes logs"), "{output}");
}

#[test]
fn keygen_help_lists_only_its_own_options() {
    let output = TestCommand::new().args(["keygen", "--help"]).run();
    output.assert_success();
    for flag in [
        "--plugin-dir",
        "--locked",
        "--in-process",
        "--config",
        "--timeout",
    ] {
        assert!(!output.stdout.contains(flag), "{flag}\n{output}");
    }
    let output = TestCommand::new()
        .args(["render", "collector", "--help"])
        .run();
    for flag in [
        "--plugin-dir",
        "--locked",
        "--in-process",
        "--config",
        "--base",
    ] {
        assert!(output.stdout.contains(flag), "{flag}\n{output}");
    }
}

#[test]
fn completions_and_the_manual_page_come_from_the_command_line_definition() {
    for (shell, expected) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef floe-telemetry"),
        ("fish", "complete -c floe-telemetry"),
    ] {
        let output = TestCommand::new().args(["completions", shell]).run();
        output.assert_success();
        assert!(output.stdout.contains(expected), "{shell}\n{output}");
        assert!(output.stdout.contains("uninstall"), "{shell}\n{output}");
    }
    let output = TestCommand::new().arg("manpage").run();
    output.assert_success();
    assert!(
        output.stdout.starts_with(".ie") || output.stdout.contains(".TH floe-telemetry"),
        "{output}"
    );
    assert!(output.stdout.contains("render"), "{output}");
}

/// `floe-telemetry -v list` on a terminal (through `script`), with or
/// without `NO_COLOR`: whether the logs carry colour escapes.
fn colored_logs(no_color: Option<&str>) -> bool {
    let binary = floe_telemetry_binary();
    let mut command = Command::new("script");
    command
        .args(["-qec"])
        .arg(format!("{} -v list", binary.display()))
        .arg("/dev/null")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG");
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let output = command
        .output()
        .expect("run script(1) from util-linux: apt-get install bsdutils");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("INFO"), "no log lines:\n{text}");
    text.contains("\u{1b}[")
}

#[test]
fn no_color_turns_off_colour_in_logs_on_a_terminal() {
    assert!(colored_logs(None), "a terminal gets colour by default");
    assert!(!colored_logs(Some("1")));
}
