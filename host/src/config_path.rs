//! Which configuration file a command reads when `-c` does not say: the
//! environment, then the user's, then the system's.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::CONFIG_ENV;

/// The system-wide configuration file.
pub const SYSTEM_CONFIG: &str = "/etc/floe/telemetry.yaml";

/// Why a configuration file was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Named with `-c`.
    Flag,
    /// Named by [`CONFIG_ENV`].
    Env,
    /// The user's: `$XDG_CONFIG_HOME/floe-telemetry/config.yaml`.
    User,
    /// [`SYSTEM_CONFIG`].
    System,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigSource::Flag => "named with -c",
            ConfigSource::Env => "named by $FLOE_TELEMETRY_CONFIG",
            ConfigSource::User => "the user's configuration file",
            ConfigSource::System => "the system configuration file",
        })
    }
}

/// The configuration file to read, and why: `flag` (`-c`), else the file
/// [`CONFIG_ENV`] names, else the user's file, else [`SYSTEM_CONFIG`], the
/// last two only if they exist. `None`: no configuration file, so the
/// defaults. A file named by `-c` or the environment is returned even if
/// missing, so that reading it says so.
pub fn find(flag: Option<&Path>) -> Option<(PathBuf, ConfigSource)> {
    let env = std::env::var_os(CONFIG_ENV).filter(|value| !value.is_empty());
    let found = find_in(flag, env, user_config(), Path::new(SYSTEM_CONFIG));
    match &found {
        Some((file, source)) => {
            tracing::info!(file = %file.display(), "configuration file: {source}");
        }
        None => tracing::info!(
            "no configuration file (no -c, no ${CONFIG_ENV}, none at {} or {SYSTEM_CONFIG}); \
             the default backend with its defaults",
            user_config().map_or_else(
                || "$XDG_CONFIG_HOME/floe-telemetry/config.yaml".to_owned(),
                |path| path.display().to_string()
            )
        ),
    }
    found
}

fn find_in(
    flag: Option<&Path>,
    env: Option<OsString>,
    user: Option<PathBuf>,
    system: &Path,
) -> Option<(PathBuf, ConfigSource)> {
    if let Some(file) = flag {
        return Some((file.to_owned(), ConfigSource::Flag));
    }
    if let Some(file) = env {
        return Some((file.into(), ConfigSource::Env));
    }
    // A path that exists but cannot be read is still the one meant: reading
    // it reports why, rather than falling through to another file.
    let exists = |path: &Path| path.symlink_metadata().is_ok();
    if let Some(file) = user.filter(|file| exists(file)) {
        return Some((file, ConfigSource::User));
    }
    exists(system).then(|| (system.to_owned(), ConfigSource::System))
}

/// `$XDG_CONFIG_HOME/floe-telemetry/config.yaml`, with `~/.config` for an
/// unset or relative `$XDG_CONFIG_HOME`, as the XDG base directory
/// specification says.
pub fn user_config() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config").map(|dir| dir.join("floe-telemetry/config.yaml"))
}

/// The XDG base directory `$var`, or `$HOME/default` when it is unset,
/// empty or relative.
pub(crate) fn xdg_dir(var: &str, default: &str) -> Option<PathBuf> {
    let absolute = |value: OsString| Some(PathBuf::from(value)).filter(|p| p.is_absolute());
    std::env::var_os(var).and_then(absolute).or_else(|| {
        std::env::var_os("HOME")
            .and_then(absolute)
            .map(|home| home.join(default))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_then_env_then_user_then_system() {
        let tmp = tempfile::tempdir().unwrap();
        let user = tmp.path().join("user.yaml");
        let system = tmp.path().join("system.yaml");
        let none = |flag: Option<&Path>, env: Option<&str>| {
            find_in(flag, env.map(Into::into), Some(user.clone()), &system)
        };
        assert_eq!(none(None, None), None);
        std::fs::write(&system, "").unwrap();
        assert_eq!(
            none(None, None),
            Some((system.clone(), ConfigSource::System))
        );
        std::fs::write(&user, "").unwrap();
        assert_eq!(none(None, None), Some((user.clone(), ConfigSource::User)));
        assert_eq!(
            none(None, Some("/e.yaml")),
            Some(("/e.yaml".into(), ConfigSource::Env))
        );
        assert_eq!(
            none(Some(Path::new("/c.yaml")), Some("/e.yaml")),
            Some(("/c.yaml".into(), ConfigSource::Flag))
        );
    }
}
