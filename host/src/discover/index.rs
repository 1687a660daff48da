//! The section index: what the metadata sections of a large plugin
//! directory's files said, kept in the user's cache directory, so that the
//! next command looks at each file's inode (one `statx`) instead of reading
//! its ELF headers and section (an open, five reads and a close).
//!
//! An entry is used only while the file's device, inode, size, modification
//! and change times are what they were when its section was read. The
//! kernel sets the change time on every write, rename or `chmod`, and no
//! one can set it back, so a file changed since is read again. A file
//! changed within the last two seconds is not recorded at all: those times
//! come from a clock that ticks coarsely (and lags the real time a little),
//! some file systems keep only whole seconds, and a write in the same tick
//! as the read would leave them as they were.
//!
//! The index is input like any other file. It is read only when it is a
//! regular file of the user's that no one else can write, in directories
//! no one else can write, and no larger than any real index; otherwise it
//! is ignored and, where it can be, replaced. Whoever could forge it could
//! at most hide a plugin from a command: a file selected for loading has
//! its section read again from the descriptor that is loaded, and must say
//! what the index said, and every section is checked by the same rules
//! whichever way it was read.
//!
//! Small directories (the bundled plugins) are read directly: their few
//! files cost less than the index would.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

use crate::lock::sha256_hex;

/// Directories with fewer candidate files are read without an index.
pub(crate) const INDEXED_FROM: usize = 32;

/// The first bytes of an index file, and the format's version.
const MAGIC: &[u8] = b"floe-telemetry section index 1\n";
/// Far above the index of any real directory: a bound on what is read.
const MAX_INDEX: u64 = 64 << 20;
/// Metadata sections are a few hundred bytes; larger ones are read anew.
const MAX_SECTION: usize = 64 << 10;
/// File names are at most 255 bytes on Linux.
const MAX_NAME: usize = 255;
/// How long after its last change a file is recorded, in nanoseconds.
const SETTLED_NS: i128 = 2_000_000_000;
/// Marks an entry for a library without a metadata section.
const NO_SECTION: u32 = u32::MAX;
/// The fewest bytes an entry takes: a name's and a section's lengths, and
/// the key.
const MIN_ENTRY: usize = 4 + 3 * 8 + 2 * 16 + 4;

/// What identifies one version of a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    dev: u64,
    ino: u64,
    size: u64,
    /// Modification and change times, in nanoseconds since the epoch.
    mtime: i128,
    ctime: i128,
}

impl Key {
    fn of(stat: &Stat) -> Key {
        // The field types differ between architectures; each fits an i128.
        #[allow(clippy::unnecessary_cast)]
        Key {
            dev: stat.st_dev as u64,
            ino: stat.st_ino as u64,
            size: stat.st_size as u64,
            mtime: stat.st_mtime as i128 * 1_000_000_000 + stat.st_mtime_nsec as i128,
            ctime: stat.st_ctime as i128 * 1_000_000_000 + stat.st_ctime_nsec as i128,
        }
    }

    /// Whether the file has been left alone long enough, at `now`, for its
    /// times to tell any later change.
    fn settled(&self, now: i128) -> bool {
        now - self.mtime.max(self.ctime) >= SETTLED_NS
    }
}

/// An entry of the index as read: where its name and section are in the
/// index's bytes.
#[derive(Debug)]
struct Known {
    name: Range<usize>,
    key: Key,
    /// `None` for a library without a section.
    section: Option<Range<usize>>,
}

/// An entry of the index this command writes.
#[derive(Debug)]
enum Seen {
    /// The `n`th known entry, unchanged.
    Kept(usize),
    /// A file read in full.
    Read {
        name: OsString,
        key: Key,
        section: Option<Box<[u8]>>,
    },
}

/// A file the index knows as it is now.
#[derive(Debug)]
pub(crate) struct Hit<'a> {
    /// Its section; `None` for a library without one.
    pub(crate) section: Option<&'a [u8]>,
    pub(crate) owner: u32,
    pub(crate) mode: u32,
}

/// The index of one plugin directory: what it held, and what this command
/// found there.
#[derive(Debug)]
pub(crate) struct DirIndex {
    /// The index file.
    file: PathBuf,
    /// The plugin directory, links resolved: written into the index, and
    /// checked when it is read.
    dir: PathBuf,
    /// The plugin directory, open: files are looked up from it, which
    /// costs the kernel less than their whole paths.
    dir_fd: OwnedFd,
    /// The index file's bytes (none when there was no usable index).
    bytes: Vec<u8>,
    /// Its entries, in its order, which is the order of their names.
    known: Vec<Known>,
    /// Where the next lookup starts.
    next: usize,
    /// The entries for the files this command looked at, in order.
    seen: Vec<Seen>,
    /// Whether a file was read that the index did not know.
    learned: bool,
    /// The effective user id: who must own the index.
    user: u32,
    /// Now, in nanoseconds since the epoch.
    now: i128,
}

