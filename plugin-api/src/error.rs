//! The error type of this crate.

use thiserror::Error;

use crate::ApiVersion;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A version string is not `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`.
    #[error("{version:?} is not a plugin API version (expected MAJOR.MINOR or MAJOR.MINOR.PATCH)")]
    MalformedApiVersion {
        /// The text as found.
        version: String,
    },
    /// A plugin was built against an API version the host does not accept.
    #[error(
        "plugin API {plugin} is not supported by this host (API {host}): {}",
        if plugin.major != host.major { "major versions differ" } else { "the plugin is newer" }
    )]
    IncompatibleApiVersion {
        /// What the plugin was built against.
        plugin: ApiVersion,
        /// What the host implements.
        host: ApiVersion,
    },
}
