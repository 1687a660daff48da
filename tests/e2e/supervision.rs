//! Plugin processes under supervision: whatever a plugin does to the host
//! (floods it, stops reading, hangs, starts processes, forges its report),
//! the host answers within its deadlines, stays small, and leaves nothing
//! running behind it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use floe_telemetry_tests::{Dir, TestCommand, bundled_plugin, fixture_plugin};
use rustix::process::{Pid, Signal};

use crate::util::{floe_in, mkfifo, names, problems, problems_at};

/// Longer than any run here may take: past it, the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// A plugin directory in `dir` with jaeger and the fixture plugins `names`.
fn plugins_with(dir: &Dir, fixtures: &[&str]) -> PathBuf {
    let plugins = dir.create_dir("plugins");
    let jaeger = bundled_plugin("jaeger");
    dir.copy(&jaeger, plugins.join(jaeger.file_name().unwrap()));
    for name in fixtures {
        let library = fixture_plugin(name);
        dir.copy(&library, plugins.join(library.file_name().unwrap()));
    }
    plugins
}

/// How a run ended, and whether its output closed when it did.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    /// The binary exited, but something it started still held its output.
    output_held_open: bool,
    peak_rss_kib: u64,
}

/// Waits for `child` to exit (killing its group past [`DEADLINE`]), noting
/// its peak memory while it runs, then for its output to close.
fn finish(mut child: Child) -> Finished {
    let started = Instant::now();
    let (sender, receiver) = mpsc::channel();
    let pipes: [Box<dyn Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("piped stdout")),
        Box::new(child.stderr.take().expect("piped stderr")),
    ];
    for (index, mut pipe) in pipes.into_iter().enumerate() {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = sender.send((index, bytes));
        });
    }
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_rss_kib = 0;
    let status = loop {
        if let Ok(status) = fs::read_to_string(&status_file) {
            peak_rss_kib = peak_rss_kib.max(status_field_kib(&status, "VmHWM:"));
        }
        if let Some(status) = child.try_wait().expect("wait for the binary") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let group = Pid::from_child(&child);
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
            let _ = child.wait();
            panic!("floe-telemetry did not finish within {DEADLINE:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let mut output = [Vec::new(), Vec::new()];
    let mut output_held_open = false;
    for _ in 0..2 {
        match receiver.recv_timeout(Duration::from_secs(5)) {
            Ok((index, bytes)) => output[index] = bytes,
            Err(_) => output_held_open = true,
        }
    }
    let [stdout, stderr] = output.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    Finished {
        status,
        stdout,
        stderr,
        elapsed,
        output_held_open,
        peak_rss_kib,
    }
}

fn status_field_kib(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Whether process `pid` still runs (a zombie has ended).
fn alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next());
    state != Some("Z")
}

fn recorded_pids(file: &Path) -> Vec<u32> {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// Those of `pids` still running after a few seconds; they are then killed,
/// so that a failing test leaves nothing behind either.
fn survivors(pids: &[u32]) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&pid| alive(pid)).collect();
        if left.is_empty() || started.elapsed() > Duration::from_secs(5) {
            for &pid in &left {
                if let Some(pid) = Pid::from_raw(pid as i32) {
                    let _ = rustix::process::kill_process(pid, Signal::KILL);
                }
            }
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_daemon_started_while_loading_is_stopped_with_its_plugin() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &["spawner"]);
    let pids = dir.join("pids");
    let run = finish(
        floe_in(&plugins)
            .env("FLOE_FIXTURE_PIDS", &pids)
            .args(["--timeout", "3s", "check", "-o", "json"])
            .spawn(),
    );
    let recorded = recorded_pids(&pids);
    let left = survivors(&recorded);
    // The plugin process, a sleep, a daemon that tried to leave the group,
    // and the sleep its hanging call started.
    assert_eq!(recorded.len(), 4, "{recorded:?}\n{}", run.stderr);
    assert!(left.is_empty(), "still running: {left:?}");
    assert!(!run.output_held_open, "a plugin's process held the output");
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let spawner = plugins.join("libfloe_fixture_spawner.so");
    assert_eq!(
        problems_at(&document, "timed_out", &spawner).len(),
        1,
        "{document:#}"
    );
    assert!(names(&document).contains(&"jaeger"), "{document:#}");
}

