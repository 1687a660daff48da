//! Where the plugin process runs: beside the host, on a CPU the host is not
//! using, when the host may use more than one; on the host's own CPU, still
//! answering, when it may not.

use std::collections::BTreeSet;

use floe_telemetry_tests::{Dir, fixture_plugin, read_to_string};
use rustix::thread::{CpuSet, sched_getaffinity};

use crate::util::floe_in;

/// `0-2,5` as {0, 1, 2, 5}: the kernel's list format.
fn parse_cpu_list(list: &str) -> BTreeSet<usize> {
    let number = |text: &str| {
        text.trim()
            .parse::<usize>()
            .unwrap_or_else(|_| panic!("not a CPU list: {list:?}"))
    };
    list.trim()
        .split(',')
        .flat_map(|part| match part.split_once('-') {
            Some((first, last)) => number(first)..=number(last),
            None => number(part)..=number(part),
        })
        .collect()
}

/// The CPUs the loading process of `check` may run on, as the marks-load
/// fixture recorded them, the binary run as `configure` says.
fn where_the_plugin_loaded(
    configure: impl FnOnce(&mut floe_telemetry_tests::TestCommand),
) -> BTreeSet<usize> {
    let dir = Dir::new();
    let plugins = dir.create_dir("plugins");
    dir.copy(
        fixture_plugin("marks-load"),
        plugins.join("libfloe_fixture_marks_load.so"),
    );
    let markers = dir.create_dir("markers");
    let mut command = floe_in(&plugins);
    command
        .env("FLOE_FIXTURE_MARKER_DIR", &markers)
        .args(["check", "-o", "json"]);
    configure(&mut command);
    command.run().assert_success();
    parse_cpu_list(&read_to_string(markers.join("marks-load-loaded")))
}

#[test]
fn cpu_lists_are_read_as_the_kernel_writes_them() {
    assert_eq!(parse_cpu_list("0-2,5\n"), BTreeSet::from([0, 1, 2, 5]));
    assert_eq!(parse_cpu_list("3"), BTreeSet::from([3]));
}

#[test]
fn the_plugin_process_runs_beside_the_host_on_another_cpu() {
    let allowed: BTreeSet<usize> = {
        let set = sched_getaffinity(None).expect("this process's CPUs");
        (0..CpuSet::MAX_CPU)
            .filter(|&cpu| set.is_set(cpu))
            .collect()
    };
    let first = *allowed.first().expect("at least one CPU");

    // Free to use every CPU this test may: the plugin process gets all but
    // the one the host forked it on. (CI machines have two or more; on a
    // machine with one, it has nowhere else to go.)
    let placed = where_the_plugin_loaded(|_| {});
    if allowed.len() > 1 {
        assert_eq!(placed.len(), allowed.len() - 1, "{placed:?} of {allowed:?}");
        assert!(placed.is_subset(&allowed), "{placed:?} of {allowed:?}");
    } else {
        assert_eq!(placed, allowed);
    }

    // Held to one CPU, the host keeps the process there, and the command
    // still works: neither side polls for a CPU the other needs.
    let placed = where_the_plugin_loaded(|command| {
        command.on_cpu(first);
    });
    assert_eq!(placed, BTreeSet::from([first]));
}
