//! Running plugins in supervised processes of their own.
//!
//! In-process, a plugin that crashes, aborts, exits or never returns takes
//! the host with it. Isolated, each plugin is loaded by a fork of the host and
//! called through pipes, one JSON message a line. The host owns these
//! processes for their whole life:
//!
//! - each runs in a process group of its own, and can neither leave it nor
//!   let anything it starts leave it (see [`os::forbid_leaving_the_process_group`]),
//!   so stopping the group stops everything the plugin started;
//! - it dies with the host: a parent-death signal makes it stop its whole
//!   group, and the host stops the group itself when it is done with it;
//! - its standard output and error go to a pipe the host reads, keeps a
//!   bounded amount of, and shows with `-v`; never to the host's own;
//! - every read and write is bounded in size and in time: a process that
//!   floods, stops reading or stops answering is stopped at its deadline;
//! - processes loaded together share one deadline, so N plugins that hang
//!   cost one time limit, not N.
//!
//! The host never starts a thread, so forking it is sound (see [`os`]).
//!
//! A plugin process is forked before it is given a plugin: the host passes
//! it the verified descriptor of the plugin file over a socket. So a command
//! that will load a plugin can start its process early ([`Isolation::prestart`]),
//! and the fork and the fencing in happen while the host is still finding
//! and checking the file, on another CPU where there is one ([`beside`]).
//! Right after loading, a plugin process sends the
//! settings schema unasked: the host needs it before any call, and it then
//! costs no round trip of its own. A command that knows the call it will make
//! sends that too with the plugin file ([`Isolation::call_ahead`]), so the
//! answer is on its way while the host checks the plugin. That answer comes
//! before the schema, and only when the schema plainly accepts the settings:
//! a host that receives it needs neither the schema nor a validator.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use floe_plugin_api::JsonObject;
use rustix::io::Errno;
use rustix::pipe::PipeFlags;
use rustix::process::{Pid, Signal, WaitOptions};
use serde::{Deserialize, Serialize};

mod beside;

use beside::Placement;

use crate::call::InProcessPlugin;
use crate::info::Reported;
use crate::os::{self, Forked};
use crate::{Call, Error, ErrorKind};

/// The longest message a plugin process may send, in bytes. Real answers are
/// a few KiB; this bounds what a runaway plugin can make the host hold.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// How much of a plugin process's own output the host keeps, for `-v`.
const MAX_CAPTURED_OUTPUT: usize = 64 * 1024;

/// The descriptors of a plugin process, as [`os::arrange_descriptors`]
/// places them. Requests come over a socket, which can also carry the
/// plugin file's descriptor.
const REQUESTS_FD: i32 = 0;
const REPLIES_FD: i32 = 3;

/// The one byte that carries the plugin file's descriptor.
const PLUGIN_FILE_MARK: u8 = b'P';
/// The same, when a call asked ahead follows it ([`Isolation::call_ahead`]).
const PLUGIN_FILE_AND_CALL_MARK: u8 = b'A';

thread_local! {
    /// A plugin process started ahead of need by [`Isolation::prestart`],
    /// not yet given a plugin.
    static SPARE: std::cell::RefCell<Option<Worker>> = const { std::cell::RefCell::new(None) };
}

/// The longest request sent ahead ([`Isolation::call_ahead`]): settings
/// are a few hundred bytes; larger ones wait for their turn.
const MAX_AHEAD: usize = 16 * 1024;

/// How to run plugins out of process.
#[derive(Debug, Clone, PartialEq)]
pub struct Isolation {
    /// How long loading plugins, or one call, may take.
    pub timeout: Duration,
    /// Calls to send with the plugin file, by backend name.
    ahead: Vec<(String, Request)>,
}

