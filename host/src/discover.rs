//! Discovery: every candidate file on the search path, and what its
//! metadata section says. No plugin code runs, and no file stays open.

use std::fs::FileType;
use std::path::{Path, PathBuf};

use crate::escape::escape_path;
use crate::info::{MetadataSource, PluginInfo, Reported, is_valid_name};
use crate::search_path::Candidate;
use crate::verify::FilePolicy;
use crate::{Error, Problem, SearchPath};

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
            if self.next_dir == self.search_path.dirs().len() {
                return None;
            }
            self.pending = self
                .search_path
                .candidates_in(self.next_dir, &mut self.problems)
                .into_iter();
            self.next_dir += 1;
        }
    }
}

impl Discovery<'_> {
    fn scanned(&self, candidate: Candidate) -> Scanned {
        let Candidate { path, file_type } = candidate;
        let (declared, claimed) = declare(self.policy, &path, file_type);
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

/// What the file at `path` declares, checked; and the name its section
/// claims, read even from a file refused (for a message that says so).
fn declare(
    policy: &FilePolicy,
    path: &Path,
    file_type: FileType,
) -> (Result<Option<PluginInfo>, Error>, Option<String>) {
    let claim = |section: Option<&[u8]>| {
        let reported = Reported::from_section(section?).ok()?;
        is_valid_name(&reported.name).then_some(reported.name)
    };
    let open = match policy.open_entry(path, file_type) {
        Ok(open) => open,
        Err(error) => return (Err(error), claim(policy.peek_section(path).as_deref())),
    };
    let claimed = claim(open.section.as_deref());
    // Pinned files are refused by their bytes before their section is
    // believed.
    if policy.pins()
        && let Err(error) = policy.pin(&open, false)
    {
        return (Err(error), claimed);
    }
    let declared = match &open.section {
        Some(section) => Reported::from_section(section)
            .and_then(|reported| reported.checked(MetadataSource::Section, path))
            .map(Some),
        None => Ok(None),
    };
    (declared, claimed)
}