#[test]
fn a_call_stopped_at_its_timeout_takes_what_it_started_with_it() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &["spawner"]);
    let pids = dir.join("pids");
    let run = finish(
        floe_in(&plugins)
            .env("FLOE_FIXTURE_PIDS", &pids)
            .args(["--timeout", "2s", "exporter-config", "spawner"])
            .spawn(),
    );
    let left = survivors(&recorded_pids(&pids));
    assert!(left.is_empty(), "still running: {left:?}");
    assert!(!run.output_held_open, "a plugin's process held the output");
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "libfloe_fixture_spawner.so: get_otlp_exporter_config() did not finish within 2 s"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_terminated_host_leaves_no_plugin_process_behind() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &["spawner"]);
    let pids = dir.join("pids");
    let host = floe_in(&plugins)
        .env("FLOE_FIXTURE_PIDS", &pids)
        .args(["--timeout", "60s", "exporter-config", "spawner"])
        .spawn();
    let host_pid = Pid::from_child(&host);
    // Loaded (plugin process, sleep, daemon) and called (one more sleep).
    let started = Instant::now();
    while recorded_pids(&pids).len() < 4 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    rustix::process::kill_process(host_pid, Signal::TERM).unwrap();
    let run = finish(host);
    let recorded = recorded_pids(&pids);
    let left = survivors(&recorded);
    assert_eq!(recorded.len(), 4, "{recorded:?}\n{}", run.stderr);
    assert!(left.is_empty(), "still running after SIGTERM: {left:?}");
    assert!(!run.output_held_open, "a plugin's process held the output");
}

#[test]
fn a_plugin_that_floods_its_replies_cannot_grow_the_host() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &["flood", "hang-in-call"]);
    // The host calls flood, then waits on hang-in-call while flood writes
    // 8 MiB lines as fast as it can.
    let config = dir.write(
        "floe.yaml",
        "backends:\n  - backend: flood\n  - backend: hang-in-call\n",
    );
    let run = finish(
        floe_in(&plugins)
            .arg("-c")
            .arg(&config)
            .args(["--timeout", "3s", "render", "collector"])
            .spawn(),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("libfloe_fixture_hang_in_call.so: get_otlp_exporter_config() did not finish"),
        "{}",
        run.stderr
    );
    assert!(
        run.peak_rss_kib > 0 && run.peak_rss_kib < 256 * 1024,
        "the host's peak memory was {} KiB",
        run.peak_rss_kib
    );
}

