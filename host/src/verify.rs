//! Checks on a plugin file, all made on one open descriptor, which is then
//! the one loaded.
//!
//! Checking a file by its path and then loading it by its path leaves a
//! window in which the path can be pointed at another file. Here the path is
//! resolved once: the file is opened without following links and without
//! blocking, and everything after reads that descriptor: its type, owner and
//! mode (`fstat`), its ELF headers and metadata section, its hash and
//! signature; the loader then maps `/proc/self/fd/N`, the same open file, as
//! the Linux kernel loads a module with `finit_module(2)`.
//!
//! What a descriptor cannot tell is who could have replaced the file before
//! it was opened: whoever can write a directory above it. Like OpenSSH's
//! StrictModes, every directory from the file up to `/` must be owned by
//! root or the user and writable by no one else; a root-owned sticky
//! directory (`/tmp`) is safe above an entry of the right owner.

use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{Read, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use object::ReadRef;
use rustix::fs::{Mode, OFlags};

use crate::Error;
use crate::elf::{self, ElfVerdict};
use crate::input::file_type_name;
use crate::lock::{Locked, sha256_hex};
use crate::signature::Trust;
use crate::sparse::Sparse;

/// The largest plugin file hashed: far above any real plugin, and a bound on
/// what a hostile file can make the host read.
const MAX_PLUGIN_FILE: u64 = 1 << 30;

/// What the checks may let through.
#[derive(Debug, Default)]
pub(crate) struct FilePolicy {
    /// Canonical plugin directories: where a symbolic link may lead.
    plugin_dirs: Vec<PathBuf>,
    /// Skip the ownership, permission and link-target checks.
    allow_insecure_permissions: bool,
    /// With `--locked`: the files allowed, by hash.
    lock: Option<Locked>,
    /// With `--require-signatures`: the keys a plugin file must be signed with.
    trust: Option<Trust>,
    /// Directories already judged, with the owner of the entry below them
    /// and their verdict: a few, each looked up by every file in it.
    dirs_judged: RefCell<Vec<(PathBuf, u32, Verdict)>>,
    /// The effective user id: who besides root may own what is loaded.
    user: u32,
    /// The read buffers, reused from one file to the next.
    sparse: RefCell<Sparse>,
}

/// A directory's verdict: the problem and its fix when it is unsafe.
type Verdict = Result<(), (String, String)>;

/// A plugin file, open, whose descriptor passed the checks that need no
/// more than its headers.
#[derive(Debug)]
pub(crate) struct OpenPlugin {
    /// The path it was found at, for messages and reports.
    pub(crate) path: PathBuf,
    /// The file, opened once; every later check reads this descriptor.
    pub(crate) file: File,
    /// Its metadata section (not yet decoded), if it has one.
    pub(crate) section: Option<Vec<u8>>,
}

impl FilePolicy {
    pub(crate) fn new(
        plugin_dirs: &[PathBuf],
        allow_insecure_permissions: bool,
        lock: Option<Locked>,
        trust: Option<Trust>,
    ) -> Self {
        let canonical = plugin_dirs
            .iter()
            .filter_map(|dir| dir.canonicalize().ok())
            .collect();
        FilePolicy::with_canonical_dirs(canonical, allow_insecure_permissions, lock, trust)
    }

    /// [`FilePolicy::new`] for plugin directories whose links are resolved
    /// already.
    pub(crate) fn with_canonical_dirs(
        plugin_dirs: Vec<PathBuf>,
        allow_insecure_permissions: bool,
        lock: Option<Locked>,
        trust: Option<Trust>,
    ) -> Self {
        FilePolicy {
            plugin_dirs,
            allow_insecure_permissions,
            lock,
            trust,
            dirs_judged: RefCell::default(),
            user: rustix::process::geteuid().as_raw(),
            sparse: RefCell::default(),
        }
    }

    /// Whether files must be hashed before they are used.
    pub(crate) fn pins(&self) -> bool {
        self.lock.is_some() || self.trust.is_some()
    }

    /// Opens `path` and checks the open file: a regular file, owned and
    /// writable only by the user or root, in directories no one else can
    /// write, and an ELF shared library for this machine. Reads its metadata
    /// section. Nothing of the plugin runs.
    pub(crate) fn open(&self, path: &Path) -> Result<OpenPlugin, Error> {
        let link = fs::symlink_metadata(path)?;
        self.open_entry(path, link.file_type())
    }

    /// [`FilePolicy::open`] for a directory entry of type `entry_type`, as
    /// the directory listing gave it: only a regular file or a link is ever
    /// opened (opening a device can do things), and the open file is
    /// checked again whatever the listing said.
    pub(crate) fn open_entry(
        &self,
        path: &Path,
        entry_type: fs::FileType,
    ) -> Result<OpenPlugin, Error> {
        let resolved = self.resolve(path, entry_type)?;
        let real = resolved.as_deref().unwrap_or(path);
        let file = open_no_follow(real)?;
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            return Err(Error::NotARegularFile {
                what: file_type_name(&metadata.file_type()),
            });
        }
        if !self.allow_insecure_permissions {
            check_owner_and_mode(path, metadata.uid(), metadata.mode(), self.user)?;
            self.check_directories(real, metadata.uid())?;
        }
        let len = metadata.len();
        let section = self
            .sparse
            .borrow_mut()
            .judge(&file, len, |data| judge(data, len))?;
        Ok(OpenPlugin {
            path: path.to_owned(),
            file,
            section,
        })
    }

    /// The checks of [`FilePolicy::open_entry`] that need no more than the
    /// owner and mode of a regular file (not a link), and the directories
    /// above it. For a file that discovery does not open.
    pub(crate) fn check_inode(&self, path: &Path, owner: u32, mode: u32) -> Result<(), Error> {
        if self.allow_insecure_permissions {
            return Ok(());
        }
        check_owner_and_mode(path, owner, mode, self.user)?;
        self.check_directories(path, owner)
    }

    /// The metadata section of the file at `path`, read without any of the
    /// checks on who could have written it: only to name, in a message, the
    /// backend a refused file claims. Never used to load anything.
    pub(crate) fn peek_section(&self, path: &Path) -> Option<Vec<u8>> {
        let link = fs::symlink_metadata(path).ok()?;
        if !link.is_file() {
            return None;
        }
        let file = open_no_follow(path).ok()?;
        let metadata = file.metadata().ok()?;
        if !metadata.is_file() {
            return None;
        }
        let len = metadata.len();
        self.sparse
            .borrow_mut()
            .judge(&file, len, |data| judge(data, len))
            .ok()?
    }

    /// With `--locked` or `--require-signatures`, checks the bytes of the
    /// open file against the lock and the signature; returns their sha256
    /// when `want_hash` or when a check needed it.
    pub(crate) fn pin(
        &self,
        plugin: &OpenPlugin,
        want_hash: bool,
    ) -> Result<Option<String>, Error> {
        if !self.pins() && !want_hash {
            return Ok(None);
        }
        let bytes = read_whole(&plugin.file)?;
        if let Some(lock) = &self.lock {
            lock.verify(&plugin.path, &bytes)?;
        }
        if let Some(trust) = &self.trust {
            trust.verify(&plugin.path, &bytes)?;
        }
        Ok(Some(sha256_hex(&bytes)))
    }

    /// The file a link finally names (`None`: `path` is not a link),
    /// refusing links that dangle, loop, or lead out of the plugin
    /// directories, and anything but a regular file.
    fn resolve(&self, path: &Path, entry_type: fs::FileType) -> Result<Option<PathBuf>, Error> {
        if !entry_type.is_symlink() {
            if !entry_type.is_file() {
                // Never opened: opening a device can do things.
                return Err(Error::NotARegularFile {
                    what: file_type_name(&entry_type),
                });
            }
            return Ok(None);
        }
        let target = path.canonicalize().map_err(|error| Error::BrokenSymlink {
            reason: error.to_string(),
        })?;
        let inside = self.plugin_dirs.iter().any(|dir| target.starts_with(dir));
        if !inside && !self.allow_insecure_permissions {
            return Err(Error::SymlinkOutside { target });
        }
        let metadata = fs::metadata(&target)?;
        if !metadata.is_file() {
            return Err(Error::NotARegularFile {
                what: file_type_name(&metadata.file_type()),
            });
        }
        Ok(Some(target))
    }

    /// Every directory above `file` (a path with no links left in its
    /// directories), up to `/`, must be safe above the entry below it. The
    /// verdict is kept per directory and owner: the files of one plugin
    /// directory share it.
    fn check_directories(&self, file: &Path, file_owner: u32) -> Result<(), Error> {
        let parent = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let cached = self
            .dirs_judged
            .borrow()
            .iter()
            .find(|(dir, owner, _)| *owner == file_owner && dir.as_os_str() == parent.as_os_str())
            .map(|(_, _, verdict)| verdict.clone());
        let verdict = match cached {
            Some(verdict) => verdict,
            None => {
                let verdict = judge_ancestors(
                    &parent.canonicalize()?,
                    file_owner,
                    self.user,
                    "the plugin file",
                )?;
                self.dirs_judged.borrow_mut().push((
                    parent.to_owned(),
                    file_owner,
                    verdict.clone(),
                ));
                verdict
            }
        };
        verdict.map_err(|(problem, fix)| Error::UnsafePermissions { problem, fix })
    }
}

