//! Checks on a candidate file before anything in it is loaded or run.
//!
//! Loading a library runs its code with the host's privileges, so the file
//! must be one the user controls: a regular file, inside a plugin directory
//! (or reached through a link that stays inside one), not writable by anyone
//! but its owner, and owned by the user or root. Then its ELF header is read
//! to make sure `dlopen` gets a whole shared library for this machine, and
//! its metadata section, if any, is read from the file, as bytes.

use std::fs::{self, File};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use object::ReadRef;
use object::read::ReadCache;

use crate::Error;
use crate::elf::{self, ElfVerdict};
use crate::lock::Locked;
use crate::signature::Trust;

/// What the checks may let through.
#[derive(Debug, Clone, Default)]
pub(crate) struct FilePolicy {
    /// Canonical plugin directories: where a symbolic link may lead.
    pub(crate) plugin_dirs: Vec<PathBuf>,
    /// Skip the ownership, permission and link-target checks.
    pub(crate) allow_insecure_permissions: bool,
    /// With `--locked`: the files allowed, by hash.
    pub(crate) lock: Option<Locked>,
    /// With `--require-signatures`: the keys a plugin file must be signed with.
    pub(crate) trust: Option<Trust>,
}

impl FilePolicy {
    pub(crate) fn new(plugin_dirs: &[PathBuf], allow_insecure_permissions: bool) -> Self {
        FilePolicy {
            plugin_dirs: plugin_dirs
                .iter()
                .filter_map(|dir| dir.canonicalize().ok())
                .collect(),
            allow_insecure_permissions,
            lock: None,
            trust: None,
        }
    }

    /// The same, refusing every file `lock` does not pin, and every file not
    /// signed by a key of `trust`.
    pub(crate) fn pinned(self, lock: Option<Locked>, trust: Option<Trust>) -> Self {
        FilePolicy {
            lock,
            trust,
            ..self
        }
    }

    /// Runs every check on `path`; the first failure is the answer. Returns
    /// the bytes of the file's metadata section (not yet decoded), or `None`
    /// when it has none.
    pub(crate) fn check(&self, path: &Path) -> Result<Option<Vec<u8>>, Error> {
        let real = self.resolve(path)?;
        let metadata = fs::metadata(&real)?;
        if !metadata.is_file() {
            return Err(Error::NotARegularFile {
                what: file_type_name(&metadata.file_type()),
            });
        }
        if !self.allow_insecure_permissions {
            check_permissions(path, &metadata)?;
        }
        if self.lock.is_some() || self.trust.is_some() {
            // Pinned and signed files are checked by their bytes before
            // anything reads them as a library.
            let bytes = fs::read(&real)?;
            if let Some(lock) = &self.lock {
                lock.verify(&real, &bytes)?;
            }
            if let Some(trust) = &self.trust {
                trust.verify(&real, &bytes)?;
            }
            return judge(bytes.as_slice(), bytes.len() as u64);
        }
        judge(&ReadCache::new(File::open(&real)?), metadata.len())
    }

    /// The file a path finally names, refusing links that dangle, loop, or
    /// lead out of the plugin directories.
    fn resolve(&self, path: &Path) -> Result<PathBuf, Error> {
        if !fs::symlink_metadata(path)?.file_type().is_symlink() {
            return Ok(path.to_owned());
        }
        let target = path.canonicalize().map_err(|error| Error::BrokenSymlink {
            reason: error.to_string(),
        })?;
        let inside = self.plugin_dirs.iter().any(|dir| target.starts_with(dir));
        if !inside && !self.allow_insecure_permissions {
            return Err(Error::SymlinkOutside { target });
        }
        Ok(target)
    }
}

/// Judges a whole file of `len` bytes by its ELF headers, and returns its
/// metadata section when it is a shared library for this machine.
fn judge<'data, R: ReadRef<'data>>(data: R, len: u64) -> Result<Option<Vec<u8>>, Error> {
    match elf::inspect(data, len) {
        ElfVerdict::SharedLibrary => match elf::metadata_section(data) {
            Ok(section) => Ok(section.map(<[u8]>::to_vec)),
            Err(reason) => Err(Error::InvalidMetadataSection { reason }),
        },
        ElfVerdict::NotElf(what) => Err(Error::NotALibrary {
            reason: format!("it is {what}, not an ELF shared library"),
        }),
        ElfVerdict::NotSharedLibrary(what) => Err(Error::NotALibrary {
            reason: format!("it is {what}, not a shared library"),
        }),
        ElfVerdict::WrongMachine { found } => Err(Error::WrongArchitecture {
            found,
            expected: elf::host_machine(),
        }),
        ElfVerdict::Corrupt(reason) => Err(Error::CorruptLibrary { reason }),
    }
}

