//! The process calls that the standard library does not wrap, for the
//! supervisor: forking a plugin process, and fencing it in. With `loader`,
//! the only modules with `unsafe` code.
//!
//! A plugin process is a fork of the host, not a new executable: the host is
//! already initialised, so a plugin process costs a `fork` and a `dlopen`
//! instead of an `exec`, a dynamic link and a second start-up. A fork is only
//! sound while the host has one thread, which the supervisor keeps true: it
//! never starts a thread, and waits on its plugin processes with `poll`.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use std::sync::atomic::{AtomicI32, Ordering};

use rustix::process::{Pid, Signal};

/// Which side of a fork this is.
pub(crate) enum Forked {
    /// The host: here is the plugin process.
    Parent(Pid),
    /// The plugin process.
    Child,
}

/// Forks the host.
///
/// The caller must hold the only thread of the process (see the module
/// documentation), and the child must end with [`exit_now`], never by
/// returning into the host's code.
pub(crate) fn fork() -> std::io::Result<Forked> {
    // SAFETY: with a single thread, the child's copy of the address space is
    // consistent: no lock is held by a thread that does not exist in it.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(
            Pid::from_raw(pid).expect("fork returns a positive pid to the parent"),
        )),
    }
}

/// How many threads this process runs, as the kernel counts them: the link
/// count of `/proc/self/task` is two plus one per thread. One `statx`,
/// where reading `/proc/self/status` makes the kernel format some fifty
/// lines; it runs before every fork.
pub(crate) fn thread_count() -> std::io::Result<usize> {
    use rustix::fs::{AtFlags, CWD, StatxFlags, statx};
    let task = statx(CWD, "/proc/self/task", AtFlags::empty(), StatxFlags::NLINK)?;
    usize::try_from(task.stx_nlink)
        .ok()
        .and_then(|links| links.checked_sub(2))
        .filter(|&threads| threads > 0)
        .ok_or_else(|| std::io::Error::other("/proc/self/task has an unexpected link count"))
}

/// Ends this process at once: no destructors and no `atexit` handlers, which
/// belong to the host that was forked and would flush its buffers twice.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of the process.
    unsafe { libc::_exit(code) }
}