impl Isolation {
    /// Isolation with the time limit `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Isolation {
            timeout,
            ahead: Vec::new(),
        }
    }

    /// Says that the plugin providing `backend` will be called with `call`
    /// and `settings` once loaded. The request then goes to its process
    /// with the plugin file, and the process makes the call right after
    /// loading, while the host checks the plugin's report and validates
    /// `settings` itself; the answer is used only if the host then makes
    /// that very call. The process makes it only if the plugin's schema
    /// plainly accepts `settings` (the host's own first test, see
    /// `plain_settings`): settings that fail validation never reach the
    /// plugin, ahead or not.
    pub fn call_ahead(&mut self, backend: &str, call: Call, settings: JsonObject) {
        let request = Request {
            call,
            settings,
            ahead: true,
        };
        self.ahead.push((backend.to_owned(), request));
    }

    /// Starts a plugin process now, before any plugin is chosen, for the
    /// first plugin loaded later to use. A command that knows it will load
    /// a plugin calls this first: the fork and the process's set-up then
    /// overlap the host's own work of finding and checking the file. Does
    /// nothing when a process is already waiting; if one cannot start,
    /// loading starts one and reports why it could not.
    pub fn prestart() {
        SPARE.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.is_none() {
                *spare = Worker::spawn(Placement::plan()).ok();
            }
        });
    }
}

/// A message from the plugin process.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Message {
    /// The plugin loaded; what its code says about itself.
    Loaded(Reported),
    /// The answer to a call.
    Value(JsonObject),
    /// Loading or a call failed.
    Error { kind: ErrorKind, message: String },
    /// A call asked ahead was not made: its settings need the host's
    /// validation first.
    Skipped,
}

/// A message to the plugin process: a call, and the settings to make it
/// with (validated by the host before it uses the answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Request {
    pub(crate) call: Call,
    #[serde(default)]
    pub(crate) settings: JsonObject,
    /// Asked ahead ([`Isolation::call_ahead`]): made only with settings the
    /// schema plainly accepts, else answered [`Message::Skipped`].
    #[serde(default)]
    pub(crate) ahead: bool,
}

/// Reads one message; the bytes come from a process running plugin code, so
/// nothing about them is trusted.
pub(crate) fn parse_message(line: &[u8]) -> Result<Message, String> {
    serde_json::from_slice(line).map_err(|error| format!("not a valid message: {error}"))
}

/// A running plugin process.
pub(crate) struct Worker {
    pid: Pid,
    requests: OwnedFd,
    replies: OwnedFd,
    output: Option<OwnedFd>,
    /// Bytes read from `replies` not yet taken as a message.
    pending: Vec<u8>,
    captured: Vec<u8>,
    dropped_output: usize,
    path: PathBuf,
    timeout: Duration,
    running: bool,
    /// A call sent with the plugin file ([`Isolation::call_ahead`]).
    sent_ahead: Option<Request>,
    /// Calls the process answers without being asked, in the order it
    /// answers them: the call sent ahead right after loading, then the
    /// settings schema.
    answers_due: std::collections::VecDeque<Request>,
    /// Those answers, once read ahead of the call that wants them.
    early_answers: Vec<(Request, Message)>,
    /// Where the process runs, when it was moved off the host's CPU.
    placement: Option<Box<Placement>>,
}

/// Why an exchange with a plugin process ended without an answer.
enum Failure {
    TimedOut,
    Closed,
    TooLong,
    /// A message arrived before the request it would answer was sent.
    OutOfTurn,
}

impl Worker {
    /// Starts a process that loads the plugin open at `file` (already
    /// verified, and loaded by its descriptor, never by `path`, which is for
    /// messages): the one [`Isolation::prestart`] started, or a new one.
    /// [`Worker::await_loaded`] then waits for it. `backend` is the name
    /// the file declares, for [`Isolation::call_ahead`].
    pub(crate) fn start(
        isolation: &Isolation,
        file: &File,
        path: &Path,
        backend: Option<&str>,
    ) -> Result<Worker, Error> {
        let ahead = backend
            .and_then(|backend| isolation.ahead.iter().find(|(name, _)| name == backend))
            .map(|(_, request)| {
                let mut line = serde_json::to_vec(request).expect("requests serialize");
                line.push(b'\n');
                (request, line)
            })
            .filter(|(_, line)| line.len() <= MAX_AHEAD);
        let mark = match ahead {
            Some(_) => PLUGIN_FILE_AND_CALL_MARK,
            None => PLUGIN_FILE_MARK,
        };
        let spare = SPARE.with(|spare| spare.borrow_mut().take());
        let mut worker = match spare {
            Some(spare) if spare.give_plugin(file, mark).is_ok() => spare,
            // None started ahead, or it died waiting (stopped as it drops).
            _ => {
                let worker = Worker::spawn(None)?;
                worker
                    .give_plugin(file, mark)
                    .map_err(|error| Error::WorkerSpawn {
                        reason: format!("could not pass the plugin file to its process: {error}"),
                    })?;
                worker
            }
        };
        worker.path = path.to_owned();
        worker.timeout = isolation.timeout;
        if let Some((request, line)) = ahead {
            worker.send_ahead(request, &line);
        }
        Ok(worker)
    }

