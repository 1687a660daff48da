//! The section index: the metadata sections of a large plugin directory,
//! remembered in the user's cache directory so that later commands need not
//! read every file again; never trusted for a file changed since, nor when
//! the index itself could have been written by someone else.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use floe_telemetry_tests::{Dir, TestCommand, TestOutput, bundled_plugin, relabelled};
use serde_json::Value;

use crate::util::{floe_in, mkfifo, names};

/// Relabelled copies of jaeger in the large directory: more than a
/// directory needs to be indexed.
const COPIES: usize = 40;

/// A plugin directory of [`COPIES`] files declaring `b00001`, `b00002`...,
/// and `libfloe_backend_z.so`, a copy of datadog; left alone long enough
/// for the index to record them.
fn large_dir(dir: &Dir) -> PathBuf {
    let plugins = dir.create_dir("plugins");
    let jaeger = bundled_plugin("jaeger");
    for number in 1..=COPIES {
        let name = format!("b{number:05}");
        fs::write(
            plugins.join(format!("libfloe_backend_{name}.so")),
            relabelled(&jaeger, "jaeger", &name),
        )
        .unwrap();
    }
    dir.copy(bundled_plugin("datadog"), "plugins/libfloe_backend_z.so");
    // A file changed within the last two seconds is not indexed: its
    // times could not tell a change made in the same clock tick.
    std::thread::sleep(Duration::from_millis(2100));
    plugins
}

/// A [`large_dir`] in a new directory, with an empty cache directory
/// beside it: the directory (which removes both when dropped), the plugin
/// directory and the cache.
fn large_dir_and_cache() -> (Dir, PathBuf, PathBuf) {
    let dir = Dir::new();
    let plugins = large_dir(&dir);
    let cache = dir.create_dir("cache");
    (dir, plugins, cache)
}

/// `list -o json -vv` of `plugins`, with `cache` as the user's cache
/// directory; the listing and the run.
fn list(plugins: &Path, cache: &Path) -> (Value, TestOutput) {
    let output = floe_in(plugins)
        .env("XDG_CACHE_HOME", cache)
        .args(["-vv", "list", "-o", "json"])
        .run_within(Duration::from_secs(20));
    output.assert_success();
    (output.json(), output)
}

/// How many files were taken from the index in `output`.
fn indexed(output: &TestOutput) -> usize {
    output.stderr.matches("section as indexed").count()
}

/// The one index file in `cache`.
fn index_file(cache: &Path) -> PathBuf {
    let dir = cache.join("floe-telemetry/sections");
    let files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one index in {}: {files:?}", dir.display());
    files.into_iter().next().unwrap()
}

fn expected_names() -> Vec<String> {
    let mut expected: Vec<String> = (1..=COPIES).map(|n| format!("b{n:05}")).collect();
    expected.push("datadog".to_owned());
    expected
}

#[test]
fn a_large_directory_is_read_from_its_index_once_indexed() {
    let (_dir, plugins, cache) = large_dir_and_cache();

    let (first, run) = list(&plugins, &cache);
    assert_eq!(names(&first), expected_names(), "{run}");
    assert_eq!(indexed(&run), 0, "{run}");
    let index = index_file(&cache);
    assert_eq!(
        index.metadata().unwrap().permissions().mode() & 0o777,
        0o600
    );
    let sections = cache.join("floe-telemetry/sections");
    assert_eq!(
        sections.metadata().unwrap().permissions().mode() & 0o777,
        0o700
    );

    let (second, run) = list(&plugins, &cache);
    assert_eq!(indexed(&run), COPIES + 1, "{run}");
    assert_eq!(second, first);
}

#[test]
fn a_file_changed_since_it_was_indexed_is_read_again() {
    let (dir, plugins, cache) = large_dir_and_cache();
    list(&plugins, &cache);

    // Rewritten in place (same inode, same directory entry), and replaced
    // by another file under the same name.
    fs::write(
        plugins.join("libfloe_backend_z.so"),
        fs::read(bundled_plugin("console")).unwrap(),
    )
    .unwrap();
    let replacement = dir.write(
        "replacement.so",
        relabelled(bundled_plugin("jaeger"), "jaeger", "c00001"),
    );
    fs::rename(replacement, plugins.join("libfloe_backend_b00001.so")).unwrap();
    let (listing, run) = list(&plugins, &cache);

    let mut expected = expected_names();
    expected[0] = "c00001".to_owned();
    *expected.last_mut().unwrap() = "console".to_owned();
    assert_eq!(names(&listing), expected, "{run}");
    assert_eq!(indexed(&run), COPIES - 1, "{run}");
}

