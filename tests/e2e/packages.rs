//! `cargo xtask dist`: the tarball and the Debian package, unpacked with
//! `tar` and `dpkg-deb` and run from where they landed, finding their
//! plugins by their own layout.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use floe_telemetry_tests::{Dir, TestCommand, cargo, target_dir, workspace_root};

use crate::util::{list_json, names, plugins};

/// cargo-deb, as `.ci/run` installs it.
const CARGO_DEB_INSTALL: &str =
    "cargo install cargo-deb --version 3.8.0 --locked --no-default-features --features gzip";

/// The backends bundled: one per directory under `plugins/`, named like it.
fn bundled_backends() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace_root().join("plugins"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The packages, built once for all the tests here with the dev profile
/// (the release build would take minutes; the layout is the same).
fn dist() -> &'static (PathBuf, PathBuf) {
    static DIST: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIST.get_or_init(|| {
        let found = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["deb", "--version"])
            .output();
        assert!(
            found.is_ok_and(|output| output.status.success()),
            "the package test needs cargo-deb: install it with `{CARGO_DEB_INSTALL}`"
        );
        // In the target directory, not a temporary one: the statics holding
        // it are never dropped, and the next run starts it afresh.
        let out = target_dir().join("e2e-dist");
        let _ = std::fs::remove_dir_all(&out);
        let output = cargo()
            .args(["xtask", "dist", "--profile", "dev", "--out"])
            .arg(&out)
            .output()
            .expect("run cargo xtask");
        assert!(
            output.status.success(),
            "cargo xtask dist failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let file = |suffix: &str| {
            std::fs::read_dir(&out)
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .find(|path| path.to_string_lossy().ends_with(suffix))
                .unwrap_or_else(|| panic!("no *{suffix} in {}", out.display()))
        };
        let tarball = file("-x86_64-unknown-linux-gnu.tar.gz");
        let deb = file("_amd64.deb");
        (tarball, deb)
    })
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs the unpacked `binary` from an unrelated directory, with an empty
/// home: it must list every bundled backend from `plugin_dir` and render
/// a configuration.
fn assert_works_from_its_own_layout(binary: &Path, plugin_dir: &Path) {
    let scratch = Dir::new();
    let home = scratch.create_dir("home");
    let elsewhere = scratch.create_dir("elsewhere");
    let floe = || {
        let mut command = TestCommand::with_binary(binary);
        command
            .current_dir(&elsewhere)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"));
        command
    };
    let (list, output) = list_json(&mut floe());
    assert_eq!(names(&list), bundled_backends(), "{output}");
    for plugin in plugins(&list) {
        let path = Path::new(plugin["path"].as_str().unwrap());
        assert_eq!(path.parent().unwrap(), plugin_dir, "{list:#}");
    }

    let config = scratch.write(
        "telemetry.yaml",
        "backends:\n  - backend: jaeger\n  - backend: datadog\n    config: {site: datadoghq.eu}\n",
    );
    let output = floe()
        .args(["render", "collector", "-c"])
        .arg(&config)
        .run();
    output.assert_success();
    assert!(
        output.stdout.contains("otlp/jaeger") && output.stdout.contains("datadoghq.eu"),
        "{output}"
    );
}

#[test]
fn the_tarball_runs_from_wherever_it_is_unpacked() {
    let (tarball, _) = dist();
    let scratch = Dir::new();
    run(Command::new("tar")
        .arg("xzf")
        .arg(tarball)
        .arg("-C")
        .arg(scratch.path()));
    let name = tarball
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches(".tar.gz");
    let root = scratch.join(name);
    for file in [
        "README.md",
        "LICENSE",
        "share/man/man1/floe-telemetry.1",
        "share/bash-completion/completions/floe-telemetry",
        "share/zsh/site-functions/_floe-telemetry",
        "share/fish/vendor_completions.d/floe-telemetry.fish",
    ] {
        assert!(
            root.join(file).is_file(),
            "no {file} in {}",
            tarball.display()
        );
    }
    assert_works_from_its_own_layout(
        &root.join("bin/floe-telemetry"),
        &root.join("lib/floe-telemetry/plugins"),
    );
}

#[test]
fn the_debian_package_installs_plugins_where_the_binary_looks() {
    let (_, deb) = dist();
    let contents = run(Command::new("dpkg-deb").arg("-c").arg(deb));
    let mut plugin_files = 0;
    for line in contents.lines() {
        let (mode, path) = (
            line.split_whitespace().next().unwrap(),
            line.rsplit(' ').next().unwrap(),
        );
        if path.starts_with("./usr/lib/floe-telemetry/plugins/") && path.ends_with(".so") {
            assert_eq!(mode, "-rw-r--r--", "{line}");
            plugin_files += 1;
        }
        if mode.starts_with('d') {
            assert_eq!(mode, "drwxr-xr-x", "{line}");
        }
    }
    assert_eq!(plugin_files, bundled_backends().len(), "{contents}");
    for file in [
        "./usr/bin/floe-telemetry",
        "./usr/share/man/man1/floe-telemetry.1.gz",
        "./usr/share/bash-completion/completions/floe-telemetry",
        "./usr/share/zsh/vendor-completions/_floe-telemetry",
        "./usr/share/fish/vendor_completions.d/floe-telemetry.fish",
    ] {
        assert!(contents.contains(file), "no {file}:\n{contents}");
    }

    let root = Dir::new();
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(root.path()));
    assert_works_from_its_own_layout(
        &root.join("usr/bin/floe-telemetry"),
        &root.join("usr/lib/floe-telemetry/plugins"),
    );
}
