//! Signed plugins: ed25519 keys, detached signatures beside each plugin
//! file, and the trusted keys that `--require-signatures` checks them with.
//!
//! A signature covers the whole plugin file, byte for byte. It lives in
//! `<plugin>.so.sig`, one line: `floe-ed25519 <public key> <signature>`, both
//! in lowercase hex. A trust directory holds one `*.pub` file per trusted
//! key, as `keygen` writes them. The keys and signatures are ed25519-dalek's;
//! the random seed of a new key comes from the operating system.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::{Error, input};

/// The first word of a signature file.
const SIGNATURE_TAG: &str = "floe-ed25519";

/// Signature files and key files are a line of hex: anything longer is not one.
const MAX_SMALL_FILE: u64 = 1024;

/// The signature file of the plugin file at `path`.
pub fn signature_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// The public keys signatures are checked with.
#[derive(Debug, Clone)]
pub struct Trust {
    dir: PathBuf,
    keys: Vec<VerifyingKey>,
}

impl Trust {
    /// Reads every `*.pub` file of `dir`.
    pub fn load(dir: &Path) -> Result<Trust, Error> {
        let unreadable = |reason: String| Error::TrustUnreadable {
            dir: dir.to_owned(),
            reason,
        };
        let entries = fs::read_dir(dir).map_err(|error| {
            unreadable(format!(
                "cannot read it ({error}); create it and copy the publishers' .pub files into it"
            ))
        })?;
        let mut keys = Vec::new();
        for entry in entries {
            let path = entry.map_err(|error| unreadable(error.to_string()))?.path();
            if path.extension().is_some_and(|ext| ext == "pub") {
                keys.push(read_public_key(&path)?);
            }
        }
        if keys.is_empty() {
            return Err(unreadable(
                "it holds no trusted key (*.pub); copy the publishers' .pub files into it"
                    .to_owned(),
            ));
        }
        Ok(Trust {
            dir: dir.to_owned(),
            keys,
        })
    }

    /// Whether `data`, the bytes of the plugin file at `path`, carries a
    /// good signature by a trusted key in `<path>.sig`.
    pub(crate) fn verify(&self, path: &Path, data: &[u8]) -> Result<(), Error> {
        let sig_path = signature_path(path);
        let text = match read_small(&sig_path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Unsigned {
                    signature: sig_path,
                });
            }
            Err(error) => {
                return Err(Error::BadSignature {
                    reason: format!("cannot read {} ({error})", sig_path.display()),
                });
            }
        };
        let bad = |reason: &str| Error::BadSignature {
            reason: format!("{}: {reason}", sig_path.display()),
        };
        let mut words = text.split_whitespace();
        let (Some(SIGNATURE_TAG), Some(key), Some(signature), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(bad("not a floe-telemetry signature file"));
        };
        let key = hex_array::<32>(key)
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
            .ok_or_else(|| bad("its public key is not an ed25519 key"))?;
        let signature = hex_array::<64>(signature)
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or_else(|| bad("its signature is not 64 bytes of hex"))?;
        if !self.keys.contains(&key) {
            return Err(Error::UntrustedKey {
                key: hex(key.as_bytes()),
                trust_dir: self.dir.clone(),
            });
        }
        key.verify_strict(data, &signature).map_err(|_| {
            bad("the signature does not match the file: it changed after it was signed")
        })
    }
}

/// Makes a new key pair: `<base>.key`, the secret key, readable only by its
/// owner, and `<base>.pub`, the public key to put in trust directories.
/// Never overwrites a file.
pub fn keygen(base: &Path) -> Result<(PathBuf, PathBuf), Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|error| Error::KeyUnusable {
        file: base.to_owned(),
        reason: format!("the operating system gave no random bytes ({error})"),
    })?;
    let key = SigningKey::from_bytes(&seed);
    let secret = base.with_extension("key");
    let public = base.with_extension("pub");
    write_new(&secret, &hex(&seed), 0o600)?;
    write_new(&public, &hex(key.verifying_key().as_bytes()), 0o644)?;
    Ok((secret, public))
}