/// Places `fds` at descriptors 0, 1, … in order, blocking, and closes every
/// other descriptor, so the plugin process holds nothing of the host's.
/// The host creates its socket and pipes to the process non-blocking, for
/// its own ends: clearing the flag here, on the process's ends (open file
/// descriptions of their own), keeps those system calls off the host's path.
pub(crate) fn arrange_descriptors(fds: &[RawFd]) -> std::io::Result<()> {
    // Move every source above the targets first, so that placing one never
    // closes another that is still to be placed.
    let high: Vec<RawFd> = fds
        .iter()
        .map(|&fd| {
            // SAFETY: F_DUPFD only creates a descriptor.
            let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 64) };
            if copy < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(copy)
            }
        })
        .collect::<Result<_, _>>()?;
    for (target, &source) in high.iter().enumerate() {
        // SAFETY: dup2 onto a small descriptor number; the copy has no CLOEXEC.
        if unsafe { libc::dup2(source, target as RawFd) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: F_GETFL and F_SETFL change only the descriptor's flags.
        let flags = unsafe { libc::fcntl(target as RawFd, libc::F_GETFL) };
        if flags < 0
            || unsafe { libc::fcntl(target as RawFd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    // SAFETY: closes descriptors this process owns; none is used after.
    if unsafe { libc::close_range(fds.len() as libc::c_uint, libc::c_uint::MAX, 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Gives this process its own copy of every resident page of its private
/// writable mappings, which after a fork it shares copy-on-write with the
/// host. Whichever process writes such a page first pays a page fault and a
/// copy; a plugin process waiting beside the host calls this so that both
/// are paid ahead of need, off the host's CPU. Only resident pages are
/// copied, so the process grows by at most the writable memory the host
/// already uses, never by whole mappings. Best effort: a mapping that
/// cannot be read or populated (a kernel before 5.14) is skipped. Stops
/// early once `enough` holds, asked before each run of pages.
pub(crate) fn copy_shared_pages(enough: impl Fn() -> bool) {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let page = rustix::param::page_size();
    for line in maps.lines() {
        // `start-end perms offset dev inode [path]`
        let mut fields = line.split_ascii_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !perms.starts_with("rw") || !perms.ends_with('p') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let pages = end.saturating_sub(start) / page;
        let mut resident = vec![0u8; pages];
        // SAFETY: [start, end) is a mapping of this single-threaded process,
        // listed a moment ago, and `resident` holds one byte per page.
        if unsafe {
            libc::mincore(
                start as *mut libc::c_void,
                pages * page,
                resident.as_mut_ptr(),
            )
        } != 0
        {
            continue;
        }
        let mut index = 0;
        while index < pages {
            if resident[index] & 1 == 0 {
                index += 1;
                continue;
            }
            if enough() {
                return;
            }
            let first = index;
            while index < pages && resident[index] & 1 != 0 {
                index += 1;
            }
            // SAFETY: populating only faults in pages of an existing private
            // mapping, as writing each would; their contents do not change.
            unsafe {
                libc::madvise(
                    (start + first * page) as *mut libc::c_void,
                    (index - first) * page,
                    libc::MADV_POPULATE_WRITE,
                )
            };
        }
    }
}

/// Refuses `setsid` and `setpgid` to this process and everything it starts
/// (a seccomp filter, inherited across fork and exec): whatever a plugin
/// starts stays in its process group, where the host can stop it.
pub(crate) fn forbid_leaving_the_process_group() -> std::io::Result<()> {
    const SECCOMP_DATA_NR: u32 = 0;
    const SECCOMP_DATA_ARCH: u32 = 4;
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xc000_00b7;
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    return Ok(());

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        let deny = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        let stmt = |code: u32, k: u32| libc::sock_filter {
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        };
        let jump_eq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt,
            jf,
            k,
        };
        let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
        let ret = libc::BPF_RET | libc::BPF_K;
        let mut filter = [
            stmt(load, SECCOMP_DATA_ARCH),
            // Another calling convention (x32, 32-bit) could name the same
            // calls by other numbers: refuse those calls outright.
            jump_eq(AUDIT_ARCH, 1, 0),
            stmt(ret, libc::SECCOMP_RET_KILL_PROCESS),
            stmt(load, SECCOMP_DATA_NR),
            // x32 numbers on x86_64 (bit 30 set) are refused in the same way.
            libc::sock_filter {
                code: (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16,
                jt: 3,
                jf: 0,
                k: 0x4000_0000,
            },
            jump_eq(libc::SYS_setsid as u32, 2, 0),
            jump_eq(libc::SYS_setpgid as u32, 1, 0),
            stmt(ret, libc::SECCOMP_RET_ALLOW),
            stmt(ret, deny),
        ];
        let program = libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_mut_ptr(),
        };
        rustix::thread::set_no_new_privs(true)?;
        // SAFETY: `program` points at `filter`, both alive for the call; the
        // kernel copies the program.
        let result = unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const libc::sock_fprog,
            )
        };
        if result < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Makes `signal` stop this process's whole group: how a plugin process
/// takes everything it started with it when the host dies.
pub(crate) fn on_signal_kill_own_group(signal: Signal) -> std::io::Result<()> {
    extern "C" fn kill_group(_: libc::c_int) {
        // SAFETY: kill is async-signal-safe; pid 0 is the caller's group.
        unsafe { libc::kill(0, libc::SIGKILL) };
    }
    // The host's handlers for the signals below are no business of a
    // plugin process: they would stop the host's other plugin processes.
    for inherited in [libc::SIGINT, libc::SIGHUP] {
        install(inherited, libc::SIG_DFL)?;
    }
    install(
        signal.as_raw(),
        kill_group as *const () as libc::sighandler_t,
    )
}

fn install(signal: libc::c_int, handler: libc::sighandler_t) -> std::io::Result<()> {
    // SAFETY: a zeroed sigaction with a handler and an empty mask is valid.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The process groups of the running plugin processes, for the signal
/// handler below: fixed slots, as a handler may not allocate or lock.
static GROUPS: [AtomicI32; 1024] = [const { AtomicI32::new(0) }; 1024];

/// Notes the plugin process group `pid`, to be stopped if the host is.
pub(crate) fn remember_group(pid: Pid) {
    let pid = pid.as_raw_nonzero().get();
    for slot in &GROUPS {
        if slot
            .compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
}

/// Forgets the group `pid`, stopped by the host itself.
pub(crate) fn forget_group(pid: Pid) {
    let pid = pid.as_raw_nonzero().get();
    for slot in &GROUPS {
        let _ = slot.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// On SIGTERM, SIGINT or SIGHUP, the host stops every plugin process group
/// it started, then dies of the signal as it would have.
pub(crate) fn stop_groups_on_termination() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    extern "C" fn stop_groups(signal: libc::c_int) {
        for slot in &GROUPS {
            let pid = slot.load(Ordering::SeqCst);
            if pid > 0 {
                // SAFETY: kill, signal and raise are async-signal-safe.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
        }
        // SAFETY: as above; the default action then ends the host.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
    INSTALLED.call_once(|| {
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            let _ = install(signal, stop_groups as *const () as libc::sighandler_t);
        }
    });
}

/// Plugin processes killed but not yet reaped.
static TO_REAP: std::sync::Mutex<Vec<Pid>> = std::sync::Mutex::new(Vec::new());

/// Reaps `pid` once it has ended, without waiting for it now.
pub(crate) fn reap_later(pid: Pid) {
    if !matches!(
        rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG),
        Ok(Some(_))
    ) {
        TO_REAP.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
    }
}

/// Reaps the plugin processes that have ended since they were killed.
pub(crate) fn reap_finished() {
    TO_REAP
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&pid| {
            !matches!(
                rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG),
                Ok(Some(_)) | Err(_)
            )
        });
}

/// The raw descriptor, for [`arrange_descriptors`].
pub(crate) fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}

/// Takes ownership of descriptor `fd`, placed by [`arrange_descriptors`].
pub(crate) fn take_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: called once per descriptor, in the plugin process, for the
    // descriptors `arrange_descriptors` placed and nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Puts this process in a new process group of its own.
pub(crate) fn new_process_group() -> std::io::Result<()> {
    // SAFETY: setpgid changes no memory.
    if unsafe { libc::setpgid(0, 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Interest in reading, for [`poll_fd`].
pub(crate) const POLL_READ: i16 = libc::POLLIN;
/// Interest in writing, for [`poll_fd`].
pub(crate) const POLL_WRITE: i16 = libc::POLLOUT;

/// An entry for [`poll`]. It holds the descriptor's number only: the caller
/// keeps the descriptor open until `poll` returns.
pub(crate) fn poll_fd(fd: BorrowedFd<'_>, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    }
}

/// Waits at most `timeout` until one of `fds` is ready.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: std::time::Duration) -> std::io::Result<()> {
    // Rounded up, so that a deadline a fraction of a millisecond away is
    // waited for rather than spun on.
    let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd.
    if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether [`poll`] found the entry ready (or its other end closed).
pub(crate) fn poll_ready(fd: &libc::pollfd) -> bool {
    fd.revents & (libc::POLLIN | libc::POLLOUT | libc::POLLHUP | libc::POLLERR) != 0
}

#[cfg(test)]
mod tests {
    /// Populating pages this process already has changes none of them.
    #[test]
    fn copying_shared_pages_leaves_memory_as_it_was() {
        let heap: Vec<u64> = (0..100_000).collect();
        let mut stack = [0u8; 4096];
        stack.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        super::copy_shared_pages(|| false);
        assert!(heap.iter().enumerate().all(|(i, &v)| v == i as u64));
        assert!(stack.iter().enumerate().all(|(i, &b)| b == i as u8));
    }

    /// The link count agrees with the entries of `/proc/self/task`. Other
    /// tests start and end threads meanwhile, so the two are read until they
    /// are read between two such changes.
    #[test]
    fn thread_count_is_the_number_of_tasks() {
        let (stop, parked) = std::sync::mpsc::channel::<()>();
        let extra = std::thread::spawn(move || parked.recv());
        let agreed = (0..1000).find_map(|_| {
            let counted = super::thread_count().unwrap();
            let listed = std::fs::read_dir("/proc/self/task").unwrap().count();
            (counted == listed).then_some(counted)
        });
        drop(stop);
        extra.join().unwrap().unwrap_err();
        // This thread and the parked one, at least.
        assert!(agreed.is_some_and(|threads| threads >= 2), "{agreed:?}");
    }
}
