//! `floe-telemetry install` and `uninstall`: putting a checked plugin file
//! into a plugin directory, and taking one out.
//!
//! The bytes that are checked are the bytes installed: the file is copied
//! once, into a private directory inside the target directory, checked and
//! loaded there, and only then renamed into place, so a reader of the
//! plugin directory sees the old file or the new one, never half of one.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::lock::{Lock, Locked, LockedPlugin, sha256_hex};
use crate::{
    Catalog, Error, Isolation, LIBRARY_SUFFIX, LoadOptions, MetadataSource, Plugin, PluginInfo,
    SearchPath,
};

/// What `install` did.
#[derive(Debug, Clone)]
pub enum Installed {
    /// The plugin is now at `path`; `replaced` is the plugin it replaced.
    New {
        /// The plugin, as loaded from its new place.
        info: PluginInfo,
        /// Where it now is.
        path: PathBuf,
        /// The plugin of the same name it replaced (with `force`).
        replaced: Option<PluginInfo>,
    },
    /// The very same file was already installed there.
    Unchanged {
        /// The installed plugin.
        info: PluginInfo,
    },
}

/// Checks the plugin `file` and copies it into `target_dir`.
///
/// The file must be a plugin this host can load (`options` say how it is
/// checked: signatures, permissions; any lock is ignored, as the new file
/// cannot be in it yet), built with a metadata section, and its name must
/// not be taken by another file on `search_path` or in `target_dir`. A
/// plugin of that name in `target_dir` is replaced only when it is the
/// same file, or with `force`. `<file>.sig`, when present, is installed
/// beside it.
pub fn install(
    file: &Path,
    target_dir: &Path,
    search_path: &SearchPath,
    options: &LoadOptions,
    isolation: &Isolation,
    force: bool,
) -> Result<Installed, Error> {
    // `dlopen` takes a bare file name for a library of the system's search
    // path, not one in the working directory.
    let file = &std::path::absolute(file).map_err(|error| in_file(file, error.into()))?;
    let refused = |reason: String| Error::InstallRefused {
        file: file.to_owned(),
        reason,
    };
    let Some(file_name) = file
        .file_name()
        .filter(|name| name.to_string_lossy().ends_with(LIBRARY_SUFFIX))
    else {
        return Err(refused(format!(
            "not named *{LIBRARY_SUFFIX}, so it would never be found as a plugin; name the \
             plugin's library file"
        )));
    };
    let data = fs::read(file).map_err(|error| in_file(file, error.into()))?;
    let signature = read_if_present(&signature_of(file)).map_err(|e| in_file(file, e.into()))?;
    create_dir(target_dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".floe-telemetry-install-")
        .tempdir_in(target_dir)
        .map_err(|error| in_file(target_dir, error.into()))?;
    let staged = staging.path().join(file_name);
    write_file(&staged, &data)?;
    if let Some(signature) = &signature {
        write_file(&signature_of(&staged), signature)?;
    }

    let checks = LoadOptions {
        isolation: Some(isolation.clone()),
        lock: None,
        ..options.clone()
    };
    // Checked where it is, for messages that name the file given; then the
    // copy, which is what will be used.
    Plugin::load(file, &checks).map_err(|error| in_file(file, error))?;
    let info = Plugin::load(&staged, &checks)
        .map_err(|error| in_file(file, error))?
        .info()
        .clone();
    if info.metadata != MetadataSource::Section {
        return Err(refused(
            "has no .floe_plugin metadata section, so `list` would have to load it to learn its \
             name; rebuild it with floe-plugin-api 1.2 or later"
                .to_owned(),
        ));
    }

    let destination = target_dir.join(file_name);
    let mut old_file = None;
    let mut replaced = None;
    for existing in installed(search_path, target_dir, options, isolation) {
        if existing.name != info.name || same_file(&existing.path, file) {
            continue;
        }
        if !same_file(existing.path.parent().unwrap_or(Path::new("")), target_dir) {
            return Err(refused(format!(
                "backend {:?} is already provided by {} (version {}), and of two plugins of one \
                 name only the first found is used; remove that one first",
                info.name,
                existing.path.display(),
                existing.version
            )));
        }
        if fs::read(&existing.path).is_ok_and(|old| old == data) {
            return Ok(Installed::Unchanged { info: existing });
        }
        if !force {
            return Err(refused(format!(
                "{} {} is installed as {}, and this file is {} {}, another version or build; add \
                 --force to replace it",
                existing.name,
                existing.version,
                existing.path.display(),
                info.name,
                info.version
            )));
        }
        if existing.path.file_name() != Some(file_name) {
            old_file = Some(existing.path.clone());
        }
        replaced = Some(existing);
    }
    if replaced.is_none() && destination.symlink_metadata().is_ok() && !force {
        return Err(refused(format!(
            "{} exists and is not a plugin named {:?}; add --force to replace it",
            destination.display(),
            info.name
        )));
    }

    // The signature first: a reader requiring signatures then never sees
    // the new plugin without its signature.
    match &signature {
        Some(_) => rename(&signature_of(&staged), &signature_of(&destination))?,
        None => remove_if_present(&signature_of(&destination))?,
    }
    rename(&staged, &destination)?;
    if let Some(old) = &old_file {
        remove_if_present(old)?;
        remove_if_present(&signature_of(old))?;
    }
    sync_dir(target_dir)?;
    let info = PluginInfo {
        path: destination.clone(),
        ..info
    };
    Ok(Installed::New {
        info,
        path: destination,
        replaced,
    })
}

