//! `cargo xtask dist`: builds floe-telemetry and every bundled plugin, and
//! packs them, with the manual page and shell completions, into a tarball
//! and a Debian package in `target/dist/`.
//!
//! ```text
//! cargo xtask dist [--profile PROFILE] [--out DIR]
//! ```
//!
//! The bundled plugins are the `cdylib` packages under `plugins/`, found
//! from `cargo metadata`, so a new backend there ships without touching
//! this file. The Debian package is made by `cargo-deb` (`cargo install
//! cargo-deb`) from a manifest written here, whose assets are the files
//! staged for the tarball: both packages hold the same bytes.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::Value;

const BINARY: &str = "floe-telemetry";
const TRIPLE: &str = "x86_64-unknown-linux-gnu";
/// The version of cargo-deb `.ci/run` installs and this was checked with.
const CARGO_DEB_INSTALL: &str =
    "cargo install cargo-deb --version 3.8.0 --locked --no-default-features --features gzip";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mut profile = "release".to_owned();
    let mut out = None;
    let mut args = args.iter();
    match args.next().map(String::as_str) {
        Some("dist") => {}
        Some(other) => return Err(format!("unknown task {other:?}; the task is `dist`")),
        None => return Err("usage: cargo xtask dist [--profile PROFILE] [--out DIR]".into()),
    }
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--profile" => profile = value()?,
            "--out" => out = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    dist(&profile, out)
}

/// What `cargo metadata` says about the workspace.
struct Workspace {
    root: PathBuf,
    target_dir: PathBuf,
    version: String,
    /// (package name, library name) of every bundled plugin.
    plugins: Vec<(String, String)>,
}

