//! Pinning plugins: a lock file of the plugins installed, each with the
//! sha256 of its file, and the check that refuses any other file.
//!
//! `floe-telemetry lock` writes the file from what `list` finds (no plugin is
//! loaded to write it); with `--locked`, every candidate file must be in it
//! with the same hash, checked from the file's bytes before anything else
//! reads the file as a plugin.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Listing, input};

/// Where `lock` writes and `--locked` reads, unless told otherwise: in the
/// current directory.
pub const DEFAULT_LOCK_FILE: &str = "floe-telemetry.lock";

/// A lock file pins a few hundred bytes per plugin: anything this long is
/// not one, and is refused before it fills the memory.
const MAX_LOCK_FILE: u64 = 16 << 20;

/// The format of the lock file this host writes and reads.
const FORMAT: u32 = 1;

/// A lock file: the plugins allowed, each pinned to the hash of its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Always 1.
    pub format: u32,
    /// The plugins, in search order.
    pub plugins: Vec<LockedPlugin>,
}

/// One pinned plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPlugin {
    /// The backend's name.
    pub name: String,
    /// The plugin's version, for people reading the file.
    pub version: semver::Version,
    /// The plugin file, as an absolute path with links resolved.
    pub path: PathBuf,
    /// The sha256 of the file, in lowercase hex.
    pub sha256: String,
}

/// A lock file and where it came from, for messages.
#[derive(Debug, Clone)]
pub struct Locked {
    /// The file.
    pub file: PathBuf,
    /// What it pins.
    pub lock: Lock,
}

impl Lock {
    /// Pins every plugin of `listing` (from [`Catalog::lock_listing`](crate::Catalog::lock_listing)),
    /// with the hash of the very bytes that were loaded and checked.
    pub fn of(listing: &Listing) -> Result<Lock, Error> {
        let plugins = listing
            .plugins
            .iter()
            .zip(&listing.sha256)
            .map(|(info, sha256)| {
                Ok(LockedPlugin {
                    name: info.name.clone(),
                    version: info.version.clone(),
                    path: info.path.canonicalize()?,
                    sha256: sha256.clone(),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Lock {
            format: FORMAT,
            plugins,
        })
    }

    /// The lock file as written: pretty JSON, one plugin a block.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a lock serialises");
        text.push('\n');
        text
    }
}

impl Locked {
    /// Reads the lock file `file`.
    pub fn load(file: &Path) -> Result<Locked, Error> {
        let unreadable = |reason: String| Error::LockUnreadable {
            file: file.to_owned(),
            reason,
        };
        let text = input::read_regular_text(file, MAX_LOCK_FILE).map_err(|error| {
            unreadable(format!(
                "cannot read it ({error}); write it with `floe-telemetry lock`"
            ))
        })?;
        let lock: Lock = serde_json::from_str(&text).map_err(|error| {
            unreadable(format!(
                "not a lock file ({error}); write it again with `floe-telemetry lock`"
            ))
        })?;
        if lock.format != FORMAT {
            return Err(unreadable(format!(
                "lock file format {} is not {FORMAT}; write it again with this floe-telemetry's \
                 `floe-telemetry lock`",
                lock.format
            )));
        }
        Ok(Locked {
            file: file.to_owned(),
            lock,
        })
    }

    /// Whether the file at `path`, whose bytes are `data`, is pinned by the
    /// lock with this very content.
    pub(crate) fn verify(&self, path: &Path, data: &[u8]) -> Result<(), Error> {
        let path = path.canonicalize()?;
        let Some(entry) = self.lock.plugins.iter().find(|entry| entry.path == path) else {
            return Err(Error::NotLocked {
                lock: self.file.clone(),
            });
        };
        let found = sha256_hex(data);
        if found != entry.sha256.to_ascii_lowercase() {
            return Err(Error::HashMismatch {
                lock: self.file.clone(),
                name: entry.name.clone(),
                expected: entry.sha256.clone(),
                found,
            });
        }
        Ok(())
    }
}

/// The sha256 of `data`, in lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn sha256_of_known_text() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn locked(dir: &Path, files: &[(&str, &[u8])]) -> Locked {
        let plugins = files
            .iter()
            .map(|(name, data)| {
                let path = dir.join(format!("{name}.so"));
                fs::write(&path, data).unwrap();
                LockedPlugin {
                    name: (*name).to_owned(),
                    version: semver::Version::new(0, 1, 0),
                    path: path.canonicalize().unwrap(),
                    sha256: sha256_hex(data),
                }
            })
            .collect();
        Locked {
            file: dir.join(DEFAULT_LOCK_FILE),
            lock: Lock {
                format: FORMAT,
                plugins,
            },
        }
    }

    #[test]
    fn a_pinned_file_passes_and_one_flipped_byte_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let locked = locked(tmp.path(), &[("jaeger", b"the plugin's bytes")]);
        let path = tmp.path().join("jaeger.so");
        assert!(locked.verify(&path, b"the plugin's bytes").is_ok());
        let error = locked.verify(&path, b"the plugin's bytez").unwrap_err();
        assert!(matches!(error, Error::HashMismatch { .. }), "{error}");
        assert!(error.to_string().contains("jaeger"), "{error}");
    }

    #[test]
    fn a_file_not_in_the_lock_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let locked = locked(tmp.path(), &[("jaeger", b"x")]);
        let other = tmp.path().join("other.so");
        fs::write(&other, b"x").unwrap();
        let error = locked.verify(&other, b"x").unwrap_err();
        assert!(matches!(error, Error::NotLocked { .. }), "{error}");
    }

    #[test]
    fn the_file_reads_back_and_damage_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let locked = locked(tmp.path(), &[("jaeger", b"x"), ("datadog", b"y")]);
        fs::write(&locked.file, locked.lock.to_json()).unwrap();
        assert_eq!(Locked::load(&locked.file).unwrap().lock, locked.lock);

        fs::write(&locked.file, "{\"format\": 1}").unwrap();
        let error = Locked::load(&locked.file).unwrap_err();
        assert!(matches!(error, Error::LockUnreadable { .. }), "{error}");
        let missing = tmp.path().join("missing.lock");
        let error = Locked::load(&missing).unwrap_err().to_string();
        assert!(error.contains("floe-telemetry lock"), "{error}");
    }
}