/// Removes the plugin called `name` (and its signature) from `dir`;
/// returns the file removed.
pub fn uninstall(
    name: &str,
    dir: &Path,
    search_path: &SearchPath,
    options: &LoadOptions,
    isolation: &Isolation,
) -> Result<PathBuf, Error> {
    let found = installed(search_path, dir, options, isolation);
    let Some(plugin) = found
        .iter()
        .find(|info| info.name == name && same_file(info.path.parent().unwrap(), dir))
    else {
        let here: Vec<&str> = found
            .iter()
            .filter(|info| same_file(info.path.parent().unwrap(), dir))
            .map(|info| info.name.as_str())
            .collect();
        let elsewhere = found
            .iter()
            .find(|info| info.name == name)
            .map(|info| {
                format!(
                    "; it is provided by {}, which this command does not manage (--system for \
                     the system directory, or remove that file)",
                    info.path.display()
                )
            })
            .unwrap_or_default();
        return Err(Error::InstallRefused {
            file: dir.to_owned(),
            reason: format!(
                "no plugin named {name:?} installed here (installed here: {}){elsewhere}",
                if here.is_empty() {
                    "none".to_owned()
                } else {
                    here.join(", ")
                }
            ),
        });
    };
    fs::remove_file(&plugin.path).map_err(|error| in_file(&plugin.path, error.into()))?;
    remove_if_present(&signature_of(&plugin.path))?;
    sync_dir(dir)?;
    Ok(plugin.path.clone())
}

/// Pins `added` in the lock file `locked` (replacing what it pinned at
/// that path) and unpins `removed`, writing the file anew.
pub fn update_lock(
    locked: &Locked,
    added: Option<&PluginInfo>,
    removed: &[&Path],
) -> Result<(), Error> {
    let mut lock: Lock = locked.lock.clone();
    let mut gone: Vec<PathBuf> = removed.iter().map(|path| absolute(path)).collect();
    let mut entry = None;
    if let Some(info) = added {
        let path = info.path.canonicalize()?;
        gone.push(path.clone());
        entry = Some(LockedPlugin {
            name: info.name.clone(),
            version: info.version.clone(),
            sha256: sha256_hex(&fs::read(&path)?),
            path,
        });
    }
    lock.plugins.retain(|pinned| !gone.contains(&pinned.path));
    lock.plugins.extend(entry);
    let dir = match locked.file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".floe-telemetry-lock-")
        .tempfile_in(&dir)
        .map_err(|error| in_file(&locked.file, error.into()))?;
    temp.write_all(lock.to_json().as_bytes())?;
    temp.as_file().sync_all()?;
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))?;
    temp.persist(&locked.file)
        .map_err(|error| in_file(&locked.file, error.error.into()))?;
    sync_dir(&dir)
}

/// Every plugin on `search_path` and in `dir`, by metadata, whatever its
/// signature or lock status: what a name could clash with.
fn installed(
    search_path: &SearchPath,
    dir: &Path,
    options: &LoadOptions,
    isolation: &Isolation,
) -> Vec<PluginInfo> {
    let options = LoadOptions {
        isolation: None,
        lock: None,
        trust: None,
        allow_insecure_permissions: options.allow_insecure_permissions,
    };
    let mut found = Catalog::list(search_path, &options, isolation).plugins;
    let own = SearchPath::new(&[dir.to_owned()], None, false);
    for info in Catalog::list(&own, &options, isolation).plugins {
        if !found.iter().any(|known| same_file(&known.path, &info.path)) {
            found.push(info);
        }
    }
    found
}

/// `<file>.sig`, where `sign` writes a plugin's signature.
fn signature_of(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

fn in_file(path: &Path, error: Error) -> Error {
    Error::InPlugin {
        path: path.to_owned(),
        error: Box::new(error),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    absolute(a) == absolute(b)
}

fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

fn create_dir(dir: &Path) -> Result<(), Error> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|error| {
            in_file(
                dir,
                Error::Io {
                    source: std::io::Error::new(
                        error.kind(),
                        format!("cannot create the plugin directory ({error})"),
                    ),
                },
            )
        })
}

/// Writes a new file readable by all and writable by its owner only, and
/// flushes it to disk before it is renamed into place.
fn write_file(path: &Path, data: &[u8]) -> Result<(), Error> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)?;
    // The umask may have taken bits away; the mode is the point.
    file.set_permissions(fs::Permissions::from_mode(0o644))?;
    file.write_all(data)?;
    file.sync_all()?;
    Ok(())
}

fn read_if_present(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(data) => Ok(Some(data)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), Error> {
    fs::rename(from, to).map_err(|error| in_file(to, error.into()))
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(in_file(path, error.into()))
        }
        _ => Ok(()),
    }
}

/// Makes the renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), Error> {
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}