    /// Sends `request`, serialized as `line`, right after the plugin file;
    /// the socket is empty, so it goes at once. Should the socket take only
    /// part of it, the rest is written as the process reads (after
    /// loading), within the time limit: part of a request left in the
    /// socket would garble the next one. The process was told a request
    /// follows and waits for it, so one that cannot be sent at all stops
    /// the process, and loading reports that.
    fn send_ahead(&mut self, request: &Request, line: &[u8]) {
        let deadline = Instant::now() + self.timeout;
        let mut written = 0;
        while written < line.len() {
            match rustix::io::write(&self.requests, &line[written..]) {
                Ok(n) => written += n,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) if Instant::now() < deadline => {
                    let mut fds = [os::poll_fd(self.requests.as_fd(), os::POLL_WRITE)];
                    let left = deadline.saturating_duration_since(Instant::now());
                    let _ = os::poll(&mut fds, left);
                }
                // The process is gone or stuck: loading reports which.
                Err(_) => return self.stop(),
            }
        }
        self.sent_ahead = Some(request.clone());
    }

    /// Forks a plugin process, which fences itself in and then waits for
    /// its plugin file; on the CPUs of `placement`, if any (see [`beside`]).
    fn spawn(placement: Option<Placement>) -> Result<Worker, Error> {
        let spawn_error = |error: std::io::Error| Error::WorkerSpawn {
            reason: error.to_string(),
        };
        os::reap_finished();
        os::stop_groups_on_termination();
        let threads = os::thread_count().map_err(spawn_error)?;
        if threads != 1 {
            return Err(Error::WorkerSpawn {
                reason: format!(
                    "a plugin process is a fork of this one, which is sound only while it runs \
                     one thread, and it runs {threads}; load plugins before starting threads, \
                     or load them in process"
                ),
            });
        }
        // Non-blocking for the host's ends; the plugin process makes its own
        // ends blocking again (see os::arrange_descriptors).
        let pipe = || {
            rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)
                .map_err(std::io::Error::from)
        };
        let (requests, requests_child) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK,
            None,
        )
        .map_err(|error| spawn_error(error.into()))?;
        let (replies, replies_write) = pipe().map_err(spawn_error)?;
        let (output, output_write) = pipe().map_err(spawn_error)?;
        // Whatever the host buffered must not be written again by the child.
        let _ = std::io::stdout().flush();
        let host = rustix::process::getpid();
        match os::fork().map_err(spawn_error)? {
            Forked::Child => {
                let fds = [
                    os::raw(&requests_child),
                    os::raw(&output_write),
                    os::raw(&output_write),
                    os::raw(&replies_write),
                ];
                plugin_process(host, &fds, placement)
            }
            Forked::Parent(pid) => {
                let placement = placement
                    .filter(|placement| placement.apply(pid))
                    .map(Box::new);
                os::remember_group(pid);
                tracing::debug!(pid = pid.as_raw_nonzero().get(), "plugin process started");
                Ok(Worker {
                    pid,
                    requests,
                    replies,
                    output: Some(output),
                    pending: Vec::new(),
                    captured: Vec::new(),
                    dropped_output: 0,
                    path: PathBuf::new(),
                    timeout: Duration::ZERO,
                    running: true,
                    sent_ahead: None,
                    answers_due: std::collections::VecDeque::new(),
                    early_answers: Vec::new(),
                    placement,
                })
            }
        }
    }

    /// Passes the plugin file's descriptor to the process.
    /// `mark` says whether a call asked ahead follows.
    fn give_plugin(&self, file: &File, mark: u8) -> std::io::Result<()> {
        use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
        let fds = [file.as_fd()];
        let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        control.push(SendAncillaryMessage::ScmRights(&fds));
        let mark = [mark];
        // The socket is empty: one byte goes at once, or the process is gone.
        match rustix::net::sendmsg(
            &self.requests,
            &[std::io::IoSlice::new(&mark)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(1) => Ok(()),
            Ok(_) => Err(std::io::Error::other("the plugin file was not sent")),
            Err(error) => Err(error.into()),
        }
    }

    /// Waits, under one deadline for all, for each process to report the
    /// plugin it loaded; in the order given.
    pub(crate) fn await_loaded(workers: Vec<Worker>) -> Vec<Result<(Worker, Reported), Error>> {
        let Some(timeout) = workers.first().map(|worker| worker.timeout) else {
            return Vec::new();
        };
        let deadline = Instant::now() + timeout;
        let mut workers = workers;
        let mut exchanges: Vec<Exchange> = workers.iter_mut().map(Exchange::receive).collect();
        drive(&mut exchanges, deadline);
        let outcomes: Vec<_> = exchanges.into_iter().map(|e| e.outcome).collect();
        workers
            .into_iter()
            .zip(outcomes)
            .map(
                |(mut worker, outcome)| match worker.answer(Call::Load, outcome, deadline)? {
                    Message::Loaded(reported) => {
                        worker.answers_due.extend(worker.sent_ahead.take());
                        if reported.has_settings {
                            worker.answers_due.push_back(Request {
                                call: Call::GetSettingsSchema,
                                settings: JsonObject::new(),
                                ahead: false,
                            });
                        }
                        Ok((worker, reported))
                    }
                    Message::Error { kind, message } => Err(Error::Isolated { kind, message }),
                    Message::Value(_) | Message::Skipped => {
                        Err(worker.protocol_error(Call::Load, "an answer before any call"))
                    }
                },
            )
            .collect()
    }

    /// Makes one call in the plugin process.
    pub(crate) fn call(&mut self, call: Call, settings: &JsonObject) -> Result<JsonObject, Error> {
        if !self.running {
            return Err(Error::PluginCrashed {
                call,
                how: "its process had already been stopped".to_owned(),
            });
        }
        let message = match self.early_answer(call, settings)? {
            Some(message) => message,
            None => {
                let request = Request {
                    call,
                    settings: settings.clone(),
                    ahead: false,
                };
                let mut request = serde_json::to_vec(&request).expect("requests serialize");
                request.push(b'\n');
                self.exchange(call, request)?
            }
        };
        match message {
            Message::Value(object) => Ok(object),
            Message::Error { kind, message } => Err(Error::Isolated { kind, message }),
            Message::Loaded(_) => Err(self.protocol_error(call, "a second load report")),
            Message::Skipped => Err(self.protocol_error(call, "a call it was asked skipped")),
        }
    }

    /// Whether the process made the call asked ahead with `settings`,
    /// which it does only when the plugin's schema plainly accepts them
    /// (see `serve`): then they need no validation here, nor the schema.
    /// That verdict comes from the plugin's process, as the schema itself
    /// would, and it concerns only the plugin's own answers. `false` when
    /// no call was asked ahead with these settings, or it was skipped.
    pub(crate) fn made_ahead(&mut self, settings: &JsonObject) -> Result<bool, Error> {
        let asked = |request: &Request| request.ahead && request.settings == *settings;
        if self.early_answers.iter().any(|(request, _)| asked(request)) {
            return Ok(true);
        }
        // Sent before the schema, so it is the next answer due when made.
        if !self.answers_due.front().is_some_and(asked) {
            return Ok(false);
        }
        let due = self.answers_due.pop_front().expect("just looked at");
        let Some(message) = self.read_due(&due)? else {
            return Ok(false);
        };
        tracing::debug!(call = %due.call, "answered ahead");
        self.early_answers.push((due, message));
        Ok(true)
    }

    /// Reads the answer the process sends unasked for `due`; `None` for a
    /// call asked ahead that it skipped, which is made when asked, once the
    /// host has validated its settings.
    fn read_due(&mut self, due: &Request) -> Result<Option<Message>, Error> {
        let message = self.exchange(due.call, Vec::new())?;
        if matches!(message, Message::Skipped) {
            tracing::debug!(call = %due.call, "asked ahead, not called: its settings need the validator");
            return Ok(None);
        }
        Ok(Some(message))
    }

    /// The answer to `call` with `settings` if the process sends it
    /// unasked. Answers due are read in order until that one, and kept for
    /// later calls; all of them before a request is sent, so that none is
    /// taken for the answer to another call.
    fn early_answer(
        &mut self,
        call: Call,
        settings: &JsonObject,
    ) -> Result<Option<Message>, Error> {
        let wanted = |request: &Request| request.call == call && request.settings == *settings;
        if let Some(index) = self.early_answers.iter().position(|(r, _)| wanted(r)) {
            return Ok(Some(self.early_answers.swap_remove(index).1));
        }
        while let Some(due) = self.answers_due.pop_front() {
            let Some(message) = self.read_due(&due)? else {
                continue;
            };
            if wanted(&due) {
                if due.ahead {
                    tracing::debug!(%call, "answered ahead");
                }
                return Ok(Some(message));
            }
            self.early_answers.push((due, message));
        }
        Ok(None)
    }

    /// Sends `request` (nothing, for an answer sent unasked) and reads the
    /// answer to `call`, within the time limit.
    fn exchange(&mut self, call: Call, request: Vec<u8>) -> Result<Message, Error> {
        let deadline = Instant::now() + self.timeout;
        let mut exchange = [if request.is_empty() {
            Exchange::receive(self)
        } else {
            Exchange::send(self, request)
        }];
        drive(&mut exchange, deadline);
        let [exchange] = exchange;
        let outcome = exchange.outcome;
        self.answer(call, outcome, deadline)
    }

    /// The message of a finished exchange, or the error that ended it.
    fn answer(
        &mut self,
        call: Call,
        outcome: Option<Result<Vec<u8>, Failure>>,
        deadline: Instant,
    ) -> Result<Message, Error> {
        match outcome.unwrap_or(Err(Failure::TimedOut)) {
            Ok(line) => parse_message(&line).map_err(|reason| self.protocol_error(call, &reason)),
            Err(Failure::TooLong) => {
                Err(self.protocol_error(call, &format!("a message over {MAX_MESSAGE} bytes")))
            }
            Err(Failure::OutOfTurn) => {
                Err(self.protocol_error(call, "a message before the request it would answer"))
            }
            Err(Failure::Closed) => Err(self.death(call, deadline)),
            Err(Failure::TimedOut) => {
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

    /// The process closed its end: say how it ended. One that closed its
    /// replies but lives on is stopped at the deadline.
    fn death(&mut self, call: Call, deadline: Instant) -> Error {
        let status = loop {
            match rustix::process::waitpid(Some(self.pid), WaitOptions::NOHANG) {
                Ok(Some((_, status))) => {
                    self.running = false;
                    break Some(status);
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                _ => break None,
            }
        };
        self.stop();
        let how = status.map_or_else(
            || "it closed its replies and stopped answering".to_owned(),
            describe_exit,
        );
        Error::PluginCrashed { call, how }
    }

    /// Stops the process and everything it started, and reaps it.
    fn stop(&mut self) {
        // The group's id is the process's own; it set it before anything of
        // the plugin ran. Signalling the process itself as well covers the
        // moment before it did.
        let _ = rustix::process::kill_process_group(self.pid, Signal::KILL);
        if self.running {
            let _ = rustix::process::kill_process(self.pid, Signal::KILL);
            // Reaped later, without waiting for the kernel to tear it down.
            os::reap_later(self.pid);
            self.running = false;
        }
        os::forget_group(self.pid);
        self.drain_output();
        self.show_output();
    }

    /// Takes what the process wrote to its output, without waiting.
    fn drain_output(&mut self) {
        while let Some(fd) = &self.output {
            let mut chunk = [0u8; 16 * 1024];
            match rustix::io::read(fd, &mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.keep_output(&chunk[..n]),
            }
        }
    }

    fn keep_output(&mut self, bytes: &[u8]) {
        let room = MAX_CAPTURED_OUTPUT.saturating_sub(self.captured.len());
        let kept = bytes.len().min(room);
        self.captured.extend_from_slice(&bytes[..kept]);
        self.dropped_output += bytes.len() - kept;
    }

    /// Logs what the plugin printed (shown with `-v`), escaped: it is the
    /// plugin's text, not the host's.
    fn show_output(&mut self) {
        if self.captured.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.captured);
        for line in text.lines() {
            tracing::info!(plugin = %self.path.display(), "plugin output: {}", line.escape_debug());
        }
        if self.dropped_output > 0 {
            tracing::info!(plugin = %self.path.display(), "plugin output: ({} more bytes not kept)", self.dropped_output);
        }
        self.captured.clear();
        self.dropped_output = 0;
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // An idle plugin process holds nothing worth a graceful exit.
        self.stop();
    }
}

/// One round with one plugin process: write `request`, then read one line.
struct Exchange<'w> {
    worker: &'w mut Worker,
    request: Vec<u8>,
    written: usize,
    outcome: Option<Result<Vec<u8>, Failure>>,
}

impl<'w> Exchange<'w> {
    /// Reads an answer the process sends unasked; it may already be among
    /// the bytes read.
    fn receive(worker: &'w mut Worker) -> Self {
        let mut exchange = Exchange {
            worker,
            request: Vec::new(),
            written: 0,
            outcome: None,
        };
        exchange.take_line();
        exchange
    }

    fn send(worker: &'w mut Worker, request: Vec<u8>) -> Self {
        // Bytes left over from before are a message nobody asked for.
        let outcome = (!worker.pending.is_empty()).then_some(Err(Failure::OutOfTurn));
        Exchange {
            worker,
            request,
            written: 0,
            outcome,
        }
    }

    fn done(&self) -> bool {
        self.outcome.is_some()
    }

    /// Moves a complete line out of the worker's pending bytes, if there is one.
    fn take_line(&mut self) {
        let pending = &mut self.worker.pending;
        if let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            self.outcome = Some(Ok(line));
        } else if pending.len() > MAX_MESSAGE {
            self.outcome = Some(Err(Failure::TooLong));
        }
    }

    fn write(&mut self) {
        match rustix::io::write(&self.worker.requests, &self.request[self.written..]) {
            Ok(n) => self.written += n,
            Err(Errno::AGAIN | Errno::INTR) => {}
            // The pipe is closed: the process is gone.
            Err(_) => self.outcome = Some(Err(Failure::Closed)),
        }
    }

    fn read_reply(&mut self) {
        // On the stack, as the output's: a heap buffer this size would be
        // zeroed on every read, and its pages faulted in on the first.
        let mut chunk = [0u8; 16 * 1024];
        match rustix::io::read(&self.worker.replies, &mut chunk) {
            Ok(0) => self.outcome = Some(Err(Failure::Closed)),
            Ok(n) => {
                self.worker.pending.extend_from_slice(&chunk[..n]);
                self.take_line();
            }
            Err(Errno::AGAIN | Errno::INTR) => {}
            Err(_) => self.outcome = Some(Err(Failure::Closed)),
        }
    }

    fn read_output(&mut self) {
        let Some(fd) = &self.worker.output else {
            return;
        };
        let mut chunk = [0u8; 16 * 1024];
        match rustix::io::read(fd, &mut chunk) {
            Ok(0) => self.worker.output = None,
            Ok(n) => self.worker.keep_output(&chunk[..n]),
            Err(Errno::AGAIN | Errno::INTR) => {}
            Err(_) => self.worker.output = None,
        }
    }
}

/// Runs `exchanges` side by side until each has its answer or `deadline`
/// passes; those unfinished then have none.
fn drive(exchanges: &mut [Exchange<'_>], deadline: Instant) {
    // Polling pays only while one process runs beside the host.
    let placement = match exchanges {
        [only] => only.worker.placement.as_deref().cloned(),
        _ => None,
    };
    loop {
        let mut fds = Vec::new();
        let mut owners = Vec::new();
        for (index, exchange) in exchanges.iter().enumerate() {
            if exchange.done() {
                continue;
            }
            let worker = &exchange.worker;
            if exchange.written < exchange.request.len() {
                fds.push(os::poll_fd(worker.requests.as_fd(), os::POLL_WRITE));
                owners.push((index, Stream::Requests));
            }
            fds.push(os::poll_fd(worker.replies.as_fd(), os::POLL_READ));
            owners.push((index, Stream::Replies));
            if let Some(output) = &worker.output {
                fds.push(os::poll_fd(output.as_fd(), os::POLL_READ));
                owners.push((index, Stream::Output));
            }
        }
        if fds.is_empty() {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        if beside::host_wait(&mut fds, left, placement.as_ref()).is_err() {
            continue;
        }
        for (fd, (index, stream)) in fds.iter().zip(owners) {
            if !os::poll_ready(fd) {
                continue;
            }
            let exchange = &mut exchanges[index];
            if exchange.done() {
                continue;
            }
            match stream {
                Stream::Requests => exchange.write(),
                Stream::Replies => exchange.read_reply(),
                Stream::Output => exchange.read_output(),
            }
        }
    }
}

enum Stream {
    Requests,
    Replies,
    Output,
}

/// `exit status 3`, `signal SIGSEGV (invalid memory access)`.
fn describe_exit(status: rustix::process::WaitStatus) -> String {
    if let Some(code) = status.exit_status() {
        return format!("it exited with status {code} before answering");
    }
    let Some(signal) = status.terminating_signal() else {
        return "it stopped answering".to_owned();
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

/// The plugin process, from the fork on; never returns. `fds` are, in
/// order: requests, output (twice: standard output and error), and replies.
fn plugin_process(host: Pid, fds: &[i32], placement: Option<Placement>) -> ! {
    // In a group of its own, which ends with the host: when the host dies,
    // SIGTERM reaches this process, whose handler stops the whole group,
    // everything the plugin started included. Refuse to start at all if the
    // host is already gone.
    if os::new_process_group().is_err()
        || os::on_signal_kill_own_group(Signal::TERM).is_err()
        || rustix::process::set_parent_process_death_signal(Some(Signal::TERM)).is_err()
        || rustix::process::getppid() != Some(host)
        || os::arrange_descriptors(fds).is_err()
    {
        os::exit_now(1);
    }
    if os::forbid_leaving_the_process_group().is_err() {
        os::exit_now(1);
    }
    let beside = placement.is_some_and(|placement| placement.apply_here());
    os::exit_now(match serve(beside) {
        Ok(()) => 0,
        Err(_) => 1,
    })
}

/// Waits for the plugin file, loads the plugin from its descriptor, reports
/// (with the settings schema after, unasked), then answers requests until
/// the host closes them.
fn serve(beside: bool) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader};

    let replies = os::take_fd(REPLIES_FD);
    let requests = os::take_fd(REQUESTS_FD);
    if beside {
        // Warming up for the plugin only while it has not arrived: once it
        // is here, loading it comes first.
        let arrived = || beside::readable_now(requests.as_fd());
        os::copy_shared_pages(arrived);
        if !arrived() {
            rehearse();
        }
        beside::await_readable(requests.as_fd());
    }
    let Some((plugin_file, call_follows)) = receive_plugin(&requests)? else {
        // Started ahead of need and never needed.
        return Ok(());
    };
    let mut out = std::io::BufWriter::new(File::from(replies));
    let mut send = |message: &Message| -> std::io::Result<()> {
        serde_json::to_writer(&mut out, message)?;
        out.write_all(b"\n")?;
        out.flush()
    };
    let error = |error: Error| Message::Error {
        kind: error.kind(),
        message: error.to_string(),
    };
    let reply = |result: Result<JsonObject, Error>| match result {
        Ok(object) => Message::Value(object),
        Err(failure) => error(failure),
    };
    let path = PathBuf::from(format!("/proc/self/fd/{}", plugin_file.as_raw_fd()));
    let plugin = match InProcessPlugin::load(&path) {
        Ok(plugin) => plugin,
        Err(failure) => return send(&error(failure)),
    };
    send(&Message::Loaded(plugin.reported.clone()))?;
    let has_settings = plugin.reported.has_settings;
    let schema_answer =
        has_settings.then(|| plugin.call_with(Call::GetSettingsSchema, &JsonObject::new()));
    let schema = schema_answer
        .as_ref()
        .and_then(|answer| answer.as_ref().ok())
        .map(|schema| serde_json::Value::Object(schema.clone()));
    // What a call asked ahead may be made with: settings the schema plainly
    // accepts, or none for a plugin without settings.
    let may_call_ahead = |settings: &JsonObject| match (has_settings, &schema) {
        (false, _) => settings.is_empty(),
        (true, Some(schema)) => {
            crate::settings::plainly_valid(schema, &serde_json::Value::Object(settings.clone()))
        }
        (true, None) => false,
    };
    let requests = File::from(requests);
    let requests: Box<dyn std::io::Read> = if beside {
        Box::new(beside::PollingReader(requests))
    } else {
        Box::new(requests)
    };
    let answer = |line: std::io::Result<String>,
                  send: &mut dyn FnMut(&Message) -> std::io::Result<()>|
     -> std::io::Result<()> {
        let request: Request = serde_json::from_str(&line?).map_err(std::io::Error::other)?;
        if request.ahead && !may_call_ahead(&request.settings) {
            return send(&Message::Skipped);
        }
        send(&reply(plugin.call_with(request.call, &request.settings)))
    };
    let mut lines = BufReader::new(requests).lines();
    // The call asked ahead is answered before the schema: a host that
    // finds it made knows the schema plainly accepts its settings, and
    // needs the schema no more (see Worker::made_ahead).
    if call_follows && let Some(line) = lines.next() {
        answer(line, &mut send)?;
    }
    if let Some(schema_answer) = schema_answer {
        send(&reply(schema_answer))?;
    }
    for line in lines {
        answer(line, &mut send)?;
    }
    Ok(())
}

/// Runs, on made-up values, the host code a plugin process runs once its
/// plugin arrives: the layout check, the plain settings check, and reading
/// and writing messages. A plugin process beside the host does this while
/// it waits, so that the first time for real does not also pay for
/// faulting in that code on a CPU whose caches have never seen it.
fn rehearse() {
    crate::loader::rehearse_layout_check();
    let answer = r#"{"exporters":{"otlp/x":{"endpoint":"x:4317","tls":{"insecure":true},"n":[1,-2.5,null,"s"]}}}"#;
    let object: JsonObject = serde_json::from_str(answer).unwrap_or_default();
    let schema = r#"{"type":"object","additionalProperties":false,"properties":{"exporters":{"type":"object"}}}"#;
    let schema: serde_json::Value = serde_json::from_str(schema).unwrap_or_default();
    let _ = crate::settings::plainly_valid(&schema, &serde_json::Value::Object(object.clone()));
    let request = Request {
        call: Call::GetOtlpExporterConfig,
        settings: object.clone(),
        ahead: true,
    };
    let request = serde_json::to_string(&request).unwrap_or_default();
    let _ = serde_json::from_str::<Request>(&request);
    let reported = Reported {
        floe_api_version: "1.1".to_owned(),
        name: "x".to_owned(),
        version: "1.0.0".to_owned(),
        description: String::new(),
        self_hosted: true,
        signals: Some(vec!["traces".to_owned()]),
        has_settings: true,
    };
    for message in [Message::Loaded(reported), Message::Value(object)] {
        let _ = serde_json::to_writer(std::io::sink(), &message);
    }
}

/// The plugin file's descriptor, the first thing the host sends, and
/// whether a call asked ahead follows it; `None` when the host closes the
/// socket without sending one.
fn receive_plugin(requests: &OwnedFd) -> std::io::Result<Option<(OwnedFd, bool)>> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut mark = [0u8; 1];
    let received = loop {
        match rustix::net::recvmsg(
            requests,
            &mut [std::io::IoSliceMut::new(&mut mark)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(Errno::INTR) => continue,
            other => break other?,
        }
    };
    if received.bytes == 0 {
        return Ok(None);
    }
    let mut files = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            files.extend(fds);
        }
    }
    match (mark[0], files.pop(), files.is_empty()) {
        (PLUGIN_FILE_MARK, Some(file), true) => Ok(Some((file, false))),
        (PLUGIN_FILE_AND_CALL_MARK, Some(file), true) => Ok(Some((file, true))),
        _ => Err(std::io::Error::other("expected one plugin file descriptor")),
    }
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
        assert!(matches!(
            parse_message(br#""skipped""#),
            Ok(Message::Skipped)
        ));
        assert!(parse_message(br#"{"value":[]}"#).is_err());
        assert!(parse_message(br#"{"error":{"kind":"no_such_kind","message":""}}"#).is_err());
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
            key in "(loaded|value|error|skipped|x)",
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
