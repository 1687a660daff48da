//! Secrets never appear in anything floe-telemetry prints: not the values of
//! the environment variables it references, not a credential written into a
//! configuration file by mistake, in any command, output format or log level.

use floe_telemetry_tests::{Dir, TestCommand, TestOutput};

/// Recognisable, and nothing floe-telemetry could print by chance.
const SECRET: &str = "flt-s3cr3t-7f2c9e41d0b8";

/// The variables the bundled backends reference, all set to the secret.
const SECRET_ENV: &[&str] = &[
    "DD_API_KEY",
    "GRAFANA_CLOUD_INSTANCE_ID",
    "GRAFANA_CLOUD_API_TOKEN",
    "GRAFANA_CLOUD_BASIC_AUTH",
];

fn run(args: &[&str], config: Option<&std::path::Path>) -> TestOutput {
    let mut command = TestCommand::new();
    for name in SECRET_ENV {
        command.env(name, SECRET);
    }
    if let Some(config) = config {
        command.arg("-c").arg(config);
    }
    command.args(args).run()
}

/// Every command, in every output format, quietly and with all logs.
fn every_run(config: Option<&std::path::Path>) -> Vec<TestOutput> {
    let mut outputs = Vec::new();
    for name in ["jaeger", "datadog", "grafana-cloud"] {
        for verbosity in [&[][..], &["-vvv"]] {
            for args in [
                vec!["exporter-config", name],
                vec!["exporter-config", name, "-o", "json"],
                vec!["helm-values", name],
                vec!["helm-values", name, "-o", "json"],
                vec!["schema", name],
                vec!["check-connection", name, "--timeout", "1s"],
            ] {
                // Only loopback and unresolvable names are ever connected to.
                if args[0] == "check-connection" && config.is_none() {
                    continue;
                }
                let mut args = args;
                args.extend(verbosity);
                outputs.push(run(&args, config));
            }
        }
    }
    for args in [
        &["list", "-o", "json"][..],
        &["check", "-o", "json"],
        &["check", "-vvv"],
    ] {
        outputs.push(run(args, config));
    }
    outputs
}

#[track_caller]
fn assert_no_secret(outputs: &[TestOutput]) {
    assert!(!outputs.is_empty());
    for output in outputs {
        assert!(
            !output.stdout.contains(SECRET) && !output.stderr.contains(SECRET),
            "the secret was printed\n{output}"
        );
    }
}

#[test]
fn environment_secrets_are_referenced_never_read() {
    let outputs = every_run(None);
    assert_no_secret(&outputs);
    let datadog = run(&["exporter-config", "datadog", "-o", "json"], None);
    assert_eq!(
        datadog.json()["exporters"]["datadog"]["api"]["key"],
        "${env:DD_API_KEY}"
    );
}

#[test]
fn a_credential_written_in_the_config_is_refused_and_never_printed() {
    let dir = Dir::new();
    let config = dir.write(
        "floe.yaml",
        format!(
            "backends:\n\
             \x20 - backend: datadog\n\
             \x20   config:\n\
             \x20     api_key: {SECRET}\n\
             \x20 - backend: grafana-cloud\n\
             \x20   config:\n\
             \x20     api_token: {SECRET}\n\
             \x20     instance_id: {SECRET}\n\
             \x20     password: {SECRET}\n\
             \x20 - backend: jaeger\n\
             \x20   config:\n\
             \x20     tls: {{secret: {SECRET}}}\n"
        ),
    );
    let outputs = every_run(Some(&config));
    assert_no_secret(&outputs);

    let output = run(&["exporter-config", "datadog"], Some(&config));
    output.assert_code(2);
    assert_eq!(output.stdout, "");
    for (path, fix) in [
        ("backends[0].config.api_key", "`api_key_env: VAR_NAME`"),
        ("backends[1].config.api_token", "`api_token_env: VAR_NAME`"),
        (
            "backends[1].config.instance_id",
            "`instance_id_env: VAR_NAME`",
        ),
        ("backends[1].config.password", "`password_env: VAR_NAME`"),
        ("backends[2].config.tls.secret", "`secret_env: VAR_NAME`"),
    ] {
        let line = output
            .stderr
            .lines()
            .find(|line| line.contains(&format!("{path}: ")))
            .unwrap_or_else(|| panic!("{path} is not reported\n{output}"));
        assert!(
            line.contains("looks like a credential") && line.contains(fix),
            "{line}"
        );
    }
}

#[test]
fn a_secret_pasted_where_a_variable_name_goes_is_not_echoed() {
    let dir = Dir::new();
    let config = dir.write(
        "floe.yaml",
        format!(
            "backends:\n\
             \x20 - backend: datadog\n\
             \x20   config: {{api_key_env: \"{SECRET}\"}}\n\
             \x20 - backend: grafana-cloud\n\
             \x20   config: {{api_token_env: [\"{SECRET}\"]}}\n"
        ),
    );
    let outputs = every_run(Some(&config));
    assert_no_secret(&outputs);
    let output = run(&["exporter-config", "datadog"], Some(&config));
    output.assert_code(2);
    assert!(
        output
            .stderr
            .contains("backends[0].config.api_key_env: is not an environment variable name"),
        "{output}"
    );
    assert!(
        output.stderr.contains("backends[1].config.api_token_env: "),
        "{output}"
    );
}