#[test]
fn a_stopped_plugin_cannot_block_a_large_request() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &["stop-self"]);
    // 1 MiB of settings: far more than a pipe holds.
    let padding = "x".repeat(1 << 20);
    let config = dir.write(
        "floe.yaml",
        format!("backends:\n  - backend: stop-self\n    config:\n      padding: {padding}\n"),
    );
    let run = finish(
        floe_in(&plugins)
            .arg("-c")
            .arg(&config)
            .args(["--timeout", "2s", "exporter-config", "stop-self"])
            .spawn(),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.elapsed < Duration::from_secs(15),
        "took {:?}",
        run.elapsed
    );
    assert!(
        run.stderr.contains(&format!(
            "{}: get_otlp_exporter_config() did not finish within 2 s",
            plugins.join("libfloe_fixture_stop_self.so").display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn six_plugins_that_hang_cost_one_timeout() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &[]);
    // Without a metadata section, each must be loaded to tell its name.
    let hang = fixture_plugin("hang-unlisted");
    for i in 1..=6 {
        dir.copy(&hang, plugins.join(format!("libhang_{i}.so")));
    }
    // Not needed for jaeger: none is loaded.
    let run = finish(
        floe_in(&plugins)
            .args(["--timeout", "3s", "exporter-config", "jaeger"])
            .spawn(),
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("jaeger-collector:4317"),
        "{}",
        run.stdout
    );
    assert!(
        run.elapsed < Duration::from_secs(3),
        "took {:?}",
        run.elapsed
    );

    // `check` loads all seven side by side, under one deadline.
    let run = finish(
        floe_in(&plugins)
            .args(["--timeout", "3s", "check", "-o", "json"])
            .spawn(),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "six hanging plugins took {:?}",
        run.elapsed
    );
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let timed_out = problems(&document)
        .iter()
        .filter(|problem| problem["kind"] == "timed_out")
        .count();
    assert_eq!(timed_out, 6, "{document:#}");
    assert_eq!(names(&document), ["jaeger"], "{document:#}");
}

#[test]
fn six_hundred_plugin_files_under_a_limit_of_1024_open_files() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &[]);
    let jaeger = plugins.join("libfloe_backend_jaeger.so");
    // Links, not copies: 600 names for one plugin file.
    for i in 1..600 {
        fs::hard_link(&jaeger, plugins.join(format!("libz_{i:03}.so"))).unwrap();
    }
    let binary = floe_telemetry_tests::floe_telemetry_binary();
    let limited = |args: &[&str]| {
        let mut command = TestCommand::with_binary("sh");
        command
            .arg("-c")
            .arg("ulimit -n 1024 && exec \"$0\" \"$@\"")
            .arg(&binary)
            .args(["--no-default-plugin-dirs", "--plugin-dir"])
            .arg(&plugins)
            .args(args);
        command.run_within(DEADLINE)
    };
    let output = limited(&["exporter-config", "jaeger"]);
    output.assert_success();
    assert!(output.stdout.contains("jaeger-collector:4317"), "{output}");
    assert!(!output.stderr.contains("Too many open files"), "{output}");

    let output = limited(&["list", "-o", "json"]);
    output.assert_success();
    let document = output.json();
    assert_eq!(names(&document), ["jaeger"], "{document:#}");
    let duplicates = problems(&document)
        .iter()
        .filter(|problem| problem["kind"] == "duplicate_name")
        .count();
    assert_eq!(duplicates, 599, "{document:#}");
}

#[test]
fn a_forged_load_report_is_checked_and_never_names_another_file() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &["forge-report"]);
    let forger = plugins.join("libfloe_fixture_forge_report.so");

    // Another backend's name, control characters, an unknown signal and a
    // path, all in the report of a plugin without a metadata section.
    let output = floe_in(&plugins).args(["list", "-o", "json"]).run();
    output.assert_success();
    let document = output.json();
    assert_eq!(names(&document), ["jaeger"], "{document:#}");
    assert_eq!(
        problems_at(&document, "invalid_metadata", &forger).len(),
        1,
        "{document:#}"
    );
    assert!(!output.stdout.contains("/etc/shadow"), "{output}");
    let table = floe_in(&plugins).arg("list").run();
    assert!(
        !table.stdout.contains('\u{1b}') && !table.stderr.contains('\u{1b}'),
        "{table}"
    );
    assert!(!table.stdout.contains("9.9.9"), "{table}");

    let lock = dir.join("floe-telemetry.lock");
    floe_in(&plugins)
        .args(["lock", "--file"])
        .arg(&lock)
        .run()
        .assert_success();
    let text = fs::read_to_string(&lock).unwrap();
    assert!(
        !text.contains("/etc/shadow") && !text.contains("forge"),
        "{text}"
    );

    // Valid fields and a forged path: the plugin is the file the host found,
    // and the lock pins that file's own bytes.
    let output = floe_in(&plugins)
        .env("FLOE_FIXTURE_FORGE", "valid")
        .args(["list", "-o", "json"])
        .run();
    output.assert_success();
    let document = output.json();
    assert_eq!(names(&document), ["jaeger", "forge-report"], "{document:#}");
    assert!(!output.stdout.contains("/etc/shadow"), "{output}");
    floe_in(&plugins)
        .env("FLOE_FIXTURE_FORGE", "valid")
        .args(["lock", "--file"])
        .arg(&lock)
        .run()
        .assert_success();
    let pinned: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&lock).unwrap()).unwrap();
    let entry = pinned["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == "forge-report")
        .unwrap_or_else(|| panic!("{pinned:#}"));
    assert_eq!(entry["path"], forger.to_str().unwrap(), "{pinned:#}");
    let sha = std::process::Command::new("sha256sum")
        .arg(&forger)
        .output()
        .unwrap();
    let sha = String::from_utf8(sha.stdout).unwrap();
    assert_eq!(
        entry["sha256"],
        sha.split_whitespace().next().unwrap(),
        "{pinned:#}"
    );
}

