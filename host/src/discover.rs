//! Discovery: every candidate file on the search path, and what its
//! metadata section says. No plugin code runs, and no file stays open.
//! A large directory's sections are remembered in a [section
//! index](index), so that later commands need not read them again.

mod index;

use std::fs::FileType;
use std::path::{Path, PathBuf};

use crate::escape::escape_path;
use crate::info::{MetadataSource, PluginInfo, Reported, is_valid_name};
use crate::search_path::Candidate;
use crate::verify::FilePolicy;
use crate::{Error, Problem, SearchPath};
use index::DirIndex;

/// One candidate file, as its metadata section describes it.
#[derive(Debug)]
pub(crate) struct Scanned {
    /// Where it was found.
    pub(crate) path: PathBuf,
    /// What its section says, checked; `Ok(None)` for a file without one,
    /// which only loading it can tell.
    pub(crate) declared: Result<Option<PluginInfo>, Error>,
    /// The backend name its section claims, even when the file is refused,
    /// so that asking for that backend says "refused", not "missing".
    pub(crate) claimed: Option<String>,
}

/// The candidate files of a search path, read and checked one at a time, in
/// search order, a directory being listed only once the files before it are
/// done: a command that stops early lists no more directories than it needs.
pub(crate) struct Discovery<'a> {
    search_path: &'a SearchPath,
    policy: &'a FilePolicy,
    /// The next directory to list.
    next_dir: usize,
    /// The files of the directory being read.
    pending: std::vec::IntoIter<Candidate>,
    /// That directory's section index, if it is large enough for one.
    index: Option<DirIndex>,
    /// The directories that could not be listed, so far.
    pub(crate) problems: Vec<Problem>,
}

/// Scans `search_path` in order, checking each file as `policy` says.
pub(crate) fn scan<'a>(search_path: &'a SearchPath, policy: &'a FilePolicy) -> Discovery<'a> {
    Discovery {
        search_path,
        policy,
        next_dir: 0,
        pending: Vec::new().into_iter(),
        index: None,
        problems: Vec::new(),
    }
}

impl Iterator for Discovery<'_> {
    type Item = Scanned;

    fn next(&mut self) -> Option<Scanned> {
        loop {
            if let Some(candidate) = self.pending.next() {
                return Some(self.scanned(candidate));
            }
            // Every file of the directory has been looked at.
            if let Some(index) = self.index.take() {
                index.save();
            }
            if self.next_dir == self.search_path.dirs().len() {
                return None;
            }
            let candidates = self
                .search_path
                .candidates_in(self.next_dir, &mut self.problems);
            if candidates.len() >= index::INDEXED_FROM && !self.policy.pins() {
                self.index = self
                    .search_path
                    .canonical_dir(self.next_dir)
                    .and_then(DirIndex::open);
            }
            self.pending = candidates.into_iter();
            self.next_dir += 1;
        }
    }
}

impl Discovery<'_> {
    fn scanned(&mut self, candidate: Candidate) -> Scanned {
        let Candidate { path, file_type } = candidate;
        let (declared, claimed) = declare(self.policy, self.index.as_mut(), &path, file_type);
        // The story `-v` tells: each file, and what became of it.
        if tracing::enabled!(tracing::Level::INFO) {
            let shown = escape_path(&path);
            match &declared {
                Ok(Some(info)) => tracing::info!("{shown}: declares backend {}", info.name),
                Ok(None) => tracing::info!(
                    "{shown}: no metadata section; it is loaded to tell its name if needed"
                ),
                Err(error) => tracing::info!("{shown}: refused: {}", error.to_text()),
            }
        }
        Scanned {
            path,
            declared,
            claimed,
        }
    }
}

/// What a file declares, checked; and the name its section claims, read
/// even from a file refused (for a message that says so).
type Declared = (Result<Option<PluginInfo>, Error>, Option<String>);

/// What the file at `path` declares: from `index` when it knows the file
/// as it is now, else read from the file (and recorded in `index`).
fn declare(
    policy: &FilePolicy,
    mut index: Option<&mut DirIndex>,
    path: &Path,
    file_type: FileType,
) -> Declared {
    if file_type.is_file()
        && let Some(index) = index.as_deref_mut()
        && let Some(declared) = indexed(policy, index, path)
    {
        return declared;
    }
    let open = match policy.open_entry(path, file_type) {
        Ok(open) => open,
        Err(error) => {
            let (_, claimed) = declared_by(policy.peek_section(path).as_deref(), path);
            return (Err(error), claimed);
        }
    };
    // Only what the index can look up again: a link is always followed.
    if file_type.is_file()
        && let (Some(index), Some(name)) = (index, path.file_name())
    {
        index.record(name, &open.file, open.section.as_deref());
    }
    let declared = declared_by(open.section.as_deref(), path);
    // Pinned files are refused by their bytes before their section is
    // believed.
    if policy.pins()
        && let Err(error) = policy.pin(&open, false)
    {
        return (Err(error), declared.1);
    }
    declared
}

/// What `index` says the regular file at `path` declares, if it knows the
/// file as it is now. The file's owner and mode, and its directories, are
/// checked as they would be had it been opened.
fn indexed(policy: &FilePolicy, index: &mut DirIndex, path: &Path) -> Option<Declared> {
    let hit = index.lookup(path.file_name()?)?;
    let (declared, claimed) = declared_by(hit.section, path);
    if let Err(error) = policy.check_inode(path, hit.owner, hit.mode) {
        return Some((Err(error), claimed));
    }
    tracing::debug!("{}: section as indexed", escape_path(path));
    Some((declared, claimed))
}

/// What a section (`None`: there is none) declares, checked, and the name
/// it claims if that is a valid one.
fn declared_by(section: Option<&[u8]>, path: &Path) -> Declared {
    let Some(section) = section else {
        return (Ok(None), None);
    };
    match Reported::from_section(section) {
        Ok(reported) => {
            let claimed = is_valid_name(&reported.name).then(|| reported.name.clone());
            let declared = reported.checked(MetadataSource::Section, path).map(Some);
            (declared, claimed)
        }
        Err(error) => (Err(error), None),
    }
}
