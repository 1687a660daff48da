//! The binary interface between the floe-telemetry host and a backend plugin.
//!
//! Everything that crosses the shared-library boundary is declared here, and
//! nothing else is. Plugin authors never touch these types: the
//! [`export_backend!`](crate::export_backend) macro builds them from a
//! [`TelemetryBackend`](crate::TelemetryBackend). The host reads them.
//!
//! Two symbols are exported by every plugin:
//!
//! - [`API_VERSION_SYMBOL`]: a plain [`ApiVersionTag`], readable without
//!   running any plugin function, so the host can refuse a plugin built for an
//!   incompatible API before it calls anything, whatever the rest of its
//!   layout looks like;
//! - abi_stable's root-module header, through which the host checks the layout
//!   of [`BackendModule`] and obtains it.
//!
//! # Evolving the interface
//!
//! [`BackendModule`] is an abi_stable prefix type. A later minor API version
//! may append fields after the last one; it may never reorder, retype or remove
//! one. A host then reads an appended field as absent from plugins built
//! against an older minor version.

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    sabi_types::VersionStrings,
    std_types::{RResult, RStr, RString},
};

/// Name of the exported [`ApiVersionTag`] static.
pub const API_VERSION_SYMBOL: &str = "floe_telemetry_api_version";

/// The first bytes of every [`ApiVersionTag`]: tells a floe tag apart from an
/// unrelated symbol that happens to share its name.
pub const API_VERSION_MAGIC: [u8; 8] = *b"floeapi\0";

/// Room for the version text in an [`ApiVersionTag`].
pub const API_VERSION_CAPACITY: usize = 23;

/// The plugin API version a plugin was built against, as plain data.
///
/// 32 bytes, `#[repr(C)]`, no pointers: the host reads it straight from the
/// mapped library.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiVersionTag {
    /// Always [`API_VERSION_MAGIC`].
    pub magic: [u8; 8],
    /// Number of meaningful bytes in `text`.
    pub len: u8,
    /// The version as UTF-8, e.g. `1.0`, padded with zeros.
    pub text: [u8; API_VERSION_CAPACITY],
}

impl ApiVersionTag {
    /// Builds a tag for `version`.
    ///
    /// # Panics
    ///
    /// At compile time (it is used in a `static`) if `version` is longer than
    /// [`API_VERSION_CAPACITY`] bytes.
    pub const fn new(version: &str) -> Self {
        let bytes = version.as_bytes();
        assert!(
            bytes.len() <= API_VERSION_CAPACITY,
            "API version text is too long"
        );
        let mut text = [0u8; API_VERSION_CAPACITY];
        let mut i = 0;
        while i < bytes.len() {
            text[i] = bytes[i];
            i += 1;
        }
        Self {
            magic: API_VERSION_MAGIC,
            len: bytes.len() as u8,
            text,
        }
    }

    /// The version text, or `None` when the tag is not a floe tag or its text
    /// is not UTF-8. Never trusts `len` beyond the buffer.
    pub fn version(&self) -> Option<&str> {
        if self.magic != API_VERSION_MAGIC {
            return None;
        }
        let text = self.text.get(..usize::from(self.len))?;
        std::str::from_utf8(text).ok()
    }
}

/// Why a plugin call produced no value; [`CallError::kind`] holds one of the
/// associated constants, and a host treats any other code as [`Self::FAILED`].
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallErrorKind(pub u8);

impl CallErrorKind {
    /// The backend returned an error.
    pub const FAILED: Self = Self(1);
    /// The backend panicked; the panic was caught inside the plugin.
    pub const PANICKED: Self = Self(2);
}

/// The error half of [`CallResult`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct CallError {
    /// What kind of failure this is.
    pub kind: CallErrorKind,
    /// A human-readable explanation from the plugin.
    pub message: RString,
}

/// What every plugin call returns: a JSON object as UTF-8 text, or an error.
pub type CallResult = RResult<RString, CallError>;

/// A plugin call. `extern "C"`, so it must never unwind: the export macro
/// catches panics and returns them as [`CallErrorKind::PANICKED`].
/// (The root module spells the type out: abi_stable reads it syntactically.)
pub type CallFn = extern "C" fn() -> CallResult;

/// The root module every backend plugin exports (API version 1.0).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = BackendModuleRef)))]
#[sabi(missing_field(panic))]
pub struct BackendModule {
    /// The plugin API version the plugin was built against; the same text as
    /// its [`ApiVersionTag`].
    pub floe_api_version: RStr<'static>,
    /// Unique backend name, e.g. `jaeger`.
    pub name: RStr<'static>,
    /// The plugin's own semantic version.
    pub version: RStr<'static>,
    /// One line describing the backend.
    pub description: RStr<'static>,
    /// Whether the backend's services run in the user's cluster.
    pub self_hosted: bool,
    /// Returns the OpenTelemetry Collector fragment for this backend.
    pub get_otlp_exporter_config: extern "C" fn() -> CallResult,
    /// Returns Helm values that deploy the backend's own services.
    #[sabi(last_prefix_field)]
    pub get_helm_values_override: extern "C" fn() -> CallResult,
}

impl RootModule for BackendModuleRef {
    declare_root_module_statics! {BackendModuleRef}

    const BASE_NAME: &'static str = "floe_telemetry_backend";
    const NAME: &'static str = "floe telemetry backend";
    // The host applies floe's own version rule to FLOE_API_VERSION instead of
    // abi_stable's; this only has to parse.
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_tag_reads_back_its_version() {
        assert_eq!(ApiVersionTag::new("1.0").version(), Some("1.0"));
        assert_eq!(ApiVersionTag::new("").version(), Some(""));
        let mut foreign = ApiVersionTag::new("1.0");
        foreign.magic[0] = b'x';
        assert_eq!(foreign.version(), None);
    }

    #[test]
    fn a_tag_is_32_plain_bytes() {
        assert_eq!(std::mem::size_of::<ApiVersionTag>(), 32);
        assert_eq!(std::mem::align_of::<ApiVersionTag>(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

        /// A tag read from a hostile file: any bytes at all, including a
        /// length beyond the buffer, never panic and never read past it.
        #[test]
        fn any_tag_bytes(len in any::<u8>(), text in any::<[u8; API_VERSION_CAPACITY]>(), good_magic in any::<bool>()) {
            let magic = if good_magic { API_VERSION_MAGIC } else { *b"\x7fELF\0\0\0\0" };
            let tag = ApiVersionTag { magic, len, text };
            if let Some(version) = tag.version() {
                prop_assert!(version.len() <= API_VERSION_CAPACITY);
                prop_assert!(good_magic);
            }
        }
    }
}
