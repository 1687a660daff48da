//! The command line every deployment runs, read without clap.
//!
//! `floe-telemetry exporter-config NAME` and `helm-values NAME` are what
//! floe's charts and scripts call, often many times in a row. Building
//! clap's description of all twenty-odd subcommands before parsing those two
//! words costs about as much as the rest of the host's work before it hands
//! the plugin file over, so these two plain forms are recognised here and
//! everything else (any option, any other command, an environment variable
//! that clap would read) goes to clap. The test below checks that both give
//! the same [`Cli`] for every command line this accepts.

use std::ffi::OsString;

use super::{CallArgs, Cli, Command, DocumentArgs, DocumentFormat, IsolationArgs};
use super::{ConfigArgs, PluginArgs};

/// The environment variables clap reads for options (their `env = ...`):
/// when one is set, clap parses, as it alone knows how to read them.
pub const OPTION_ENV: [&str; 4] = [
    "FLOE_TELEMETRY_LOCKED",
    "FLOE_TELEMETRY_REQUIRE_SIGNATURES",
    "FLOE_TELEMETRY_TRUST_DIR",
    "FLOE_TELEMETRY_ISOLATE",
];

/// `args` (without the program name) as clap would parse them, when they
/// are exactly `exporter-config NAME` or `helm-values NAME` with NAME a
/// plain word and `is_set` true for none of [`OPTION_ENV`]; `None` for
/// anything else.
pub fn parse(args: &[OsString], is_set: impl Fn(&str) -> bool) -> Option<Cli> {
    let [command, name] = args else {
        return None;
    };
    let name = name.to_str().filter(|name| plain_word(name))?;
    if OPTION_ENV.iter().any(|variable| is_set(variable)) {
        return None;
    }
    let document = DocumentArgs {
        name: Some(name.to_owned()),
        output: DocumentFormat::Yaml,
        plugins: PluginArgs::default(),
        call: CallArgs::default(),
    };
    let command = match command.to_str()? {
        "exporter-config" => Command::ExporterConfig(document),
        "helm-values" => Command::HelmValues(document),
        _ => return None,
    };
    Some(Cli {
        verbose: 0,
        plugins: PluginArgs::default(),
        isolation: IsolationArgs::default(),
        config: ConfigArgs::default(),
        command,
    })
}

/// A word clap takes as a value and never as an option or an `=` pair.
fn plain_word(word: &str) -> bool {
    !word.is_empty() && !word.starts_with('-')
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    fn clap_parse(args: &[OsString]) -> Option<Cli> {
        let program = std::iter::once(OsString::from("floe-telemetry"));
        Cli::try_parse_from(program.chain(args.iter().cloned())).ok()
    }

    #[test]
    fn every_command_line_read_here_is_read_the_same_by_clap() {
        for variable in OPTION_ENV {
            assert!(
                std::env::var_os(variable).is_none(),
                "unset {variable} to run this test: clap would read it"
            );
        }
        let mut read_here = 0;
        for line in [
            "exporter-config jaeger",
            "helm-values jaeger",
            "exporter-config grafana-cloud",
            "helm-values a.b_c",
            "exporter-config help",
            "exporter-config list",
            "helm-values x=y",
            "exporter-config jaeger\u{1b}[2J",
            "exporter-config -",
            "exporter-config --",
            "exporter-config -v",
            "helm-values --in-process",
            "exporter-config jaeger -c",
            "exporter-config",
            "helm-values ",
            "list jaeger",
            "schema jaeger",
            "check-connection jaeger",
            "render collector",
            "-v exporter-config",
            "--version x",
        ] {
            let args = words(line);
            let Some(plain) = parse(&args, |_| false) else {
                continue;
            };
            read_here += 1;
            let clap = clap_parse(&args).unwrap_or_else(|| panic!("clap refuses {line:?}"));
            assert_eq!(format!("{plain:?}"), format!("{clap:?}"), "for {line:?}");
        }
        assert_eq!(read_here, 8, "the plain forms in the list above");
    }

    #[test]
    fn anything_but_the_two_plain_forms_goes_to_clap() {
        for line in [
            "exporter-config -",
            "exporter-config --in-process",
            "exporter-config jaeger -o json",
            "exporter-config jaeger --in-process",
            "exporter-config",
            "helm-values ",
            "schema jaeger",
            "render collector",
        ] {
            assert!(parse(&words(line), |_| false).is_none(), "{line:?}");
        }
        let mut not_utf8 = words("exporter-config x");
        not_utf8[1] = std::os::unix::ffi::OsStringExt::from_vec(vec![0xff]);
        assert!(parse(&not_utf8, |_| false).is_none());
    }

    #[test]
    fn an_option_set_in_the_environment_goes_to_clap() {
        let args = words("exporter-config jaeger");
        for variable in OPTION_ENV {
            assert!(
                parse(&args, |name| name == variable).is_none(),
                "{variable}"
            );
        }
    }

    #[test]
    fn the_variables_are_all_those_clap_reads() {
        fn collect(command: &clap::Command, into: &mut Vec<String>) {
            for arg in command.get_arguments() {
                if let Some(variable) = arg.get_env() {
                    into.push(variable.to_string_lossy().into_owned());
                }
            }
            for sub in command.get_subcommands() {
                collect(sub, into);
            }
        }
        let mut read = Vec::new();
        collect(&Cli::command(), &mut read);
        read.sort();
        read.dedup();
        let mut listed = OPTION_ENV.map(str::to_owned).to_vec();
        listed.sort();
        assert_eq!(read, listed);
    }
}