fn check_permissions(path: &Path, metadata: &fs::Metadata) -> Result<(), Error> {
    let writable_by = match metadata.mode() & 0o022 {
        0 => None,
        0o020 => Some("its group"),
        0o002 => Some("everyone"),
        _ => Some("its group and everyone"),
    };
    if let Some(who) = writable_by {
        return Err(Error::UnsafePermissions {
            problem: format!("it is writable by {who}, who could change the code the host runs"),
            fix: format!("run `chmod go-w {}`", path.display()),
        });
    }
    let owner = metadata.uid();
    let user = rustix::process::geteuid().as_raw();
    if owner != user && owner != 0 {
        return Err(Error::UnsafePermissions {
            problem: format!(
                "it is owned by user id {owner}, neither you (user id {user}) nor root"
            ),
            fix: format!("run `chown {user} {}` if you trust it", path.display()),
        });
    }
    Ok(())
}

fn file_type_name(file_type: &fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a named pipe"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    fn policy(dir: &Path) -> FilePolicy {
        FilePolicy::new(&[dir.to_owned()], false)
    }

    /// This test binary: an ELF file for this machine, but not a library.
    fn this_executable() -> PathBuf {
        std::env::current_exe().unwrap()
    }

    #[test]
    fn a_text_file_is_named_as_such() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("notes.so");
        fs::write(&path, "just some notes\nnothing to load\n").unwrap();
        let error = policy(tmp.path()).check(&path).unwrap_err();
        assert!(
            matches!(error, Error::NotALibrary { ref reason } if reason.contains("a text file")),
            "{error}"
        );
    }

    #[test]
    fn an_executable_is_not_a_library() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("exe.so");
        fs::copy(this_executable(), &path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        let error = policy(tmp.path()).check(&path).unwrap_err();
        assert!(
            matches!(error, Error::NotALibrary { ref reason } if reason.contains("executable")),
            "{error}"
        );
    }

    #[test]
    fn group_or_world_writable_files_are_refused_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("open.so");
        fs::write(&path, "x").unwrap();
        for (mode, who) in [
            (0o664, "its group"),
            (0o646, "everyone"),
            (0o666, "its group and everyone"),
        ] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let error = policy(tmp.path()).check(&path).unwrap_err().to_string();
            assert!(error.contains(&format!("writable by {who},")), "{error}");
            assert!(
                error.contains(&format!("chmod go-w {}", path.display())),
                "{error}"
            );
        }
        let lenient = FilePolicy::new(&[tmp.path().to_owned()], true);
        assert!(matches!(
            lenient.check(&path),
            Err(Error::NotALibrary { .. })
        ));
    }

    #[test]
    fn links_must_stay_inside_the_plugin_directories() {
        let plugins = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("real.so");
        fs::write(&target, "x").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
        let link = plugins.path().join("link.so");
        symlink(&target, &link).unwrap();
        let error = policy(plugins.path()).check(&link).unwrap_err();
        assert!(matches!(error, Error::SymlinkOutside { .. }), "{error}");

        let inside = plugins.path().join("inside.so");
        fs::copy(&target, &inside).unwrap();
        let link_in = plugins.path().join("link-in.so");
        symlink(&inside, &link_in).unwrap();
        assert!(matches!(
            policy(plugins.path()).check(&link_in),
            Err(Error::NotALibrary { .. })
        ));
    }

    #[test]
    fn looping_and_dangling_links_are_broken() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a.so");
        let b = tmp.path().join("b.so");
        symlink(&b, &a).unwrap();
        symlink(&a, &b).unwrap();
        let dangling = tmp.path().join("gone.so");
        symlink(tmp.path().join("nothing"), &dangling).unwrap();
        for path in [a, dangling] {
            let error = policy(tmp.path()).check(&path).unwrap_err();
            assert!(matches!(error, Error::BrokenSymlink { .. }), "{error}");
        }
    }

    #[test]
    fn a_named_pipe_is_not_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("pipe.so");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let error = policy(tmp.path()).check(&path).unwrap_err();
        assert!(
            matches!(
                error,
                Error::NotARegularFile {
                    what: "a named pipe"
                }
            ),
            "{error}"
        );
    }
}