#[test]
fn text_that_is_not_utf8_is_an_error_never_output() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &["bad-utf8"]);
    for isolation in ["--in-process", "--isolate"] {
        let output = floe_in(&plugins)
            .args([isolation, "exporter-config", "bad-utf8", "-o", "json"])
            .run();
        output.assert_code(1);
        assert!(output.stdout.is_empty(), "{output}");
        assert!(
            output
                .stderr
                .contains("get_otlp_exporter_config() returned invalid output: not UTF-8 text"),
            "{output}"
        );
    }
}

#[test]
fn named_pipes_and_devices_among_the_plugins_are_refused_at_once() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &[]);
    let fifo = plugins.join("libfifo.so");
    mkfifo(&fifo);
    let zero = plugins.join("libzero.so");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for args in [
        &["list", "-o", "json"][..],
        &["--allow-insecure-permissions", "list", "-o", "json"],
        &["check", "-o", "json"],
    ] {
        let output = floe_in(&plugins)
            .args(args)
            .run_within(Duration::from_secs(30));
        let document = output.json();
        assert_eq!(
            problems_at(&document, "not_a_regular_file", &fifo).len(),
            1,
            "{document:#}"
        );
        let zero_kind = if args[0] == "--allow-insecure-permissions" {
            "not_a_regular_file"
        } else {
            "symlink_outside_plugin_dirs"
        };
        assert_eq!(
            problems_at(&document, zero_kind, &zero).len(),
            1,
            "{document:#}"
        );
    }
    floe_in(&plugins)
        .args(["exporter-config", "jaeger"])
        .run_within(Duration::from_secs(30))
        .assert_success();
}

#[test]
fn a_plugin_swapped_by_someone_who_can_write_the_directory_is_never_run() {
    let dir = Dir::new();
    let plugins = plugins_with(&dir, &[]);
    let jaeger = plugins.join("libfloe_backend_jaeger.so");
    // Another backend whose metadata is jaeger's to the letter, beside it
    // under a name that is not a candidate.
    let impostor = plugins.join("impostor.bin");
    dir.copy(fixture_plugin("jaeger-twin"), &impostor);
    let lock = dir.join("floe-telemetry.lock");
    floe_in(&plugins)
        .args(["lock", "--file"])
        .arg(&lock)
        .run()
        .assert_success();
    // Anyone may now rename entries of the directory.
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(&plugins, fs::Permissions::from_mode(0o777)).unwrap();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (jaeger, impostor) = (jaeger.clone(), impostor.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                rustix::fs::renameat_with(
                    rustix::fs::CWD,
                    &jaeger,
                    rustix::fs::CWD,
                    &impostor,
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let locked = format!("--locked={}", lock.display());
    let mut impostor_runs = 0;
    let mut refused_directory = 0;
    let mut served = 0;
    for run in 0..200 {
        // Half the runs with the directory check, half without: then only
        // the check of the one descriptor loaded stands in the way.
        let mut command = floe_in(&plugins);
        if run % 2 == 1 {
            command.arg("--allow-insecure-permissions");
        }
        let output = command
            .args([locked.as_str(), "exporter-config", "jaeger", "-o", "json"])
            .run_within(DEADLINE);
        if output.stdout.contains("impostor") {
            impostor_runs += 1;
        } else if output
            .stderr
            .contains("is writable by its group and everyone")
        {
            refused_directory += 1;
        } else if output.code() == 0 {
            served += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 100, "only {swaps} swaps");
    assert_eq!(impostor_runs, 0, "the impostor's config was printed");
    assert_eq!(
        refused_directory, 100,
        "the directory was not refused every time"
    );
    assert!(served > 0, "the real plugin was never served");
}
