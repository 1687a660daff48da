//! Running a plugin in a process of its own.
//!
//! In-process, a plugin that crashes, aborts, exits or never returns takes
//! the host with it. Isolated, each plugin file is loaded by a child process
//! (this same executable, run with a hidden subcommand) and called through
//! pipes: one JSON message a line, one request at a time, each answered within
//! a time limit. Whatever the plugin does ends at most that child; the host
//! turns it into that plugin's error and carries on.
//!
//! The child keeps its own standard output for the protocol and points file
//! descriptor 1 at standard error before loading anything, so a plugin that
//! prints cannot corrupt the conversation.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use floe_plugin_api::JsonObject;
use serde::{Deserialize, Serialize};

use crate::catalog::InProcessPlugin;
use crate::{Call, Error, ErrorKind, PluginInfo};

/// The hidden subcommand that makes `floe-telemetry` a plugin process.
pub const WORKER_SUBCOMMAND: &str = "__plugin-worker";

/// The longest message a plugin process may send, in bytes. Real answers are
/// a few KiB; this keeps a runaway plugin from exhausting the host's memory.
const MAX_MESSAGE: u64 = 16 * 1024 * 1024;

/// How to run plugins out of process.
#[derive(Debug, Clone, PartialEq)]
pub struct Isolation {
    /// The `floe-telemetry` executable to start with [`WORKER_SUBCOMMAND`].
    pub worker: PathBuf,
    /// How long loading a plugin, or one call, may take.
    pub timeout: Duration,
}

impl Isolation {
    /// Isolation through the running executable, which must be `floe-telemetry`.
    pub fn through_current_exe(timeout: Duration) -> io::Result<Self> {
        Ok(Isolation {
            worker: std::env::current_exe()?,
            timeout,
        })
    }
}

/// A message from the plugin process.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Message {
    /// The plugin loaded; what it says about itself.
    Loaded(PluginInfo),
    /// The answer to a call.
    Value(JsonObject),
    /// Loading or a call failed.
    Error { kind: ErrorKind, message: String },
}

/// A message to the plugin process: a call, and the settings (already
/// validated by the host) to make it with.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Request {
    pub(crate) call: Call,
    #[serde(default)]
    pub(crate) settings: JsonObject,
}

/// Reads one message; the bytes come from a process running plugin code, so
/// nothing about them is trusted.
pub(crate) fn parse_message(line: &[u8]) -> Result<Message, String> {
    serde_json::from_slice(line).map_err(|error| format!("not a valid message: {error}"))
}

enum Incoming {
    Line(Vec<u8>),
    TooLong,
    Closed,
}

/// A running plugin process.
pub(crate) struct Worker {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Incoming>,
    timeout: Duration,
}

impl Worker {
    /// Starts a process that loads the plugin at `path`; [`Self::loaded`]
    /// then waits for it to say what it loaded. Starting several before
    /// waiting lets them load side by side.
    pub(crate) fn start(isolation: &Isolation, path: &Path) -> Result<Worker, Error> {
        let mut child = Command::new(&isolation.worker)
            .arg(WORKER_SUBCOMMAND)
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| Error::WorkerSpawn {
                worker: isolation.worker.clone(),
                reason: error.to_string(),
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            unreachable!("both pipes were requested");
        };
        let (sender, incoming) = mpsc::channel();
        // A thread, so that waiting for an answer can time out.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let message = read_message(&mut reader);
                let last = !matches!(message, Incoming::Line(_));
                if sender.send(message).is_err() || last {
                    break;
                }
            }
        });
        Ok(Worker {
            child,
            stdin,
            incoming,
            timeout: isolation.timeout,
        })
    }

    /// Waits for the process to report the plugin it loaded.
    pub(crate) fn loaded(mut self) -> Result<(Worker, PluginInfo), Error> {
        match self.receive(Call::Load)? {
            Message::Loaded(info) => Ok((self, info)),
            Message::Error { kind, message } => Err(Error::Isolated { kind, message }),
            Message::Value(_) => Err(self.protocol_error(Call::Load, "an answer before any call")),
        }
    }

    /// Makes one call in the plugin process.
    pub(crate) fn call(&mut self, call: Call, settings: &JsonObject) -> Result<JsonObject, Error> {
        let request = Request {
            call,
            settings: settings.clone(),
        };
        let mut request = serde_json::to_vec(&request).expect("requests serialize");
        request.push(b'\n');
        if self
            .stdin
            .write_all(&request)
            .and_then(|()| self.stdin.flush())
            .is_err()
        {
            // The pipe is closed: the process is gone.
            return Err(self.death(call));
        }
        match self.receive(call)? {
            Message::Value(object) => Ok(object),
            Message::Error { kind, message } => Err(Error::Isolated { kind, message }),
            Message::Loaded(_) => Err(self.protocol_error(call, "a second load report")),
        }
    }

    fn receive(&mut self, call: Call) -> Result<Message, Error> {
        match self.incoming.recv_timeout(self.timeout) {
            Ok(Incoming::Line(line)) => {
                parse_message(&line).map_err(|reason| self.protocol_error(call, &reason))
            }
            Ok(Incoming::TooLong) => {
                Err(self.protocol_error(call, &format!("a message over {MAX_MESSAGE} bytes")))
            }
            Ok(Incoming::Closed) | Err(RecvTimeoutError::Disconnected) => Err(self.death(call)),
            Err(RecvTimeoutError::Timeout) => {
                self.stop();
                Err(Error::TimedOut {
                    call,
                    seconds: self.timeout.as_secs_f64(),
                })
            }
        }
    }

    fn protocol_error(&mut self, call: Call, reason: &str) -> Error {
        self.stop();
        Error::Protocol {
            call,
            reason: reason.to_owned(),
        }
    }

    /// The process closed its end: say how it ended. A process that closed
    /// its output but lives on gets the time limit, then is stopped.
    fn death(&mut self, call: Call) -> Error {
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                _ => {
                    self.stop();
                    break None;
                }
            }
        };
        let how = status.map_or_else(
            || "it closed its output and stopped answering".to_owned(),
            describe_exit,
        );
        Error::PluginCrashed { call, how }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // An idle worker holds nothing worth a graceful exit.
        self.stop();
    }
}