impl DirIndex {
    /// The index of the plugin directory `dir` (links resolved): what the
    /// user's cache holds for it, or nothing when there is no trustworthy
    /// index yet. `None` when the user has no cache directory, or `dir`
    /// cannot be opened.
    pub(crate) fn open(dir: &Path) -> Option<DirIndex> {
        let cache = crate::config_path::xdg_dir("XDG_CACHE_HOME", ".cache")?;
        let id = sha256_hex(dir.as_os_str().as_bytes());
        let file = cache
            .join("floe-telemetry")
            .join("sections")
            .join(format!("{}.index", &id[..32]));
        let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir_fd = rustix::fs::open(dir, dir_flags, Mode::empty()).ok()?;
        let user = rustix::process::geteuid().as_raw();
        let none = || (Vec::new(), Vec::new());
        let (bytes, known) = match read(&file, user) {
            Ok(bytes) => match decode(&bytes, dir) {
                Some(known) => (bytes, known),
                None => {
                    let (file, dir) = (file.display(), dir.display());
                    tracing::info!("{file}: not an index of {dir}; read anew");
                    none()
                }
            },
            Err(error) if error.kind() == io::ErrorKind::NotFound => none(),
            Err(error) => {
                tracing::info!("{}: ignored: {error}", file.display());
                none()
            }
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as i128);
        Some(DirIndex {
            file,
            dir: dir.to_owned(),
            dir_fd,
            bytes,
            known,
            next: 0,
            seen: Vec::new(),
            learned: false,
            user,
            now,
        })
    }

    /// What the index holds for the file `name` of the directory, if it
    /// knows the file as it is now: a regular file, not a link, with the
    /// inode it had when it was read.
    pub(crate) fn lookup(&mut self, name: &OsStr) -> Option<Hit<'_>> {
        let stat = rustix::fs::statat(&self.dir_fd, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return None;
        }
        let bytes = &self.bytes;
        let name = name.as_bytes();
        // Files come in the order of their names, as the index has them:
        // the entry after the last one found is the likely one.
        let at = match self.known.get(self.next) {
            Some(known) if bytes[known.name.clone()] == *name => self.next,
            _ => self
                .known
                .binary_search_by(|known| bytes[known.name.clone()].cmp(name))
                .ok()?,
        };
        self.next = at + 1;
        let known = &self.known[at];
        if known.key != Key::of(&stat) {
            return None;
        }
        self.seen.push(Seen::Kept(at));
        Some(Hit {
            section: known.section.clone().map(|range| &bytes[range]),
            owner: stat.st_uid,
            mode: stat.st_mode,
        })
    }

    /// Records what the file `name` holds, as read from `file`: unless it
    /// changed too recently to tell.
    pub(crate) fn record(&mut self, name: &OsStr, file: &File, section: Option<&[u8]>) {
        let Ok(stat) = rustix::fs::fstat(file) else {
            return;
        };
        let key = Key::of(&stat);
        if !key.settled(self.now) || section.is_some_and(|section| section.len() > MAX_SECTION) {
            return;
        }
        self.learned = true;
        self.seen.push(Seen::Read {
            name: name.to_owned(),
            key,
            section: section.map(Box::from),
        });
    }

    /// Writes the index anew when it lacked or held more than what this
    /// command found; called once the whole directory has been looked at.
    /// A cache that cannot be written is no error: the next command reads
    /// the files again.
    pub(crate) fn save(self) {
        if !self.learned && self.seen.len() == self.known.len() {
            return;
        }
        let count = self.seen.len();
        match self.write() {
            Ok(()) => tracing::debug!("{}: indexed {count} files", self.file.display()),
            Err(error) => tracing::debug!("{}: not written: {error}", self.file.display()),
        }
    }

    fn write(&self) -> io::Result<()> {
        // The cache directory, its floe-telemetry directory and the index
        // directory, each created when missing; never anything above.
        let dir = self
            .file
            .parent()
            .expect("the index file is in a directory");
        for made in dir
            .ancestors()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            make_private_dir(made)?;
        }
        safe_directories(dir, self.user)?;
        // Written beside it and renamed over it, so a reader sees the old
        // index or the new one, never half of one.
        let name = self.file.file_name().expect("the index file has a name");
        let mut partial = name.to_owned();
        partial.push(format!(".{}.partial", std::process::id()));
        let partial = dir.join(partial);
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags((OFlags::NOFOLLOW | OFlags::CLOEXEC).bits() as i32)
            .open(&partial)
            .and_then(|mut file| file.write_all(&self.encode()))
            .and_then(|()| fs::rename(&partial, &self.file));
        if written.is_err() {
            let _ = fs::remove_file(&partial);
        }
        written
    }

    /// The entries seen, in the format [`decode`] reads.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.seen.len() * 256);
        out.extend_from_slice(MAGIC);
        put_bytes(&mut out, Some(self.dir.as_os_str().as_bytes()));
        out.extend_from_slice(&(self.seen.len() as u32).to_le_bytes());
        for seen in &self.seen {
            let (name, key, section) = match seen {
                Seen::Kept(at) => {
                    let known = &self.known[*at];
                    let section = known.section.clone().map(|range| &self.bytes[range]);
                    (&self.bytes[known.name.clone()], known.key, section)
                }
                Seen::Read { name, key, section } => (name.as_bytes(), *key, section.as_deref()),
            };
            put_bytes(&mut out, Some(name));
            for field in [key.dev, key.ino, key.size] {
                out.extend_from_slice(&field.to_le_bytes());
            }
            for time in [key.mtime, key.ctime] {
                out.extend_from_slice(&time.to_le_bytes());
            }
            put_bytes(&mut out, section);
        }
        out
    }
}