/// Signs the plugin file `plugin` with the secret key in `key_file`, writing
/// `<plugin>.sig` (replacing an older one).
pub fn sign(plugin: &Path, key_file: &Path) -> Result<PathBuf, Error> {
    let unusable = |reason: String| Error::KeyUnusable {
        file: key_file.to_owned(),
        reason,
    };
    let text =
        read_small(key_file).map_err(|error| unusable(format!("cannot read it ({error})")))?;
    let seed = hex_array::<32>(text.trim()).ok_or_else(|| {
        unusable(
            "not a secret key: expected 64 hex digits, as `floe-telemetry keygen` writes".into(),
        )
    })?;
    let key = SigningKey::from_bytes(&seed);
    let data = fs::read(plugin)?;
    let signature = key.sign(&data);
    let path = signature_path(plugin);
    let line = format!(
        "{SIGNATURE_TAG} {} {}\n",
        hex(key.verifying_key().as_bytes()),
        hex(&signature.to_bytes())
    );
    fs::write(&path, line)?;
    Ok(path)
}

fn read_public_key(path: &Path) -> Result<VerifyingKey, Error> {
    let unusable = |reason: String| Error::KeyUnusable {
        file: path.to_owned(),
        reason,
    };
    let text = read_small(path).map_err(|error| unusable(format!("cannot read it ({error})")))?;
    hex_array::<32>(text.trim())
        .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        .ok_or_else(|| {
            unusable(
                "not a public key: expected 64 hex digits, as `floe-telemetry keygen` writes"
                    .into(),
            )
        })
}

/// A short text file; a longer one, or one that is not a regular file, is
/// refused without reading it whole.
fn read_small(path: &Path) -> std::io::Result<String> {
    input::read_regular_text(path, MAX_SMALL_FILE)
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|error| Error::KeyUnusable {
            file: path.to_owned(),
            reason: format!("cannot create it ({error}); keygen never overwrites a key"),
        })?;
    writeln!(file, "{text}")?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Setup {
        dir: tempfile::TempDir,
        plugin: PathBuf,
        secret: PathBuf,
        trust: Trust,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let trusted = dir.path().join("trusted");
        fs::create_dir(&trusted).unwrap();
        let (secret, public) = keygen(&dir.path().join("publisher")).unwrap();
        fs::copy(&public, trusted.join("publisher.pub")).unwrap();
        let plugin = dir.path().join("plugin.so");
        fs::write(&plugin, b"the plugin's bytes").unwrap();
        let trust = Trust::load(&trusted).unwrap();
        Setup {
            dir,
            plugin,
            secret,
            trust,
        }
    }

    #[test]
    fn a_signed_file_verifies_and_a_flipped_byte_does_not() {
        let setup = setup();
        sign(&setup.plugin, &setup.secret).unwrap();
        assert!(
            setup
                .trust
                .verify(&setup.plugin, b"the plugin's bytes")
                .is_ok()
        );
        let error = setup
            .trust
            .verify(&setup.plugin, b"the plugin's bytez")
            .unwrap_err();
        assert!(matches!(error, Error::BadSignature { .. }), "{error}");
    }

    #[test]
    fn unsigned_and_untrusted_are_told_apart() {
        let setup = setup();
        let error = setup.trust.verify(&setup.plugin, b"x").unwrap_err();
        assert!(matches!(error, Error::Unsigned { .. }), "{error}");

        let (other, _) = keygen(&setup.dir.path().join("stranger")).unwrap();
        sign(&setup.plugin, &other).unwrap();
        let error = setup
            .trust
            .verify(&setup.plugin, b"the plugin's bytes")
            .unwrap_err();
        assert!(matches!(error, Error::UntrustedKey { .. }), "{error}");
    }

    #[test]
    fn keygen_never_overwrites_and_keeps_the_secret_private() {
        use std::os::unix::fs::PermissionsExt;
        let setup = setup();
        let mode = fs::metadata(&setup.secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        let error = keygen(&setup.dir.path().join("publisher")).unwrap_err();
        assert!(error.to_string().contains("never overwrites"), "{error}");
    }

    #[test]
    fn garbled_signature_files_are_bad_signatures() {
        let setup = setup();
        let sig = signature_path(&setup.plugin);
        for text in [
            "",
            "floe-ed25519",
            "floe-ed25519 zz zz",
            "other 00 00",
            &format!("floe-ed25519 {} {}", "0".repeat(64), "0".repeat(128)),
            &"a".repeat(5000),
        ] {
            fs::write(&sig, text).unwrap();
            let error = setup.trust.verify(&setup.plugin, b"x").unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::BadSignature { .. } | Error::UntrustedKey { .. }
                ),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn hex_round_trips_and_refuses_bad_digits() {
        assert_eq!(hex_array::<2>(&hex(&[0xab, 0x01])), Some([0xab, 0x01]));
        assert_eq!(hex_array::<2>("abc"), None);
        assert_eq!(hex_array::<2>("zzzz"), None);
        assert_eq!(hex_array::<2>("ééé"), None);
    }
}