fn read_message(reader: &mut BufReader<ChildStdout>) -> Incoming {
    let mut line = Vec::new();
    match reader
        .by_ref()
        .take(MAX_MESSAGE + 1)
        .read_until(b'\n', &mut line)
    {
        Ok(0) | Err(_) => Incoming::Closed,
        Ok(_) if line.last() == Some(&b'\n') => Incoming::Line(line),
        Ok(_) if line.len() as u64 > MAX_MESSAGE => Incoming::TooLong,
        // Output that ends without a newline: the process is ending.
        Ok(_) => Incoming::Closed,
    }
}

/// `exit status 3`, `signal SIGSEGV (invalid memory access)`.
fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("it exited with status {code} before answering");
    }
    let Some(signal) = status.signal() else {
        return status.to_string();
    };
    let name = match signal {
        4 => "SIGILL (illegal instruction)",
        6 => "SIGABRT (aborted; also how a stack overflow ends)",
        7 => "SIGBUS (bad memory access)",
        8 => "SIGFPE (arithmetic error)",
        9 => "SIGKILL (killed)",
        11 => "SIGSEGV (invalid memory access)",
        13 => "SIGPIPE (broken pipe)",
        15 => "SIGTERM (terminated)",
        _ => return format!("it was killed by signal {signal}"),
    };
    format!("it was killed by {name}")
}

/// The plugin process: loads the plugin at `path`, reports, then answers
/// requests on standard input until it closes.
pub fn serve(path: &Path) -> io::Result<()> {
    let protocol = rustix::io::dup(io::stdout())?;
    rustix::stdio::dup2_stdout(io::stderr())?;
    let mut out = io::BufWriter::new(std::fs::File::from(protocol));
    let mut send = |message: &Message| -> io::Result<()> {
        serde_json::to_writer(&mut out, message)?;
        out.write_all(b"\n")?;
        out.flush()
    };
    let error = |error: Error| Message::Error {
        kind: error.kind(),
        message: error.to_string(),
    };

    let plugin = match InProcessPlugin::load(path) {
        Ok(plugin) => plugin,
        Err(failure) => return send(&error(failure)),
    };
    send(&Message::Loaded(plugin.info.clone()))?;
    for line in io::stdin().lock().lines() {
        let request: Request = serde_json::from_str(&line?).map_err(io::Error::other)?;
        let reply = match plugin.call_with(request.call, &request.settings) {
            Ok(object) => Message::Value(object),
            Err(failure) => error(failure),
        };
        send(&reply)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn messages_round_trip() {
        let text = r#"{"error":{"kind":"call_panicked","message":"boom"}}"#;
        let Message::Error { kind, message } = parse_message(text.as_bytes()).unwrap() else {
            panic!("wrong variant");
        };
        assert_eq!((kind, message.as_str()), (ErrorKind::CallPanicked, "boom"));
        assert!(matches!(parse_message(br#"{"value":{}}"#), Ok(Message::Value(v)) if v.is_empty()));
        assert!(parse_message(br#"{"value":[]}"#).is_err());
        assert!(parse_message(br#"{"error":{"kind":"no_such_kind","message":""}}"#).is_err());
    }

    #[test]
    fn exits_are_described() {
        assert_eq!(
            describe_exit(ExitStatus::from_raw(3 << 8)),
            "it exited with status 3 before answering"
        );
        assert!(describe_exit(ExitStatus::from_raw(11)).contains("SIGSEGV"));
        assert!(describe_exit(ExitStatus::from_raw(6)).contains("SIGABRT"));
        assert_eq!(
            describe_exit(ExitStatus::from_raw(31)),
            "it was killed by signal 31"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        /// Whatever a plugin process sends, reading it never panics.
        #[test]
        fn parse_message_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_message(&bytes);
        }

        /// Near-miss messages: valid JSON of the wrong shapes.
        #[test]
        fn parse_message_never_panics_on_json(
            key in "(loaded|value|error|x)",
            value in prop_oneof![
                Just("null".to_owned()),
                Just("{}".to_owned()),
                Just("[]".to_owned()),
                Just(r#"{"kind":"io"}"#.to_owned()),
                Just(r#"{"name":"x","version":"1.0.0"}"#.to_owned()),
                "[0-9]{1,30}",
                "\"[^\"\\\\]{0,20}\"",
            ],
        ) {
            let text = format!("{{\"{key}\":{value}}}");
            let _ = parse_message(text.as_bytes());
        }
    }
}
