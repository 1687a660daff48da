//! `floe-telemetry new-plugin NAME`: a plugin crate that builds, passes the
//! plugin rules and loads, to start from.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use floe_plugin_api::FLOE_API_VERSION;

/// This repository, where the unpublished crates are found by path; baked
/// in at build time, and used only when it is still there.
const REPOSITORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The versions of the crates this host was built with.
const API_CRATE_VERSION: &str = floe_plugin_api::CRATE_VERSION;
const TEST_CRATE_VERSION: &str = floe_plugin_test::CRATE_VERSION;

const TEMPLATES: [(&str, &str); 4] = [
    ("Cargo.toml", include_str!("template/Cargo.toml.in")),
    ("src/lib.rs", include_str!("template/lib.rs.in")),
    ("README.md", include_str!("template/README.md.in")),
    (".gitignore", include_str!("template/gitignore.in")),
];

/// Writes the crate for backend `name` into `path` (default
/// `./floe-backend-NAME`), which must not exist or be empty.
pub fn new_plugin(name: &str, path: Option<&Path>) -> ExitCode {
    if !floe_plugin_test::is_backend_name(name) {
        eprintln!(
            "error: {name:?} is not a backend name: 1 to 64 of `a-z`, `0-9` and `-`, starting \
             with a letter (e.g. `acme-cloud`)"
        );
        return ExitCode::from(2);
    }
    let dir = path.map_or_else(
        || PathBuf::from(format!("floe-backend-{name}")),
        Path::to_owned,
    );
    if fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some()) {
        eprintln!(
            "error: {}: not empty; give another directory with --path",
            dir.display()
        );
        return ExitCode::from(2);
    }
    for (file, template) in TEMPLATES {
        let target = dir.join(file);
        let written = target
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(&target, fill(template, name)));
        if let Err(error) = written {
            eprintln!("error: {}: cannot write: {error}", target.display());
            return ExitCode::FAILURE;
        }
    }
    eprintln!(
        "wrote the floe-backend-{name} crate in {}; `cargo test` there checks it, and \
         `floe-telemetry check-plugin` checks the library it builds",
        dir.display()
    );
    ExitCode::SUCCESS
}

fn fill(template: &str, name: &str) -> String {
    let id = name.replace('-', "_");
    template
        .replace("@API_DEPENDENCY@", &api_dependency())
        .replace("@TEST_DEPENDENCY@", &test_dependency())
        .replace("@CRATE_VERSION@", API_CRATE_VERSION)
        .replace("@API_VERSION@", FLOE_API_VERSION)
        .replace("@ENV_PREFIX@", &id.to_ascii_uppercase())
        .replace("@ID@", &id)
        .replace("@NAME@", name)
}

/// `~MAJOR.MINOR` of a crate version: the pin the documentation advises.
fn pin(version: &str) -> String {
    let mut parts = version.split('.');
    format!(
        "~{}.{}",
        parts.next().unwrap_or("1"),
        parts.next().unwrap_or("0")
    )
}

/// The crates by path while this repository is where the host was built,
/// else from crates.io.
fn dependency(krate: &str, dir: &str, version: &str) -> String {
    let path = Path::new(REPOSITORY).join(dir);
    let pinned = pin(version);
    match path.canonicalize() {
        Ok(path) if path.join("Cargo.toml").is_file() => format!(
            "# Not on crates.io yet: by path to the floe-telemetry repository. Once published:\n\
             # {krate} = \"{pinned}\"\n\
             {krate} = {{ path = {:?}, version = \"{pinned}\" }}",
            path.display().to_string()
        ),
        _ => format!(
            "# Before it is on crates.io, use a path, git or vendored copy instead; see\n\
             # docs/writing-a-plugin.md of floe-telemetry.\n\
             {krate} = \"{pinned}\""
        ),
    }
}

fn api_dependency() -> String {
    dependency("floe-plugin-api", "plugin-api", API_CRATE_VERSION)
}

fn test_dependency() -> String {
    dependency("floe-plugin-test", "plugin-test", TEST_CRATE_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_the_minor_version() {
        assert_eq!(pin("1.2.0"), "~1.2");
        assert_eq!(pin("0.1.7"), "~0.1");
    }

    #[test]
    fn every_placeholder_is_filled() {
        for (file, template) in TEMPLATES {
            let filled = fill(template, "acme-cloud");
            assert!(!filled.contains('@'), "{file}:\n{filled}");
        }
        let lib = fill(TEMPLATES[1].1, "acme-cloud");
        assert!(lib.contains("\"otlphttp/acme_cloud\""));
        assert!(lib.contains("ACME_CLOUD_API_TOKEN"));
    }
}