/// The verdict on `dir` and each directory above it, the first unsafe one's;
/// `guarded` names the file below, for the message.
pub(crate) fn judge_ancestors(
    dir: &Path,
    file_owner: u32,
    user: u32,
    guarded: &str,
) -> Result<Verdict, Error> {
    let mut entry_owner = file_owner;
    for dir in dir.ancestors() {
        let metadata = fs::metadata(dir)?;
        let verdict = judge_directory(dir, &metadata, entry_owner, user, guarded);
        if verdict.is_err() {
            return Ok(verdict);
        }
        entry_owner = metadata.uid();
    }
    Ok(Ok(()))
}

/// Whether `dir` is safe above an entry owned by `entry_owner`, for `user`:
/// the problem and its fix when it is not.
fn judge_directory(
    dir: &Path,
    metadata: &fs::Metadata,
    entry_owner: u32,
    user: u32,
    guarded: &str,
) -> Verdict {
    let trusted = |uid: u32| uid == 0 || uid == user;
    let owner = metadata.uid();
    if !trusted(owner) {
        return Err((
            format!(
                "its directory {} is owned by user id {owner}, neither you (user id {user}) nor \
                 root, who could replace {guarded}",
                dir.display()
            ),
            format!("run `chown {user} {}` if you trust it", dir.display()),
        ));
    }
    let mode = metadata.mode();
    let writable_by = match mode & 0o022 {
        0 => return Ok(()),
        0o020 => "its group",
        0o002 => "everyone",
        _ => "its group and everyone",
    };
    // In a sticky directory only an entry's owner (or root) may rename or
    // remove it: safe when root owns the directory and the entry is trusted.
    let sticky = mode & 0o1000 != 0;
    if sticky && owner == 0 && trusted(entry_owner) {
        return Ok(());
    }
    Err((
        format!(
            "its directory {} is writable by {writable_by}, who could replace {guarded}",
            dir.display()
        ),
        format!("run `chmod go-w {}`", dir.display()),
    ))
}

