//! Discovery: every candidate file on the search path, and what its
//! metadata section says. No plugin code runs, and no file stays open.

use std::path::PathBuf;

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
            let mut claimed = None;
            let declared = policy.open(&path).and_then(|open| {
                // Pinned files are refused by their bytes before their
                // section is believed.
                if policy.pins() {
                    policy.pin(&open, false)?;
                }
                let Some(section) = open.section else {
                    return Ok(None);
                };
                let reported = Reported::from_section(&section)?;
                if is_valid_name(&reported.name) {
                    claimed = Some(reported.name.clone());
                }
                reported.checked(MetadataSource::Section, &path).map(Some)
            });
            match &declared {
                Ok(Some(info)) => {
                    tracing::debug!(path = %path.display(), name = %info.name, "declares a backend")
                }
                Ok(None) => tracing::debug!(path = %path.display(), "has no metadata section"),
                Err(error) => tracing::debug!(path = %path.display(), %error, "refused"),
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
