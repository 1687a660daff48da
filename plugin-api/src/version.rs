//! The plugin API version and floe's compatibility rule.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The plugin API version this crate implements.
///
/// A plugin's `floe_api_version` is this constant, captured when the plugin is
/// compiled by [`export_backend!`](crate::export_backend); authors never type it.
/// The host built from the same crate version accepts plugins whose version is
/// [compatible](ApiVersion::accepts) with it.
pub const FLOE_API_VERSION: &str = "1.1";

/// The version of this crate, which is not the API version: see the table
/// of crate and API versions in the crate documentation.
pub const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A plugin API version: `MAJOR.MINOR`, optionally followed by an ignored `.PATCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Incremented for changes that break existing plugins or hosts.
    pub major: u64,
    /// Incremented when the interface grows in a way older plugins survive.
    pub minor: u64,
}

impl ApiVersion {
    /// The version of the API defined by this crate ([`FLOE_API_VERSION`]).
    pub fn current() -> Self {
        FLOE_API_VERSION
            .parse()
            .expect("FLOE_API_VERSION is a valid API version")
    }

    /// floe's rule: a host accepts a plugin when both have the same major
    /// version and the plugin's minor version is not newer than the host's.
    /// Patch numbers never matter.
    pub fn accepts(self, plugin: ApiVersion) -> bool {
        self.major == plugin.major && plugin.minor <= self.minor
    }

    /// Parses `plugin` and checks it against `self` (the host's version).
    ///
    /// ```
    /// use floe_plugin_api::{ApiVersion, Error};
    ///
    /// let host: ApiVersion = "1.2".parse()?;
    /// assert!(host.check("1.0.7").is_ok());
    /// assert!(matches!(host.check("1.3"), Err(Error::IncompatibleApiVersion { .. })));
    /// assert!(matches!(host.check("v1"), Err(Error::MalformedApiVersion { .. })));
    /// # Ok::<(), floe_plugin_api::Error>(())
    /// ```
    pub fn check(self, plugin: &str) -> Result<ApiVersion, Error> {
        let plugin: ApiVersion = plugin.parse()?;
        if self.accepts(plugin) {
            Ok(plugin)
        } else {
            Err(Error::IncompatibleApiVersion { plugin, host: self })
        }
    }
}

impl FromStr for ApiVersion {
    type Err = Error;

    /// Accepts exactly `X.Y` or `X.Y.Z` with decimal numbers: no prefix, no
    /// pre-release or build suffix, no surrounding space.
    fn from_str(text: &str) -> Result<Self, Error> {
        let malformed = || Error::MalformedApiVersion {
            version: text.to_owned(),
        };
        let mut parts = text.split('.');
        let mut number = || parts.next().and_then(decimal);
        let (Some(major), Some(minor)) = (number(), number()) else {
            return Err(malformed());
        };
        // An optional patch number, then nothing.
        if !matches!(parts.next().map(decimal), None | Some(Some(_))) || parts.next().is_some() {
            return Err(malformed());
        }
        Ok(ApiVersion { major, minor })
    }
}

/// A number as semantic versioning writes one: decimal digits, no sign and
/// no leading zero, within a u64. Hosts check the version of every plugin
/// file they discover, so this allocates nothing.
fn decimal(text: &str) -> Option<u64> {
    let digits = text.bytes().all(|byte| byte.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if text.is_empty() || !digits || leading_zero {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> ApiVersion {
        text.parse().unwrap()
    }

    #[test]
    fn current_is_the_constant() {
        assert_eq!(ApiVersion::current().to_string(), FLOE_API_VERSION);
    }

    #[test]
    fn parses_two_and_three_part_versions() {
        assert_eq!(v("1.0"), ApiVersion { major: 1, minor: 0 });
        assert_eq!(v("1.4.9"), ApiVersion { major: 1, minor: 4 });
        assert_eq!(v("0.0"), ApiVersion { major: 0, minor: 0 });
        assert_eq!(
            v("12.345.6789"),
            ApiVersion {
                major: 12,
                minor: 345
            }
        );
    }

    #[test]
    fn rejects_malformed_versions() {
        for bad in [
            "",
            "1",
            "1.",
            ".1",
            "1..0",
            "1.0.",
            "1.0.0.0",
            "v1.0",
            "1.0-beta",
            "1.0.0-rc.1",
            "1.0.0+build",
            " 1.0",
            "1.0 ",
            "01.0",
            "1.00",
            "a.b",
            "1.x",
            "-1.0",
            "1,0",
            "１.０",
            "18446744073709551616.0",
        ] {
            let err = bad.parse::<ApiVersion>().unwrap_err();
            assert_eq!(
                err,
                Error::MalformedApiVersion {
                    version: bad.to_owned()
                },
                "{bad:?}"
            );
        }
    }

    #[test]
    fn compatible_when_major_equal_and_plugin_minor_not_newer() {
        let host = v("1.2");
        for ok in ["1.0", "1.1", "1.2", "1.2.99", "1.0.0"] {
            assert_eq!(host.check(ok).unwrap(), v(ok), "{ok}");
        }
        for bad in ["1.3", "2.0", "0.2", "0.0", "2.2", "1.10"] {
            assert_eq!(
                host.check(bad).unwrap_err(),
                Error::IncompatibleApiVersion {
                    plugin: v(bad),
                    host
                },
                "{bad}"
            );
        }
    }

    #[test]
    fn patch_never_matters() {
        assert!(v("1.0.0").accepts(v("1.0.5")));
        assert!(v("1.0.9").accepts(v("1.0.0")));
    }

    #[test]
    fn major_zero_follows_the_same_rule() {
        assert!(v("0.3").accepts(v("0.1")));
        assert!(!v("0.1").accepts(v("0.3")));
    }

    #[test]
    fn malformed_plugin_version_is_reported_before_compatibility() {
        assert!(matches!(
            v("1.0").check("2"),
            Err(Error::MalformedApiVersion { .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 5_000, ..Default::default() })]

        /// Whatever a plugin declares, parsing and checking never panic, and
        /// what parses prints back as its `MAJOR.MINOR`.
        #[test]
        fn any_declared_version(text in "\\PC{0,24}|[0-9.]{0,12}") {
            if let Ok(version) = text.parse::<ApiVersion>() {
                proptest::prop_assert!(text.starts_with(&version.to_string()));
            }
            let _ = v("1.0").check(&text);
        }
    }

    #[test]
    fn messages_name_both_versions() {
        let err = v("1.0").check("2.1").unwrap_err().to_string();
        assert!(err.contains("2.1") && err.contains("1.0"), "{err}");
    }
}
