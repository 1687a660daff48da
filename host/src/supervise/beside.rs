//! Running the plugin process beside the host, on another CPU, rather than
//! after it on the same one.
//!
//! [`Isolation::prestart`](super::Isolation::prestart) forks the plugin
//! process early so that its set-up overlaps the host's own work. Left to
//! the scheduler, the new process is often queued on the host's CPU, and the
//! two take turns: nothing overlaps. When the host may use two CPUs or more,
//! three things make the overlap real:
//!
//! 1. The host moves the process to the CPUs other than its own right after
//!    the fork ([`Placement::apply`]), and the process moves itself as well,
//!    in case it ran first ([`Placement::apply_here`]).
//! 2. Each side waits for the other by polling for a bounded time
//!    ([`SPIN`]) before it sleeps ([`wait`]): a CPU that sleeps takes a
//!    tenth of a millisecond or more to wake again (much of a one-plugin
//!    command's isolation cost on a virtual machine). The host polls only
//!    while it runs on a CPU the process may not use, so it never holds the
//!    CPU the process needs.
//! 3. While the process waits for its plugin, it breaks the copy-on-write
//!    sharing of the host's memory ([`os::copy_shared_pages`]), so neither
//!    side pays those faults once the plugin is chosen, and rehearses the
//!    code it runs on a plugin. It stops as soon as the plugin arrives: a
//!    host that finds its plugin quickly must not wait for the warm-up.
//!
//! On a single CPU none of this applies and both sides sleep while they
//! wait, as before.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use rustix::process::Pid;
use rustix::thread::{CpuSet, sched_getaffinity, sched_getcpu, sched_setaffinity};

use crate::os;

/// How long a waiting side polls before it sleeps. The host reaches its
/// plugin in about a millisecond, a little more with a configuration file
/// to read; a plugin answers a call in well under one.
pub(crate) const SPIN: Duration = Duration::from_millis(3);

/// The CPUs a plugin process runs on: all those the host may use, less the
/// one it runs on when it forks.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    cpus: CpuSet,
}

impl Placement {
    /// The placement for a process forked now, or `None` when the host may
    /// use only the CPU it is on.
    pub(crate) fn plan() -> Option<Placement> {
        let mut cpus = sched_getaffinity(None).ok()?;
        // A set holds CpuSet::MAX_CPU CPUs; past that, none of this applies.
        let host = sched_getcpu();
        if host >= CpuSet::MAX_CPU {
            return None;
        }
        cpus.unset(host);
        (cpus.count() > 0).then_some(Placement { cpus })
    }

    /// Moves the process `pid` to its CPUs. Called by the host right after
    /// the fork, so the process starts there instead of being queued behind
    /// the host. On failure the process stays where the scheduler put it,
    /// and the host must not poll for it: `false`.
    pub(crate) fn apply(&self, pid: Pid) -> bool {
        sched_setaffinity(Some(pid), &self.cpus).is_ok()
    }

    /// Moves the calling process to its CPUs: the plugin process does it
    /// too, as it may run before the host's [`Placement::apply`]. `false`
    /// when it cannot, and then it must not poll.
    pub(crate) fn apply_here(&self) -> bool {
        sched_setaffinity(None, &self.cpus).is_ok()
    }

    /// Whether this process runs on a CPU the plugin process may not use,
    /// where polling takes no time from it.
    fn polling_is_free(&self) -> bool {
        let cpu = sched_getcpu();
        cpu < CpuSet::MAX_CPU && !self.cpus.is_set(cpu)
    }
}

/// Waits at most `timeout` until one of `fds` is ready, polling first for
/// up to [`SPIN`] while `keep_polling` holds, then sleeping in `poll`.
pub(crate) fn wait(
    fds: &mut [libc::pollfd],
    timeout: Duration,
    keep_polling: impl Fn() -> bool,
) -> std::io::Result<()> {
    let start = Instant::now();
    let polling = SPIN.min(timeout);
    while start.elapsed() < polling && keep_polling() {
        os::poll(fds, Duration::ZERO)?;
        if fds.iter().any(os::poll_ready) {
            return Ok(());
        }
        std::hint::spin_loop();
    }
    os::poll(fds, timeout.saturating_sub(start.elapsed()))
}

/// [`wait`] for the host, which polls only where that is free.
pub(crate) fn host_wait(
    fds: &mut [libc::pollfd],
    timeout: Duration,
    placement: Option<&Placement>,
) -> std::io::Result<()> {
    match placement {
        Some(placement) => wait(fds, timeout, || placement.polling_is_free()),
        None => os::poll(fds, timeout),
    }
}

/// [`wait`] for a plugin process moved off the host's CPU. It yields on
/// every turn, so that it never holds its CPU from anything else that wants
/// it there (the host, should the scheduler move it). Waits for `fd` to be
/// readable; an error or a long wait is left to the read that follows.
pub(crate) fn await_readable(fd: BorrowedFd<'_>) {
    let mut fds = [os::poll_fd(fd, os::POLL_READ)];
    let _ = wait(&mut fds, Duration::MAX, || {
        rustix::thread::sched_yield();
        true
    });
}

/// Whether `fd` has something to read now, without waiting.
pub(crate) fn readable_now(fd: BorrowedFd<'_>) -> bool {
    let mut fds = [os::poll_fd(fd, os::POLL_READ)];
    os::poll(&mut fds, Duration::ZERO).is_ok() && os::poll_ready(&fds[0])
}

/// A reader that, before each read, polls for its input as [`await_readable`]
/// does: how a plugin process moved off the host's CPU reads requests.
pub(crate) struct PollingReader<R>(pub(crate) R);

impl<R: Read + AsFd> Read for PollingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        await_readable(self.0.as_fd());
        self.0.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::{BufRead, BufReader, Write};

    use super::*;

    #[test]
    fn a_placement_is_every_cpu_but_one() {
        let allowed = sched_getaffinity(None).unwrap();
        match Placement::plan() {
            Some(placement) => assert_eq!(placement.cpus.count() + 1, allowed.count()),
            None => assert_eq!(allowed.count(), 1),
        }
    }

    fn pipe() -> (File, File) {
        let (read, write) = rustix::pipe::pipe().unwrap();
        (File::from(read), File::from(write))
    }

    #[test]
    fn waiting_ends_when_input_arrives_or_at_the_timeout() {
        let (read, mut write) = pipe();
        let mut fds = [os::poll_fd(read.as_fd(), os::POLL_READ)];
        wait(&mut fds, Duration::from_millis(20), || true).unwrap();
        assert!(!os::poll_ready(&fds[0]), "ready with nothing written");

        write.write_all(b"x").unwrap();
        let mut fds = [os::poll_fd(read.as_fd(), os::POLL_READ)];
        wait(&mut fds, Duration::from_secs(600), || false).unwrap();
        assert!(os::poll_ready(&fds[0]));
        let mut fds = [os::poll_fd(read.as_fd(), os::POLL_READ)];
        wait(&mut fds, Duration::from_secs(600), || true).unwrap();
        assert!(os::poll_ready(&fds[0]));
    }

    #[test]
    fn a_polling_reader_reads_every_line_to_the_end() {
        let (read, mut write) = pipe();
        let writer = std::thread::spawn(move || {
            for line in ["first\n", "second\n"] {
                std::thread::sleep(Duration::from_millis(5));
                write.write_all(line.as_bytes()).unwrap();
            }
        });
        let lines: Vec<String> = BufReader::new(PollingReader(read))
            .lines()
            .collect::<Result<_, _>>()
            .unwrap();
        writer.join().unwrap();
        assert_eq!(lines, ["first", "second"]);
    }
}
