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
//!
//! - API 1.0: metadata, `get_otlp_exporter_config`, `get_helm_values_override`.
//! - API 1.1 appends `signals`, `get_settings_schema` and the three calls that
//!   take settings (`*_with`). Their accessors return `Option`: `None` from a
//!   1.0 plugin, which the host treats as a backend without settings.
//!
//! abi_stable's layout check accepts a library whose prefix type has *more*
//! fields than the loader expects, not fewer: it lets an old host load a new
//! plugin, not the other way round. So a host checks a plugin that declares
//! API 1.0 against [`v1_0::BackendModule`], the 1.0 layout kept here
//! unchanged, and then reads it through [`BackendModuleRef`], whose appended
//! fields it then sees as absent (their accessors consult the plugin's own
//! record of which fields it has).
//!
//! # Settings
//!
//! A 1.1 plugin publishes a JSON Schema for its settings
//! (`get_settings_schema`). The host validates the user's settings against it
//! *before* it makes any call that takes them, and passes them as the text of
//! a JSON object; `{}` means "all defaults".

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

/// The telemetry signals a backend accepts, as a bit set.
///
/// Unknown bits (from a newer plugin) are kept but never named.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signals(pub u8);

impl Signals {
    /// No signal.
    pub const NONE: Self = Self(0);
    /// Traces (spans).
    pub const TRACES: Self = Self(1);
    /// Metrics.
    pub const METRICS: Self = Self(2);
    /// Logs.
    pub const LOGS: Self = Self(4);
    /// Traces, metrics and logs.
    pub const ALL: Self = Self(1 | 2 | 4);

    /// The named signals, in this order, with their names.
    pub const NAMED: [(Self, &'static str); 3] = [
        (Self::TRACES, "traces"),
        (Self::METRICS, "metrics"),
        (Self::LOGS, "logs"),
    ];

    /// Both sets together.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every signal of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the known signals in the set, e.g. `["traces", "logs"]`.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMED
            .iter()
            .filter(|(signal, _)| self.contains(*signal))
            .map(|(_, name)| *name)
            .collect()
    }

    /// The signal called `name` (`traces`, `metrics` or `logs`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMED
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(signal, _)| *signal)
    }
}

/// A plugin call that takes the validated settings, as the text of a JSON
/// object. (The root module spells the type out: abi_stable reads it
/// syntactically.)
pub type CallWithFn = extern "C" fn(settings: RStr<'_>) -> CallResult;

/// The root module every backend plugin exports (API versions 1.0 and 1.1).
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

    // ---- API 1.1: everything below is absent from 1.0 plugins. ----
    /// The signals the backend accepts.
    #[sabi(missing_field(option))]
    pub signals: Signals,
    /// Returns the JSON Schema of the backend's settings (a JSON object).
    #[sabi(missing_field(option))]
    pub get_settings_schema: extern "C" fn() -> CallResult,
    /// Like `get_otlp_exporter_config`, for the given settings.
    #[sabi(missing_field(option))]
    pub get_otlp_exporter_config_with: extern "C" fn(settings: RStr<'_>) -> CallResult,
    /// Like `get_helm_values_override`, for the given settings.
    #[sabi(missing_field(option))]
    pub get_helm_values_override_with: extern "C" fn(settings: RStr<'_>) -> CallResult,
    /// Returns `{"endpoints": ["host:port", ...]}`: where the collector will
    /// connect with these settings, for the host's connection check.
    #[sabi(missing_field(option))]
    pub get_endpoints_with: extern "C" fn(settings: RStr<'_>) -> CallResult,
}

impl RootModule for BackendModuleRef {
    declare_root_module_statics! {BackendModuleRef}

    const BASE_NAME: &'static str = "floe_telemetry_backend";
    const NAME: &'static str = "floe telemetry backend";
    // The host applies floe's own version rule to FLOE_API_VERSION instead of
    // abi_stable's; this only has to parse.
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
}

/// The root module as API 1.0 laid it out, for checking 1.0 plugins only.
pub mod v1_0 {
    use super::*;

    /// [`super::BackendModule`] up to its `#[sabi(last_prefix_field)]`,
    /// field for field; the type name is part of the layout abi_stable checks.
    #[repr(C)]
    #[derive(StableAbi)]
    #[sabi(kind(Prefix(prefix_ref = BackendModuleRef)))]
    #[sabi(missing_field(panic))]
    pub struct BackendModule {
        /// As in API 1.1.
        pub floe_api_version: RStr<'static>,
        /// As in API 1.1.
        pub name: RStr<'static>,
        /// As in API 1.1.
        pub version: RStr<'static>,
        /// As in API 1.1.
        pub description: RStr<'static>,
        /// As in API 1.1.
        pub self_hosted: bool,
        /// As in API 1.1.
        pub get_otlp_exporter_config: extern "C" fn() -> CallResult,
        /// As in API 1.1.
        #[sabi(last_prefix_field)]
        pub get_helm_values_override: extern "C" fn() -> CallResult,
    }

    impl RootModule for BackendModuleRef {
        declare_root_module_statics! {BackendModuleRef}

        const BASE_NAME: &'static str = "floe_telemetry_backend";
        const NAME: &'static str = "floe telemetry backend";
        const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
    }
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