/// Opens `path` for reading without following a final link and without
/// blocking (a FIFO put there after the checks above would otherwise hang
/// the open).
fn open_no_follow(path: &Path) -> Result<File, Error> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => Ok(File::from(fd)),
        Err(rustix::io::Errno::LOOP) => Err(Error::BrokenSymlink {
            reason: "it became a symbolic link while it was being checked".to_owned(),
        }),
        Err(error) => Err(Error::from(std::io::Error::from(error))),
    }
}

/// The whole content of the open `file`, read from its start.
fn read_whole(mut file: &File) -> Result<Vec<u8>, Error> {
    file.rewind()?;
    let mut bytes = Vec::new();
    file.take(MAX_PLUGIN_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PLUGIN_FILE {
        return Err(Error::NotALibrary {
            reason: format!("it is larger than {MAX_PLUGIN_FILE} bytes"),
        });
    }
    Ok(bytes)
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

fn check_owner_and_mode(path: &Path, owner: u32, mode: u32, user: u32) -> Result<(), Error> {
    let writable_by = match mode & 0o022 {
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    fn policy(dir: &Path) -> FilePolicy {
        FilePolicy::new(&[dir.to_owned()], false, None, None)
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
        let error = policy(tmp.path())
            .open(&path)
            .map(|p| p.section)
            .unwrap_err();
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
        let error = policy(tmp.path())
            .open(&path)
            .map(|p| p.section)
            .unwrap_err();
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
            let error = policy(tmp.path())
                .open(&path)
                .map(|p| p.section)
                .unwrap_err()
                .to_string();
            assert!(error.contains(&format!("writable by {who},")), "{error}");
            assert!(
                error.contains(&format!("chmod go-w {}", path.display())),
                "{error}"
            );
        }
        let lenient = FilePolicy::new(&[tmp.path().to_owned()], true, None, None);
        assert!(matches!(
            lenient.open(&path).map(|p| p.section),
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
        let error = policy(plugins.path())
            .open(&link)
            .map(|p| p.section)
            .unwrap_err();
        assert!(matches!(error, Error::SymlinkOutside { .. }), "{error}");

        let inside = plugins.path().join("inside.so");
        fs::copy(&target, &inside).unwrap();
        let link_in = plugins.path().join("link-in.so");
        symlink(&inside, &link_in).unwrap();
        assert!(matches!(
            policy(plugins.path()).open(&link_in).map(|p| p.section),
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
            let error = policy(tmp.path())
                .open(&path)
                .map(|p| p.section)
                .unwrap_err();
            assert!(matches!(error, Error::BrokenSymlink { .. }), "{error}");
        }
    }

    #[test]
    fn a_named_pipe_is_not_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("pipe.so");
        crate::input::tests::mkfifo(&path);
        let error = policy(tmp.path())
            .open(&path)
            .map(|p| p.section)
            .unwrap_err();
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

    #[test]
    fn a_directory_others_can_write_is_refused_with_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("plugins");
        fs::create_dir(&dir).unwrap();
        let path = dir.join("notes.so");
        fs::write(&path, "not a library").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        for mode in [0o775, 0o757] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            let error = policy(&dir).open(&path).unwrap_err().to_string();
            assert!(error.contains("its directory"), "{mode:o}: {error}");
            assert!(
                error.contains(&format!(
                    "chmod go-w {}",
                    dir.canonicalize().unwrap().display()
                )),
                "{error}"
            );
        }
        // Like /tmp: root's and sticky, so no one may swap an entry of theirs.
        for mode in [0o755, 0o1777] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            assert!(matches!(
                policy(&dir).open(&path),
                Err(Error::NotALibrary { .. })
            ));
        }
    }
}
