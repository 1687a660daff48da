//! Reading what `floe-telemetry` prints.

use std::path::{Path, PathBuf};

use floe_telemetry_tests::{BUNDLED, Dir, TestCommand, TestOutput, bundled_plugin, same_path};
use serde_json::Value;

/// `floe-telemetry` searching only `dir`.
pub fn floe_in(dir: impl AsRef<Path>) -> TestCommand {
    let mut command = TestCommand::new();
    command.no_default_plugin_dirs().plugin_dir(dir);
    command
}

/// Copies every bundled plugin, under its usual file name, into `relative`
/// inside `dir`; returns that directory.
pub fn copy_bundled(dir: &Dir, relative: &str) -> PathBuf {
    let plugins = dir.create_dir(relative);
    for name in BUNDLED {
        let source = bundled_plugin(name);
        dir.copy(&source, plugins.join(source.file_name().unwrap()));
    }
    plugins
}

/// Runs `list -o json` and checks it exited with 0.
pub fn list_json(command: &mut TestCommand) -> (Value, TestOutput) {
    let output = command.args(["list", "-o", "json"]).run();
    output.assert_success();
    (output.json(), output)
}

/// The `plugins` array of a `list -o json` document.
pub fn plugins(list: &Value) -> &[Value] {
    list["plugins"]
        .as_array()
        .unwrap_or_else(|| panic!("no plugins array in {list:#}"))
}

/// The `problems` array of a `list` or `check` JSON document.
pub fn problems(document: &Value) -> &[Value] {
    document["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems array in {document:#}"))
}

/// The `search_path` array of a `list -o json` document.
pub fn search_path(list: &Value) -> &[Value] {
    list["search_path"]
        .as_array()
        .unwrap_or_else(|| panic!("no search_path array in {list:#}"))
}

/// The plugins' names, in the order listed.
pub fn names(list: &Value) -> Vec<&str> {
    plugins(list)
        .iter()
        .map(|p| p["name"].as_str().expect("name is a string"))
        .collect()
}

/// The plugin called `name`; fails the test when there is not exactly one.
pub fn plugin<'a>(list: &'a Value, name: &str) -> &'a Value {
    let found: Vec<_> = plugins(list).iter().filter(|p| p["name"] == name).collect();
    assert_eq!(found.len(), 1, "expected one plugin {name} in {list:#}");
    found[0]
}

/// Asserts that the `path` field of `entry` names `expected`.
#[track_caller]
pub fn assert_path(entry: &Value, field: &str, expected: impl AsRef<Path>) {
    let actual = entry[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} string in {entry:#}"));
    assert!(
        same_path(actual, expected.as_ref()),
        "{field} is {actual}, expected {}",
        expected.as_ref().display()
    );
}

/// The problems of `kind` whose `path` names `path`.
pub fn problems_at<'a>(document: &'a Value, kind: &str, path: &Path) -> Vec<&'a Value> {
    problems(document)
        .iter()
        .filter(|p| p["kind"] == kind && p["path"].as_str().is_some_and(|at| same_path(at, path)))
        .collect()
}

/// Asserts there is exactly one problem of `kind` at `path`, and returns it.
#[track_caller]
pub fn the_problem<'a>(document: &'a Value, kind: &str, path: &Path) -> &'a Value {
    let found = problems_at(document, kind, path);
    assert_eq!(
        found.len(),
        1,
        "expected one {kind} problem at {}, got {document:#}",
        path.display()
    );
    found[0]
}

/// A table printed by `list`: the header's column names, then each row split
/// on runs of spaces.
pub fn table(stdout: &str) -> (Vec<&str>, Vec<Vec<&str>>) {
    let mut lines = stdout.lines().filter(|line| !line.trim().is_empty());
    let header = lines
        .next()
        .unwrap_or_else(|| panic!("no table in {stdout:?}"));
    (
        header.split_whitespace().collect(),
        lines.map(|l| l.split_whitespace().collect()).collect(),
    )
}

/// A SELF-HOSTED cell; the contract fixes the column, not its spelling, so
/// both yes/no and true/false are read.
pub fn yes_no(cell: &str) -> bool {
    match cell.to_ascii_lowercase().as_str() {
        "yes" | "true" => true,
        "no" | "false" => false,
        other => panic!("{other:?} is not a yes/no value"),
    }
}

/// The stderr lines that report a problem.
pub fn warnings(output: &TestOutput) -> Vec<&str> {
    output
        .stderr
        .lines()
        .filter(|line| line.starts_with("warning: "))
        .collect()
}

/// Asserts that some `warning: ` line on stderr names `path`.
#[track_caller]
pub fn assert_warning_about(output: &TestOutput, path: &Path) {
    let path = path.to_str().expect("test paths are UTF-8");
    assert!(
        warnings(output).iter().any(|line| line.contains(path)),
        "no warning line names {path}\n{output}"
    );
}

/// Makes a named pipe at `path`.
pub fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
}
