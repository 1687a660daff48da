//! Selection: which files a command loads, and which file provides each name.
//!
//! One rule for `list`, `lock` and every command that loads plugins: a file
//! that names its backend in its metadata section claims that name, in
//! search order, before any file that has to be loaded to tell its name; of
//! two files claiming one name, the first is used and the second reported.
//! A file that claims a name and is refused keeps the name: asking for that
//! backend reports the refusal, and no later file stands in for it.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::discover::Scanned;
use crate::info::PluginInfo;
use crate::{Error, Problem};

/// The backends a command needs.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'a> {
    /// Every plugin installed: `check`, `lock`.
    All,
    /// Only the files providing these backends.
    Names(&'a [&'a str]),
}

/// A file to load, with what its section declared (`None`: it has none).
#[derive(Debug)]
pub(crate) struct ToLoad {
    pub(crate) path: PathBuf,
    pub(crate) declared: Option<PluginInfo>,
}

/// What selection decided.
#[derive(Debug, Default)]
pub(crate) struct Selected {
    /// The files to load, in search order.
    pub(crate) to_load: Vec<ToLoad>,
    /// Files refused or shadowed while selecting.
    pub(crate) problems: Vec<Problem>,
    /// Who provides each name: the file claiming it first.
    pub(crate) providers: Names,
}

/// Which file provides each backend name.
#[derive(Debug, Default)]
pub(crate) struct Names {
    by_name: HashMap<String, PathBuf>,
}

impl Names {
    /// Gives `name` to `path` unless another file has it: then the error
    /// that reports `path` as a duplicate.
    pub(crate) fn admit(&mut self, name: &str, path: &PathBuf) -> Result<(), Error> {
        match self.by_name.get(name) {
            Some(first) if first != path => Err(Error::DuplicateName {
                name: name.to_owned(),
                first: first.clone(),
            }),
            Some(_) => Ok(()),
            None => {
                self.by_name.insert(name.to_owned(), path.clone());
                Ok(())
            }
        }
    }

    /// The file that provides `name`.
    pub(crate) fn provider(&self, name: &str) -> Option<&PathBuf> {
        self.by_name.get(name)
    }

    /// Every name some file claims, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        names
    }
}

/// Decides what to load of `scanned`, in search order, for `selection`.
///
/// For [`Selection::Names`], it takes files from `scanned` only until every
/// name has a provider: the first file whose section claims a name provides
/// it, and a file without a section is only ever loaded when a name is
/// still missing after all of them, so no later file could change who
/// provides a name. The later files are not read (nor their problems
/// reported), as a `PATH` lookup stops at the first match. Every other
/// selection reads every file.
pub(crate) fn select(scanned: impl Iterator<Item = Scanned>, selection: Selection<'_>) -> Selected {
    let mut selected = Selected::default();
    let mut to_load = Vec::new();
    let mut without_section = Vec::new();
    let mut scanned = scanned.enumerate();
    while !provided(selection, &selected.providers) {
        let Some((index, scanned)) = scanned.next() else {
            break;
        };
        let Scanned {
            path,
            declared,
            claimed,
        } = scanned;
        match declared {
            Ok(Some(info)) => match selected.providers.admit(&info.name, &path) {
                Ok(()) if wanted(selection, &info.name) => to_load.push((
                    index,
                    ToLoad {
                        path,
                        declared: Some(info),
                    },
                )),
                Ok(()) => {}
                Err(error) => selected.problems.push(Problem::new(path, error)),
            },
            Ok(None) => without_section.push((
                index,
                ToLoad {
                    path,
                    declared: None,
                },
            )),
            Err(error) => {
                if let Some(name) = claimed {
                    // Refused, but the name is taken: nothing stands in.
                    let _ = selected.providers.admit(&name, &path);
                }
                selected.problems.push(Problem::new(path, error));
            }
        }
    }
    // Files without a section are loaded only where they might provide a
    // backend still missing.
    if !provided(selection, &selected.providers) {
        to_load.extend(without_section);
        // Back in search order.
        to_load.sort_unstable_by_key(|(index, _)| *index);
    }
    selected.to_load = to_load.into_iter().map(|(_, file)| file).collect();
    selected
}

/// Whether every backend `selection` needs has a provider: never for
/// [`Selection::All`], which needs whatever there is.
fn provided(selection: Selection<'_>, providers: &Names) -> bool {
    match selection {
        Selection::All => false,
        Selection::Names(names) => names.iter().all(|name| providers.provider(name).is_some()),
    }
}

fn wanted(selection: Selection<'_>, name: &str) -> bool {
    match selection {
        Selection::All => true,
        Selection::Names(names) => names.contains(&name),
    }
}