fn workspace() -> Result<Workspace, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_owned();
    let output = cargo()
        .current_dir(&root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let version = packages
        .iter()
        .find(|package| package["name"] == "floe-host")
        .and_then(|package| package["version"].as_str())
        .ok_or("cargo metadata lists no floe-host package")?
        .to_owned();
    let plugins_dir = root.join("plugins");
    let mut plugins: Vec<(String, String)> = packages
        .iter()
        .filter(|package| {
            package["manifest_path"]
                .as_str()
                .is_some_and(|path| Path::new(path).starts_with(&plugins_dir))
        })
        .filter_map(|package| {
            let library = package["targets"].as_array()?.iter().find(|target| {
                target["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "cdylib"))
            })?;
            Some((
                package["name"].as_str()?.to_owned(),
                library["name"].as_str()?.replace('-', "_"),
            ))
        })
        .collect();
    plugins.sort();
    if plugins.is_empty() {
        return Err(format!("no cdylib package under {}", plugins_dir.display()));
    }
    let target_dir = PathBuf::from(
        metadata["target_directory"]
            .as_str()
            .ok_or("cargo metadata gives no target_directory")?,
    );
    Ok(Workspace {
        root,
        target_dir,
        version,
        plugins,
    })
}

fn dist(profile: &str, out: Option<PathBuf>) -> Result<(), String> {
    let workspace = workspace()?;
    let mut build = cargo();
    build
        .current_dir(&workspace.root)
        .args(["build", "--profile", profile, "-p", "floe-host"]);
    for (package, _) in &workspace.plugins {
        build.args(["-p", package]);
    }
    run_command(&mut build)?;
    let built = workspace
        .target_dir
        .join(if profile == "dev" { "debug" } else { profile });

    let out = out.unwrap_or_else(|| workspace.target_dir.join("dist"));
    let name = format!("{BINARY}-{}-{TRIPLE}", workspace.version);
    let stage = out.join(&name);
    remove_dir(&stage)?;
    install(&built.join(BINARY), &stage.join("bin").join(BINARY), 0o755)?;
    let plugins_dir = stage.join("lib/floe-telemetry/plugins");
    for (_, library) in &workspace.plugins {
        let file = format!("lib{library}.so");
        install(&built.join(&file), &plugins_dir.join(&file), 0o644)?;
    }
    let binary = stage.join("bin").join(BINARY);
    for (args, path) in [
        (
            &["completions", "bash"][..],
            "share/bash-completion/completions/floe-telemetry",
        ),
        (
            &["completions", "zsh"][..],
            "share/zsh/site-functions/_floe-telemetry",
        ),
        (
            &["completions", "fish"][..],
            "share/fish/vendor_completions.d/floe-telemetry.fish",
        ),
        (&["manpage"][..], "share/man/man1/floe-telemetry.1"),
    ] {
        let output = Command::new(&binary)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        if !output.status.success() || output.stdout.is_empty() {
            return Err(format!(
                "{} {} failed:\n{}",
                binary.display(),
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        write(&stage.join(path), &output.stdout, 0o644)?;
    }
    for file in ["README.md", "LICENSE"] {
        install(&workspace.root.join(file), &stage.join(file), 0o644)?;
    }

    directories_0755(&stage)?;
    let tarball = out.join(format!("{name}.tar.gz"));
    run_command(
        Command::new("tar")
            .args(["--sort=name", "--owner=0", "--group=0", "--numeric-owner"])
            .arg("-czf")
            .arg(&tarball)
            .arg("-C")
            .arg(&out)
            .arg(&name),
    )?;
    eprintln!("wrote {}", tarball.display());
    let deb = debian_package(&workspace, &stage, &out)?;
    eprintln!("wrote {}", deb.display());
    Ok(())
}

/// Makes the Debian package of the files in `stage` with cargo-deb, from a
/// manifest of its own: the crate is `floe-host`, the package
/// `floe-telemetry`.
fn debian_package(workspace: &Workspace, stage: &Path, out: &Path) -> Result<PathBuf, String> {
    let dir = out.join("deb-manifest");
    remove_dir(&dir)?;
    let man = dir.join("floe-telemetry.1.gz");
    write(&dir.join("lib.rs"), b"", 0o644)?;
    let page =
        fs::read(stage.join("share/man/man1/floe-telemetry.1")).map_err(|e| e.to_string())?;
    write(&man, &gzip(&page)?, 0o644)?;
    let asset = |source: &Path, target: &str, mode: &str| {
        format!(
            "    [{}, \"{target}\", \"{mode}\"],\n",
            Value::String(source.display().to_string())
        )
    };
    let mut assets = String::new();
    assets += &asset(&stage.join("bin").join(BINARY), "usr/bin/", "755");
    assets += &asset(
        &stage.join("lib/floe-telemetry/plugins/*.so"),
        "usr/lib/floe-telemetry/plugins/",
        "644",
    );
    assets += &asset(&man, "usr/share/man/man1/", "644");
    for (source, target) in [
        (
            "share/bash-completion/completions/floe-telemetry",
            "usr/share/bash-completion/completions/",
        ),
        (
            "share/zsh/site-functions/_floe-telemetry",
            "usr/share/zsh/vendor-completions/",
        ),
        (
            "share/fish/vendor_completions.d/floe-telemetry.fish",
            "usr/share/fish/vendor_completions.d/",
        ),
        ("README.md", "usr/share/doc/floe-telemetry/"),
    ] {
        assets += &asset(&stage.join(source), target, "644");
    }
    let manifest = format!(
        r#"# Written by `cargo xtask dist` for cargo-deb; not part of the workspace.
[package]
name = "floe-telemetry"
version = "{version}"
edition = "2024"
description = "Lists, checks and calls floe telemetry backend plugins"
license = "Apache-2.0"
license-file = "{license}"
publish = false

[lib]
path = "lib.rs"

[workspace]

[package.metadata.deb]
maintainer = "floe-telemetry developers"
copyright = "floe-telemetry developers"
section = "utils"
priority = "optional"
depends = "libc6"
extended-description = """\
floe-telemetry finds the telemetry backend plugins of floe (Jaeger, Datadog, \
Grafana Cloud, ...) and composes OpenTelemetry Collector configurations and \
Helm values from them."""
assets = [
{assets}]
"#,
        version = workspace.version,
        license = workspace.root.join("LICENSE").display(),
    );
    write(&dir.join("Cargo.toml"), manifest.as_bytes(), 0o644)?;
    let deb = out.join(format!("{BINARY}_{}-1_amd64.deb", workspace.version));
    let mut command = cargo();
    command
        .arg("deb")
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        // gzip: cargo-deb built with only its `gzip` feature, as .ci/run
        // installs it (the xz one compiles liblzma), can make it.
        .args([
            "--no-build",
            "--no-strip",
            "--quiet",
            "--compress-type",
            "gz",
        ])
        .arg("--output")
        .arg(&deb)
        // The generated package is a workspace of its own, with no target
        // directory worth keeping.
        .env("CARGO_TARGET_DIR", dir.join("target"));
    match command.output() {
        Ok(output) if output.status.success() => {}
        Ok(output) if String::from_utf8_lossy(&output.stderr).contains("no such command") => {
            return Err(format!(
                "cargo-deb is not installed; install it with `{CARGO_DEB_INSTALL}`"
            ));
        }
        Ok(output) => {
            return Err(format!(
                "cargo deb failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Err(error) => return Err(format!("cannot run cargo deb: {error}")),
    }
    remove_dir(&dir)?;
    Ok(deb)
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    // -n: no name or time stamp, so the same page packs to the same bytes.
    let mut child = Command::new("gzip")
        .args(["-9n"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(data)
        .map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok(output.stdout)
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run_command(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

fn remove_dir(dir: &Path) -> Result<(), String> {
    match fs::remove_dir_all(dir) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {error}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Copies `from` to `to` with `mode`, creating its directories (0755).
fn install(from: &Path, to: &Path, mode: u32) -> Result<(), String> {
    let data = fs::read(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    write(to, &data, mode)
}

fn write(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    let error = |e: io::Error| format!("cannot write {}: {e}", path.display());
    fs::create_dir_all(path.parent().expect("a file in a directory")).map_err(error)?;
    fs::write(path, data).map_err(error)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(error)
}

/// Sets every directory in `dir`, and `dir`, to 0755: the package's modes,
/// not the umask's.
fn directories_0755(dir: &Path) -> Result<(), String> {
    let error = |e: io::Error| format!("cannot set the mode of {}: {e}", dir.display());
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(error)?;
    for entry in fs::read_dir(dir).map_err(error)? {
        let entry = entry.map_err(error)?;
        if entry.file_type().map_err(error)?.is_dir() {
            directories_0755(&entry.path())?;
        }
    }
    Ok(())
}
