//! The subcommands that manage the installation: `install`, `uninstall`,
//! and the shell completions and manual page the packages ship.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;
use floe_host::install::{self, Installed};
use floe_host::lock::Locked;
use floe_host::{Isolation, LoadOptions, SearchPath};

use crate::cli::{Cli, InstallArgs, Shell, UninstallArgs};
use crate::commands::fail;

/// What `install` and `uninstall` work with.
pub struct Manage<'a> {
    pub search_path: &'a SearchPath,
    pub options: &'a LoadOptions,
    pub isolation: &'a Isolation,
    /// The lock file in use (`--locked`), kept up to date.
    pub lock: Option<&'a Locked>,
}

impl Manage<'_> {
    pub fn install(&self, args: &InstallArgs) -> ExitCode {
        let dir = match target_dir(args.system) {
            Ok(dir) => dir,
            Err(code) => return code,
        };
        let installed = install::install(
            &args.plugin,
            &dir,
            self.search_path,
            self.options,
            self.isolation,
            args.force,
        );
        match installed {
            Ok(Installed::Unchanged { info }) => {
                eprintln!(
                    "{} {} is already installed as {}; nothing to do",
                    info.name,
                    info.version,
                    info.path.display()
                );
                ExitCode::SUCCESS
            }
            Ok(Installed::New {
                info,
                path,
                replaced,
            }) => {
                if let Some(lock) = self.lock {
                    let removed: Vec<&std::path::Path> =
                        replaced.iter().map(|old| old.path.as_path()).collect();
                    if let Err(error) = install::update_lock(lock, Some(&info), &removed) {
                        return fail(&error);
                    }
                    eprintln!("pinned it in {}", lock.file.display());
                }
                match replaced {
                    Some(old) => eprintln!(
                        "installed {} {} as {}, replacing {} {}",
                        info.name,
                        info.version,
                        path.display(),
                        old.name,
                        old.version
                    ),
                    None => eprintln!(
                        "installed {} {} as {}",
                        info.name,
                        info.version,
                        path.display()
                    ),
                }
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        }
    }

    pub fn uninstall(&self, args: &UninstallArgs) -> ExitCode {
        let dir = match target_dir(args.system) {
            Ok(dir) => dir,
            Err(code) => return code,
        };
        match install::uninstall(
            &args.name,
            &dir,
            self.search_path,
            self.options,
            self.isolation,
        ) {
            Ok(removed) => {
                if let Some(lock) = self.lock {
                    if let Err(error) = install::update_lock(lock, None, &[removed.as_path()]) {
                        return fail(&error);
                    }
                    eprintln!("unpinned it in {}", lock.file.display());
                }
                eprintln!("removed {}", removed.display());
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        }
    }
}

/// The system plugin directory with `system`, else the user's.
fn target_dir(system: bool) -> Result<PathBuf, ExitCode> {
    let dir = if system {
        SearchPath::system_dir()
    } else {
        SearchPath::user_dir()
    };
    dir.ok_or_else(|| {
        eprintln!(
            "error: cannot tell where the {} plugin directory is ({}); set it, or use --{}",
            if system { "system" } else { "per-user" },
            if system {
                "the executable's path is unknown"
            } else {
                "neither $XDG_DATA_HOME nor $HOME is an absolute path"
            },
            if system { "user" } else { "system" }
        );
        ExitCode::FAILURE
    })
}

pub fn completions(shell: Shell) -> io::Result<ExitCode> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "floe-telemetry", &mut script);
    io::stdout().lock().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// The manual page, from the same definitions as `--help`.
pub fn manpage() -> io::Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    io::stdout().lock().write_all(&page)?;
    Ok(ExitCode::SUCCESS)
}
