//! Opening plugin libraries: the only `unsafe` code in floe-telemetry.
//!
//! Loading a shared library runs its initialisers and trusts its exported
//! symbols to be what their names say. Nothing can make that safe against a
//! hostile file in-process; what this module does is keep each step small and
//! ordered so that a wrong file is refused at the first step that can tell:
//!
//! 1. `dlopen` with `RTLD_NOW`, so unresolved symbols fail here and not in
//!    the middle of a call;
//! 2. read the plain-data API version tag, without calling any plugin code;
//! 3. (the caller checks that version;)
//! 4. hand abi_stable the root-module header: it checks its own version and
//!    the layout of the root module before we touch a single field.
//!
//! Libraries are never unloaded. The root module and every string it hands out
//! live in the library's memory for as long as the host uses them, and
//! unloading Rust libraries is unsound anyway (their thread-local destructors
//! would run after their code is gone).

use std::mem::ManuallyDrop;
use std::path::Path;

use abi_stable::library::{AbiHeaderRef, LibraryError, ROOT_MODULE_LOADER_NAME_WITH_NUL};
use floe_plugin_api::ApiVersion;
use floe_plugin_api::abi::{API_VERSION_SYMBOL, ApiVersionTag, BackendModuleRef, v1_0};
use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};

use crate::Error;

/// A library that has been opened and will stay mapped until the process ends.
pub(crate) struct OpenLibrary {
    library: ManuallyDrop<Library>,
}

impl OpenLibrary {
    /// Maps the library at `path` and runs its initialisers.
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        // SAFETY: dlopen runs the file's initialisers with the host's
        // privileges. That is the contract of in-process plugins: the file was
        // placed in a plugin directory by someone the user trusts. RTLD_LOCAL
        // keeps its symbols from resolving anybody else's.
        let library =
            unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }.map_err(|error| {
                Error::NotALibrary {
                    reason: loader_reason(&error, path),
                }
            })?;
        Ok(Self {
            library: ManuallyDrop::new(library),
        })
    }

    /// The plugin API version the library says it was built against.
    pub(crate) fn api_version(&self) -> Result<String, Error> {
        let not_floe = || Error::NotAFloePlugin {
            symbol: API_VERSION_SYMBOL,
        };
        let name = format!("{API_VERSION_SYMBOL}\0");
        // SAFETY: a data symbol's value is its address; `get` only looks it up.
        let address = unsafe { self.library.get::<*const ApiVersionTag>(name.as_bytes()) }
            .map_err(|_| not_floe())?;
        let address = *address;
        if address.is_null() {
            return Err(not_floe());
        }
        // SAFETY: the symbol is in the library's mapped data, and floe plugins
        // export it as an `ApiVersionTag`: 32 bytes of plain data with no
        // invalid bit patterns. A foreign symbol of the same name is caught by
        // the magic bytes below. `read_unaligned` copies it out without
        // assuming alignment.
        let tag = unsafe { address.read_unaligned() };
        match tag.version() {
            Some(version) => Ok(version.to_owned()),
            None if tag.magic != floe_plugin_api::abi::API_VERSION_MAGIC => Err(not_floe()),
            None => Err(Error::InvalidMetadata {
                field: "floe_api_version",
                reason: "the version tag is not UTF-8 text".to_owned(),
            }),
        }
    }

    /// The plugin's root module, once abi_stable has checked that its layout
    /// is the one of `api` (the version the plugin declares, already accepted
    /// by the host). Call only after the API version check: this runs code in
    /// the plugin.
    pub(crate) fn root_module(&self, api: ApiVersion) -> Result<BackendModuleRef, Error> {
        // SAFETY: abi_stable's header symbol is a static whose address is an
        // `AbiHeaderRef`; abi_stable itself reads it this way. `upgrade`
        // checks the header's magic and abi_stable version before trusting the
        // rest of it.
        let header = unsafe {
            self.library
                .get::<AbiHeaderRef>(ROOT_MODULE_LOADER_NAME_WITH_NUL.as_bytes())
        }
        .map_err(|_| Error::NotAFloePlugin {
            symbol: "abi_stable root module",
        })?;
        let header = *header;
        let lib_header = header.upgrade().map_err(abi_error)?;
        if api.minor > 0 {
            return lib_header
                .check_layout::<BackendModuleRef>()
                .map_err(abi_error);
        }
        // A 1.0 plugin has fewer fields than this host's root module, which
        // abi_stable's check refuses; check it against the 1.0 layout instead.
        lib_header
            .ensure_layout::<v1_0::BackendModuleRef>()
            .map_err(abi_error)?;
        // SAFETY: the layout was just checked to be API 1.0's, which is the
        // prefix of `BackendModuleRef` field for field (the ABI only ever
        // appends). The fields appended since are read only through accessors
        // that return `None` unless the plugin's own prefix metadata, which
        // travels with the pointer, marks them present; a 1.0 plugin's does not.
        unsafe { lib_header.unchecked_layout::<BackendModuleRef>() }
            .map_err(|error| abi_error(error.into_library_error::<BackendModuleRef>()))
    }
}

