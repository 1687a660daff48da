//! Where plugins are looked for: the directory scan that stands in for
//! floe's `floe.telemetry_backends` entry point.

use std::ffi::OsStr;
use std::fs::FileType;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Error, Problem};

/// The environment variable holding extra plugin directories, `:`-separated.
pub const PLUGIN_PATH_ENV: &str = "FLOE_PLUGIN_PATH";

/// File name suffix of the platform's shared libraries.
pub const LIBRARY_SUFFIX: &str = std::env::consts::DLL_SUFFIX;

/// Why a directory is on the search path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DirSource {
    /// Named with `--plugin-dir`.
    #[serde(rename = "--plugin-dir")]
    Flag,
    /// Listed in [`PLUGIN_PATH_ENV`].
    #[serde(rename = "FLOE_PLUGIN_PATH")]
    Env,
    /// One of [`SearchPath::default_dirs`].
    #[serde(rename = "default")]
    Default,
}

/// One directory of the search path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchDir {
    /// The directory.
    pub dir: PathBuf,
    /// Why it is searched.
    pub source: DirSource,
}

/// The ordered list of plugin directories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SearchPath {
    dirs: Vec<SearchDir>,
    /// Each directory of `dirs` with its links resolved, computed once: the
    /// key that tells two spellings of a directory apart, and where the
    /// file checks start; `None` for a directory that cannot be resolved.
    #[serde(skip)]
    canonical: Vec<Option<PathBuf>>,
}

/// A file found in a plugin directory, with the type its directory entry
/// gives (read with the entry, no system call; a link is not followed).
#[derive(Debug)]
pub(crate) struct Candidate {
    /// The directory entry's path.
    pub(crate) path: PathBuf,
    /// The entry's own type: a link is a link here.
    pub(crate) file_type: FileType,
}

impl SearchPath {
    /// The search path floe-telemetry uses: each of `flag_dirs`, then each
    /// entry of `env_path` (the value of [`PLUGIN_PATH_ENV`]), then, when
    /// `with_defaults`, the [default directories](Self::default_dirs).
    /// A directory listed twice is searched once, at its first place.
    pub fn new(flag_dirs: &[PathBuf], env_path: Option<&OsStr>, with_defaults: bool) -> Self {
        let mut path = SearchPath::default();
        for dir in flag_dirs {
            path.push(dir.clone(), DirSource::Flag);
        }
        for dir in env_path.map(std::env::split_paths).into_iter().flatten() {
            // An empty entry (`a::b`) means nothing here, not the working directory.
            if !dir.as_os_str().is_empty() {
                path.push(dir, DirSource::Env);
            }
        }
        if with_defaults {
            for dir in Self::default_dirs() {
                path.push(dir, DirSource::Default);
            }
        }
        path
    }

    /// The directories searched unless told otherwise: the directory of the
    /// running executable (where cargo puts the bundled plugins beside
    /// `floe-telemetry`), then `<prefix>/lib/floe-telemetry/plugins` for an
    /// executable installed as `<prefix>/bin/floe-telemetry`, then the
    /// [per-user directory](Self::user_dir).
    pub fn default_dirs() -> Vec<PathBuf> {
        let Some(exe_dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.to_owned()))
        else {
            return Vec::new();
        };
        let mut dirs = vec![exe_dir.clone()];
        if let Some(prefix) = exe_dir.parent() {
            dirs.push(prefix.join("lib").join("floe-telemetry").join("plugins"));
        }
        dirs.extend(Self::user_dir());
        dirs
    }

    /// Where `floe-telemetry install --system` puts plugins:
    /// `<prefix>/lib/floe-telemetry/plugins` for the running
    /// `<prefix>/bin/floe-telemetry`.
    pub fn system_dir() -> Option<PathBuf> {
        let exe = std::env::current_exe().ok()?;
        let prefix = exe.parent()?.parent()?;
        Some(prefix.join("lib").join("floe-telemetry").join("plugins"))
    }

    /// Where `floe-telemetry install` puts plugins for one user:
    /// `$XDG_DATA_HOME/floe-telemetry/plugins` (`~/.local/share/...` by
    /// default).
    pub fn user_dir() -> Option<PathBuf> {
        crate::config_path::xdg_dir("XDG_DATA_HOME", ".local/share")
            .map(|dir| dir.join("floe-telemetry").join("plugins"))
    }

    fn push(&mut self, dir: PathBuf, source: DirSource) {
        let canonical = dir.canonicalize().ok();
        let key = canonical.as_deref().unwrap_or(&dir);
        let seen = self
            .dirs
            .iter()
            .zip(&self.canonical)
            .any(|(known, known_canonical)| known_canonical.as_ref().unwrap_or(&known.dir) == key);
        if !seen {
            self.dirs.push(SearchDir { dir, source });
            self.canonical.push(canonical);
        }
    }

    /// The directories that exist, links resolved, in search order.
    pub(crate) fn canonical_dirs(&self) -> impl Iterator<Item = &Path> {
        self.canonical.iter().flatten().map(PathBuf::as_path)
    }

    /// The `index`th directory with its links resolved, if it exists.
    pub(crate) fn canonical_dir(&self, index: usize) -> Option<&Path> {
        self.canonical.get(index)?.as_deref()
    }

    /// The directories, in search order.
    pub fn dirs(&self) -> &[SearchDir] {
        &self.dirs
    }

    /// Every candidate plugin file, in search order: directories in order,
    /// files by name within each. Directories that cannot be read are
    /// reported, except missing default directories, which are normal.
    #[cfg(test)]
    pub(crate) fn candidates(&self) -> (Vec<Candidate>, Vec<Problem>) {
        let mut problems = Vec::new();
        let files = (0..self.dirs.len())
            .flat_map(|index| self.candidates_in(index, &mut problems))
            .collect();
        (files, problems)
    }

    /// The candidate files of the `index`th directory, sorted by name. A
    /// directory that cannot be read is added to `problems`, unless it is a
    /// missing default directory, which is normal.
    pub(crate) fn candidates_in(
        &self,
        index: usize,
        problems: &mut Vec<Problem>,
    ) -> Vec<Candidate> {
        let SearchDir { dir, source } = &self.dirs[index];
        let _span = tracing::debug_span!("scan", dir = %dir.display()).entered();
        match scan(dir) {
            Ok(found) => {
                tracing::debug!(count = found.len(), "found candidate files");
                return found;
            }
            Err(error)
                if *source == DirSource::Default
                    && error.kind() == std::io::ErrorKind::NotFound =>
            {
                tracing::debug!("default directory does not exist");
            }
            Err(error) => problems.push(Problem::new(dir, Error::from(error))),
        }
        Vec::new()
    }
}