/// Creates `dir`, for the user alone, unless it exists; its parent must
/// exist already.
fn make_private_dir(dir: &Path) -> io::Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// The bytes of the index file at `path`, if it can be trusted: a regular
/// file owned by `user`, writable by no one else, in directories no one
/// else can write, and no larger than [`MAX_INDEX`].
fn read(path: &Path, user: u32) -> io::Result<Vec<u8>> {
    let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)?;
    let metadata = file.metadata()?;
    let refuse = |why: String| Err(io::Error::other(why));
    if !metadata.is_file() {
        return refuse("not a regular file".to_owned());
    }
    if metadata.uid() != user {
        return refuse(format!("owned by user id {}, not {user}", metadata.uid()));
    }
    if metadata.mode() & 0o022 != 0 {
        return refuse("writable by others than its owner".to_owned());
    }
    safe_directories(
        path.parent().expect("the index file is in a directory"),
        user,
    )?;
    crate::input::read_at_most(&file, MAX_INDEX)
}

/// Refuses `dir` unless it and every directory above it are safe for a
/// file of `user`'s, by the rules for plugin directories.
fn safe_directories(dir: &Path, user: u32) -> io::Result<()> {
    let verdict = crate::verify::judge_ancestors(&dir.canonicalize()?, user, user, "the index")
        .map_err(|error| io::Error::other(error.to_text()))?;
    verdict.map_err(|(problem, _)| io::Error::other(problem))
}

/// A length-prefixed run of bytes; `None` is written as [`NO_SECTION`].
fn put_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => {
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        None => out.extend_from_slice(&NO_SECTION.to_le_bytes()),
    }
}

/// The entries of an index of `dir`, with where their bytes are; `None`
/// when `bytes` are not one, whatever they hold instead.
fn decode(bytes: &[u8], dir: &Path) -> Option<Vec<Known>> {
    let mut input = Input { bytes, at: 0 };
    if input.take::<{ MAGIC.len() }>()? != MAGIC {
        return None;
    }
    let dir_bytes = input.bytes(usize::MAX)??;
    if bytes[dir_bytes] != *dir.as_os_str().as_bytes() {
        return None;
    }
    let count = input.u32()? as usize;
    // A hostile count allocates no more than the bytes there are.
    let mut known = Vec::with_capacity(count.min(bytes.len() / MIN_ENTRY));
    for _ in 0..count {
        let name = input.bytes(MAX_NAME)??;
        let key = Key {
            dev: input.u64()?,
            ino: input.u64()?,
            size: input.u64()?,
            mtime: input.i128()?,
            ctime: input.i128()?,
        };
        let section = input.bytes(MAX_SECTION)?;
        known.push(Known { name, key, section });
    }
    (input.at == bytes.len()).then_some(known)
}

/// The bytes of an index, read from the front.
struct Input<'a> {
    bytes: &'a [u8],
    /// How many have been read.
    at: usize,
}

impl Input<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let chunk = self.bytes.get(self.at..)?.first_chunk::<N>()?;
        self.at += N;
        Some(*chunk)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }

    fn i128(&mut self) -> Option<i128> {
        self.take().map(i128::from_le_bytes)
    }

    /// Where a length-prefixed run of at most `limit` bytes is: `None` when
    /// it is not there, `Some(None)` for the [`NO_SECTION`] mark.
    fn bytes(&mut self, limit: usize) -> Option<Option<Range<usize>>> {
        let len = self.u32()?;
        if len == NO_SECTION {
            return Some(None);
        }
        let len = len as usize;
        if len > limit || len > self.bytes.len() - self.at {
            return None;
        }
        self.at += len;
        Some(Some(self.at - len..self.at))
    }
}

#[cfg(test)]
mod tests;
