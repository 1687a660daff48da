//! Every shell command in README.md and docs/*.md runs as written.
//!
//! Fenced blocks marked ```sh or ```console are run, in file order, by bash
//! with `set -e`, each file's blocks in one scratch directory of their own
//! (so a block may use a file an earlier one wrote), with the workspace's
//! `floe-telemetry` first on `PATH` and its bundled plugins beside it. In a
//! `console` block only the lines starting with `$ ` are commands; the rest
//! is the output shown. A block that must not run here (it needs a cluster,
//! the network, root, or a release package) is marked ```sh no-run (or
//! ```console no-run), and its first line is a `#` comment saying why.
//!
//! The scratch directory starts with `libfloe_backend_acme.so`, the
//! third-party plugin of `third_party.rs`, for the examples that install,
//! sign or pin a plugin of one's own.

use std::path::{Path, PathBuf};
use std::process::Command;

use floe_telemetry_tests::{Dir, floe_telemetry_binary, read_to_string, workspace_root};

use crate::third_party::acme_library;

/// One fenced block.
struct Block {
    file: PathBuf,
    /// The line of its opening fence, from 1.
    line: usize,
    /// Marked `sh`, `bash` or `console`.
    shell: bool,
    console: bool,
    /// Not marked `no-run`.
    run: bool,
    body: Vec<String>,
}

fn blocks(file: &Path) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in read_to_string(file).lines().enumerate() {
        let trimmed = line.trim_start();
        match (open.take(), trimmed.strip_prefix("```")) {
            (Some(block), Some(_)) => found.push(block),
            (Some(mut block), None) => {
                block.body.push(line.to_owned());
                open = Some(block);
            }
            (None, Some(info)) => {
                let mut words = info.split_whitespace();
                let language = words.next().unwrap_or("");
                open = Some(Block {
                    file: file.to_owned(),
                    line: index + 1,
                    shell: matches!(language, "sh" | "bash" | "console"),
                    console: language == "console",
                    run: !words.any(|word| word == "no-run"),
                    body: Vec::new(),
                });
            }
            (None, None) => {}
        }
    }
    assert!(
        open.is_none(),
        "{}: a fence is never closed",
        file.display()
    );
    found.retain(|block| block.shell);
    found
}

fn documents() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("a docs directory")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The script a block runs: its commands, stopping at the first failure
/// and saying which.
fn script(block: &Block) -> String {
    let mut script =
        String::from("set -eo pipefail\ntrap 'echo \"failed: $BASH_COMMAND\" >&2' ERR\n");
    if block.console {
        // A command goes on past its line after a `\`, and through the
        // body of a here-document.
        let mut continued = false;
        let mut heredoc: Option<String> = None;
        for line in &block.body {
            let command = if let Some(end) = &heredoc {
                if line.trim() == end {
                    heredoc = None;
                }
                Some(line.as_str())
            } else if continued {
                Some(line.as_str())
            } else {
                line.strip_prefix("$ ")
            };
            let Some(command) = command else { continue };
            script.push_str(command);
            script.push('\n');
            continued = command.ends_with('\\');
            if let Some((_, word)) = command.split_once("<<") {
                let word = word.trim_start_matches('-').split_whitespace().next();
                heredoc = word.map(|word| word.trim_matches(['\'', '"']).to_owned());
            }
        }
    } else {
        for line in &block.body {
            script.push_str(line);
            script.push('\n');
        }
    }
    script
}

#[test]
fn every_shell_command_in_the_documentation_runs() {
    let binary = floe_telemetry_binary();
    let bin_dir = binary.parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin_dir.to_owned()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let mut failures = Vec::new();
    let mut ran = 0;
    for file in documents() {
        let scratch = Dir::new();
        let home = scratch.create_dir("home");
        let work = scratch.create_dir("work");
        scratch.copy(acme_library(), "work/libfloe_backend_acme.so");
        for block in blocks(&file) {
            let place = format!("{}:{}", block.file.display(), block.line);
            if !block.run {
                let reason = block.body.first().map(|l| l.trim_start()).unwrap_or("");
                if !reason.starts_with("# ") && !reason.starts_with("$ # ") {
                    failures.push(format!(
                        "{place}: a no-run block must say why in its first line (`# ...`)"
                    ));
                }
                continue;
            }
            ran += 1;
            let output = Command::new("bash")
                .arg("-c")
                .arg(script(&block))
                .current_dir(&work)
                .env("PATH", &path)
                .env("HOME", &home)
                .env("XDG_CONFIG_HOME", home.join(".config"))
                .env("XDG_DATA_HOME", home.join(".local/share"))
                .env_remove("FLOE_PLUGIN_PATH")
                .env_remove("FLOE_TELEMETRY_CONFIG")
                .env_remove("FLOE_TELEMETRY_LOCKED")
                .env_remove("RUST_LOG")
                .output()
                .expect("run bash");
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                failures.push(format!(
                    "{place}: {}\n    {}",
                    output.status,
                    tail.join("\n    ")
                ));
            }
        }
    }
    assert!(ran > 0, "no shell block found in the documentation");
    assert!(
        failures.is_empty(),
        "{} documented command block(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