#[test]
fn an_index_that_is_not_safe_to_read_is_ignored_and_replaced() {
    let (_dir, plugins, cache) = large_dir_and_cache();
    let (expected, _) = list(&plugins, &cache);
    let index = index_file(&cache);

    // Writable by others: anyone could have put other sections there.
    fs::set_permissions(&index, fs::Permissions::from_mode(0o666)).unwrap();
    let (listing, run) = list(&plugins, &cache);
    assert_eq!(listing, expected, "{run}");
    assert_eq!(indexed(&run), 0, "{run}");
    assert!(run.stderr.contains("writable by others"), "{run}");
    // Written anew, as the user's alone.
    assert_eq!(
        index.metadata().unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(indexed(&list(&plugins, &cache).1), COPIES + 1);

    // Truncated: not an index at all.
    let bytes = fs::read(&index).unwrap();
    fs::write(&index, &bytes[..bytes.len() / 2]).unwrap();
    let (listing, run) = list(&plugins, &cache);
    assert_eq!(listing, expected, "{run}");
    assert_eq!(indexed(&run), 0, "{run}");

    // Neither a named pipe nor a link to a device holds up a command.
    for (what, make) in [
        ("a named pipe", (|path: &Path| mkfifo(path)) as fn(&Path)),
        ("a link to /dev/zero", |path: &Path| {
            std::os::unix::fs::symlink("/dev/zero", path).unwrap()
        }),
    ] {
        fs::remove_file(&index).unwrap();
        make(&index);
        let (listing, run) = list(&plugins, &cache);
        assert_eq!(listing, expected, "{what}: {run}");
        assert_eq!(indexed(&run), 0, "{what}: {run}");
    }
}

#[test]
fn a_cache_directory_others_can_write_is_not_used() {
    let (_dir, plugins, cache) = large_dir_and_cache();
    let (expected, _) = list(&plugins, &cache);
    assert_eq!(indexed(&list(&plugins, &cache).1), COPIES + 1);

    let sections = cache.join("floe-telemetry/sections");
    fs::set_permissions(&sections, fs::Permissions::from_mode(0o777)).unwrap();
    let (listing, run) = list(&plugins, &cache);
    assert_eq!(listing, expected, "{run}");
    assert_eq!(indexed(&run), 0, "{run}");
    assert!(
        run.stderr
            .contains("is writable by its group and everyone, who could replace the index"),
        "{run}"
    );
}

#[test]
fn without_a_cache_directory_everything_is_read() {
    let dir = Dir::new();
    let plugins = large_dir(&dir);

    // TestCommand's cache directory is in a directory that does not
    // exist: it is not created.
    let output = TestCommand::new()
        .no_default_plugin_dirs()
        .plugin_dir(&plugins)
        .args(["-vv", "list", "-o", "json"])
        .run();
    output.assert_success();
    assert_eq!(names(&output.json()), expected_names());
    assert_eq!(indexed(&output), 0, "{output}");
}

#[test]
fn a_link_in_a_large_directory_is_read_each_time_and_never_indexed() {
    let (_dir, plugins, cache) = large_dir_and_cache();
    std::os::unix::fs::symlink(
        "libfloe_backend_z.so",
        plugins.join("libfloe_backend_zz.so"),
    )
    .unwrap();
    list(&plugins, &cache);
    let (_, run) = list(&plugins, &cache);
    assert_eq!(indexed(&run), COPIES + 1, "{run}");
    let written = index_file(&cache).metadata().unwrap();

    // Nothing new was learnt, so nothing is written: a link is looked up
    // through, never recorded under its own name.
    list(&plugins, &cache);
    let after = index_file(&cache).metadata().unwrap();
    use std::os::unix::fs::MetadataExt as _;
    assert_eq!(
        (after.ino(), after.mtime_nsec()),
        (written.ino(), written.mtime_nsec())
    );
}
