//! Discovery: every candidate file on the search path, and what its
//! metadata section says. No plugin code runs, and no file stays open.

use std::path::{Path, PathBuf};

use crate::escape::escape_path;
use crate::info::{MetadataSource, PluginInfo, Reported, is_valid_name};
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

/// Scans `search_path` in order, checking each file as `policy` says.
pub(crate) fn scan(search_path: &SearchPath, policy: &FilePolicy) -> (Vec<Scanned>, Vec<Problem>) {
    let _span = tracing::info_span!("discover").entered();
    let (candidates, problems) = search_path.candidates();
    let scanned = candidates
        .into_iter()
        .map(|path| {
            let (declared, claimed) = declare(policy, &path);
            // The story `-v` tells: each file, and what became of it.
            let shown = escape_path(&path);
            match &declared {
                Ok(Some(info)) => tracing::info!("{shown}: declares backend {}", info.name),
                Ok(None) => tracing::info!(
                    "{shown}: no metadata section; it is loaded to tell its name if needed"
                ),
                Err(error) => tracing::info!("{shown}: refused: {}", error.to_text()),
            }
            Scanned {
                path,
                declared,
                claimed,
            }
        })
        .collect();
    (scanned, problems)
}

/// What the file at `path` declares, checked; and the name its section
/// claims, read even from a file refused (for a message that says so).
fn declare(
    policy: &FilePolicy,
    path: &Path,
) -> (Result<Option<PluginInfo>, Error>, Option<String>) {
    let claim = |section: Option<&[u8]>| {
        let reported = Reported::from_section(section?).ok()?;
        is_valid_name(&reported.name).then_some(reported.name)
    };
    let open = match policy.open(path) {
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
