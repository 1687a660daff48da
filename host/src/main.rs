//! The `floe-telemetry` command: parses the command line and dispatches to
//! [`floe_host`].

mod authoring;
mod cli;
mod commands;
mod manage;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use cli::Cli;

fn main() -> ExitCode {
    // The plugin process of a command that calls plugins starts first, so
    // that its fork and set-up overlap all the rest: parsing, reading the
    // configuration, finding and checking the plugin file.
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if std::env::var_os("RUST_LOG").is_none() && cli::plainly_calls_isolated(args.iter().cloned()) {
        floe_host::Isolation::prestart();
    }
    let cli = cli::plain::parse(&args, |variable| std::env::var_os(variable).is_some())
        .unwrap_or_else(Cli::parse);
    init_logging(cli.verbose);
    match commands::run(cli) {
        Ok(code) => code,
        // A closed pipe (`floe-telemetry list | head -1`) is how a reader says
        // it has enough; that is not an error.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            let message = error.to_string();
            let _ = writeln!(
                std::io::stderr(),
                "error: {}",
                floe_host::escape::escape_control(&message)
            );
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::{EnvFilter, fmt::format::FmtSpan};

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(match verbose {
            0 => "warn",
            1 => "floe_host=info",
            2 => "floe_host=debug",
            _ => "trace",
        })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_color(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        // Closing spans carry their duration: how long a load or a call took.
        .with_span_events(FmtSpan::CLOSE)
        .init();
}

/// Colour only for a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
fn use_color(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::use_color;

    #[test]
    fn no_color_turns_colour_off_on_a_terminal() {
        assert!(use_color(true, None));
        assert!(use_color(true, Some("".as_ref())));
        assert!(!use_color(true, Some("1".as_ref())));
        assert!(!use_color(false, None));
    }
}