/// Checks the host's own root-module layout against itself: what a plugin
/// process does while it waits for its plugin, so that the layout checker's
/// code and data are in its page tables and its CPU's caches by the time the
/// plugin's layout is checked (a fork shares none of the host's mappings of
/// code, and the process runs on another CPU). Decides nothing.
pub(crate) fn rehearse_layout_check() {
    use abi_stable::StableAbi;
    use abi_stable::abi_stability::abi_checking::exported_check_layout_compatibility;
    let layout = <BackendModuleRef as StableAbi>::LAYOUT;
    let _ = exported_check_layout_compatibility(layout, layout);
}

fn abi_error(error: LibraryError) -> Error {
    match error {
        LibraryError::RootModule { err, .. } => Error::CallPanicked {
            call: crate::Call::Load,
            message: first_line(&err.to_string()),
        },
        other => {
            let report = other.to_string();
            tracing::debug!(%report, "abi_stable refused the layout");
            Error::AbiMismatch {
                details: summarize_abi_report(&report),
            }
        }
    }
}

/// abi_stable's layout report runs to dozens of lines of type dumps; users
/// need its first finding: `mismatched field name: expected "name", found "x"`.
fn summarize_abi_report(report: &str) -> String {
    let mut lines = report.lines().map(str::trim);
    let Some(finding) = lines.by_ref().find_map(|line| line.strip_prefix("Error:")) else {
        return first_line(report);
    };
    let mut next_after = |label: &str| {
        lines.by_ref().find(|line| *line == label)?;
        lines.by_ref().find(|line| !line.is_empty())
    };
    match (next_after("Expected:"), next_after("Found:")) {
        (Some(expected), Some(found)) => {
            first_line(&format!("{finding}: expected {expected}, found {found}"))
        }
        _ => first_line(finding),
    }
}

/// The system loader's message (libloading keeps it as the error's source),
/// without its leading copy of the path.
fn loader_reason(error: &libloading::Error, path: &Path) -> String {
    let text = match std::error::Error::source(error) {
        Some(source) => source.to_string(),
        None => error.to_string(),
    };
    let prefix = format!("{}: ", path.display());
    first_line(text.strip_prefix(&prefix).unwrap_or(&text))
}

/// abi_stable's reports run to dozens of lines; the first says what differs.
fn first_line(text: &str) -> String {
    const LIMIT: usize = 240;
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("unknown");
    match line.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_skips_blank_lines_and_truncates() {
        assert_eq!(first_line("\n  \n layout differs \nmore"), "layout differs");
        let long = "x".repeat(500);
        assert_eq!(first_line(&long).chars().count(), 241);
        assert_eq!(first_line(""), "unknown");
    }

    #[test]
    fn an_abi_report_is_summarized_by_its_first_finding() {
        let report = "Compared <this>:\n    BackendModule\nTo <other>:\n    BackendModule\n\
                      1 error(s).\n\nError:mismatched field name\nExpected:\n    floe_api_version\n\
                      Found:\n    name\n\nError:another\n";
        assert_eq!(
            summarize_abi_report(report),
            "mismatched field name: expected floe_api_version, found name"
        );
        assert_eq!(summarize_abi_report("\nsomething else\n"), "something else");
    }

    #[test]
    fn refuses_files_that_are_not_libraries() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty.so");
        std::fs::write(&empty, b"").unwrap();
        let Err(Error::NotALibrary { reason }) = OpenLibrary::open(&empty) else {
            panic!("an empty file opened as a library");
        };
        assert!(!reason.contains(&*tmp.path().to_string_lossy()), "{reason}");
        assert!(!reason.is_empty());
    }
}