/// The files directly in `dir` named like shared libraries, sorted by name.
/// Anything so named except a directory is a candidate, so that a broken
/// link or a named pipe is reported by the file checks instead of vanishing.
/// The entry's type comes with it (`d_type`); only a link costs a `stat`,
/// to leave out a link to a directory.
fn scan(dir: &Path) -> std::io::Result<Vec<Candidate>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if !is_library_name(&name) {
            continue;
        }
        let file_type = entry.file_type()?;
        if file_type.is_dir() || (file_type.is_symlink() && entry.path().is_dir()) {
            continue;
        }
        found.push((name, file_type));
    }
    found.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    Ok(found
        .into_iter()
        .map(|(name, file_type)| Candidate {
            path: dir.join(name),
            file_type,
        })
        .collect())
}

fn is_library_name(name: &OsStr) -> bool {
    name.to_str()
        .is_some_and(|name| name.len() > LIBRARY_SUFFIX.len() && name.ends_with(LIBRARY_SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(path: &SearchPath) -> Vec<(PathBuf, DirSource)> {
        path.dirs()
            .iter()
            .map(|d| (d.dir.clone(), d.source))
            .collect()
    }

    #[test]
    fn flags_then_env_then_defaults() {
        let env = std::env::join_paths(["/env/a", "", "/env/b"]).unwrap();
        let path = SearchPath::new(&["/flag".into()], Some(&env), true);
        let listed = dirs(&path);
        assert_eq!(
            listed[..3],
            [
                ("/flag".into(), DirSource::Flag),
                ("/env/a".into(), DirSource::Env),
                ("/env/b".into(), DirSource::Env),
            ]
        );
        let defaults: Vec<_> = SearchPath::default_dirs()
            .into_iter()
            .map(|dir| (dir, DirSource::Default))
            .collect();
        assert_eq!(listed[3..], defaults[..]);
    }

    #[test]
    fn defaults_are_the_executable_directory_then_the_installed_layout() {
        let exe_dir = std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .to_owned();
        let defaults = SearchPath::default_dirs();
        assert_eq!(defaults[0], exe_dir);
        assert_eq!(
            defaults[1],
            exe_dir.parent().unwrap().join("lib/floe-telemetry/plugins")
        );
    }

    #[test]
    fn a_directory_is_searched_once() {
        let tmp = tempfile::tempdir().unwrap();
        let same = tmp.path().join(".").join("");
        let path = SearchPath::new(&[tmp.path().into(), same], None, false);
        assert_eq!(path.dirs().len(), 1);
    }

    #[test]
    fn candidates_are_library_files_sorted_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["b.so", "a.so", "notes.txt", ".so", "c.so.1"] {
            std::fs::write(tmp.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(tmp.path().join("dir.so")).unwrap();
        let (files, problems) = SearchPath::new(&[tmp.path().into()], None, false).candidates();
        assert!(problems.is_empty());
        let names: Vec<_> = files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.so", "b.so"]);
    }

    #[test]
    fn a_missing_named_directory_is_a_problem() {
        let path = SearchPath::new(&["/nonexistent/floe".into()], None, false);
        let (files, problems) = path.candidates();
        assert!(files.is_empty());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, Path::new("/nonexistent/floe"));
    }
}
