//! `docs/deploying.md` works as written: its `sh` blocks run, in order, in
//! one directory, with the built `floe-telemetry` first on `PATH` (its
//! bundled plugins beside it). Only the commands that need a cluster,
//! `kubectl` and `helm`, are left out. The values file it shows is the one
//! its commands write.

use std::process::Command;

use floe_telemetry_tests::{Dir, debug_dir, floe_telemetry_binary, read_to_string, workspace_root};

/// The fenced blocks of `markdown` whose info string is `language`.
fn blocks<'a>(markdown: &'a str, language: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<Vec<&'a str>> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start() == format!("```{language}") => current = Some(Vec::new()),
            Some(lines) if line.trim_start() == "```" => {
                out.push(lines.join("\n") + "\n");
                current = None;
            }
            Some(lines) => lines.push(line),
            None => {}
        }
    }
    out
}

/// `script` without its logical lines (continuations joined) that start
/// with a cluster command.
fn without_cluster_commands(script: &str) -> (String, usize) {
    let mut kept = Vec::new();
    let mut skipped = 0;
    let mut logical = String::new();
    let mut in_heredoc: Option<String> = None;
    for line in script.lines() {
        if let Some(end) = &in_heredoc {
            kept.push(line.to_owned());
            if line == end {
                in_heredoc = None;
            }
            continue;
        }
        logical.push_str(line);
        logical.push('\n');
        if line.ends_with('\\') {
            continue;
        }
        let first = logical.split_whitespace().next().unwrap_or_default();
        if matches!(first, "kubectl" | "helm") {
            skipped += 1;
        } else {
            if let Some((_, end)) = logical.split_once("<<'") {
                in_heredoc = end.split('\'').next().map(str::to_owned);
            }
            kept.push(logical.trim_end().to_owned());
        }
        logical.clear();
    }
    (kept.join("\n") + "\n", skipped)
}

#[test]
fn the_deploying_walkthrough_runs_as_written() {
    let doc = read_to_string(workspace_root().join("docs/deploying.md"));
    floe_telemetry_binary();
    let dir = Dir::new();
    let path = format!(
        "{}:{}",
        debug_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let scripts = blocks(&doc, "sh");
    assert!(scripts.len() >= 3, "{scripts:#?}");
    let (mut ran, mut skipped) = (0, 0);
    for script in &scripts {
        let (script, left_out) = without_cluster_commands(script);
        skipped += left_out;
        ran += script
            .lines()
            .filter(|l| l.starts_with("floe-telemetry "))
            .count();
        let output = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env_remove("FLOE_TELEMETRY_CONFIG")
            .env_remove("FLOE_PLUGIN_PATH")
            .output()
            .expect("run bash");
        assert!(
            output.status.success(),
            "{script}\nfailed with {}:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(ran, 3, "floe-telemetry commands run");
    assert_eq!(skipped, 0, "cluster commands are only in no-run blocks");
    assert_eq!(
        blocks(&doc, "sh no-run").len(),
        2,
        "the kubectl and helm blocks"
    );

    // The values shown are the values written.
    let values = read_to_string(dir.join("values.yaml"));
    assert!(values.contains("floe-telemetry-datadog"), "{values}");
    assert!(
        blocks(&doc, "yaml").contains(&values),
        "docs/deploying.md does not show the values its commands write:\n{values}"
    );
    let from_manifest = read_to_string(dir.join("values-from-manifest.yaml"));
    assert!(
        from_manifest.contains("name: datadog-credentials"),
        "{from_manifest}"
    );
}
