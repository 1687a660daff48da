//! The `floe-telemetry` command: parses the command line and dispatches to
//! [`floe_host`].

mod authoring;
mod cli;
mod commands;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse_checked();
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
        .with_ansi(std::io::stderr().is_terminal())
        // Closing spans carry their duration: how long a load or a call took.
        .with_span_events(FmtSpan::CLOSE)
        .init();
}
