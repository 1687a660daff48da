//! The export macro and the glue it expands to.

/// Exports a [`TelemetryBackend`](crate::TelemetryBackend) from a `cdylib`.
///
/// Invoke it once, at the root of the plugin crate, with the backend type.
/// It records [`FLOE_API_VERSION`](crate::FLOE_API_VERSION) and the crate's own
/// `version` from `Cargo.toml`, exports the two symbols the host looks for,
/// and writes the backend's metadata into the library's
/// [`.floe_plugin` section](crate::metadata), where the host reads it without
/// loading the library.
/// Every call into the backend (its settings schema, [`configure`], and the
/// outputs built from the configured backend) is wrapped so that a panic
/// becomes an error value instead of unwinding across the boundary.
///
/// [`configure`]: crate::TelemetryBackend::configure
///
/// ```no_run
/// use floe_plugin_api::{JsonObject, PluginError, TelemetryBackend};
///
/// #[derive(Default)]
/// struct MyBackend;
///
/// impl TelemetryBackend for MyBackend {
///     const NAME: &'static str = "my-backend";
///     const DESCRIPTION: &'static str = "exports to my backend";
///     const SELF_HOSTED: bool = false;
///
///     fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
///         Ok(floe_plugin_api::json_object!({"exporters": {"otlp/my_backend": {"endpoint": "my-backend:4317"}}}))
///     }
///
///     fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
///         Ok(JsonObject::new())
///     }
/// }
///
/// floe_plugin_api::export_backend!(MyBackend);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_backend {
    ($backend:ty) => {
        const _: () = {
            use $crate::__private as private;

            #[unsafe(export_name = "floe_telemetry_api_version")]
            #[used]
            static API_VERSION_TAG: private::ApiVersionTag =
                private::ApiVersionTag::new($crate::FLOE_API_VERSION);

            $crate::__metadata_section!(private::Metadata {
                floe_api_version: $crate::FLOE_API_VERSION,
                name: <$backend as $crate::TelemetryBackend>::NAME,
                version: env!("CARGO_PKG_VERSION"),
                description: <$backend as $crate::TelemetryBackend>::DESCRIPTION,
                self_hosted: <$backend as $crate::TelemetryBackend>::SELF_HOSTED,
                signals: <$backend as $crate::TelemetryBackend>::SIGNALS,
            });

            fn root_module() -> private::BackendModuleRef {
                private::module::<$backend>(env!("CARGO_PKG_VERSION"))
            }

            extern "C" fn load_root_module() -> private::RootModuleResult {
                private::__call_root_module_loader(root_module)
            }

            // abi_stable's `#[export_root_module]`, spelled out so that plugin
            // crates need no direct dependency on abi_stable.
            #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
            #[used]
            static ROOT_MODULE_HEADER: private::LibHeader = unsafe {
                private::LibHeader::from_constructor::<private::BackendModuleRef>(
                    load_root_module,
                    private::CheckTypeLayout::Yes,
                )
            };
        };
    };
}

/// Places `$metadata`, a constant [`Metadata`](crate::metadata::Metadata),
/// as a record in the `.floe_plugin` section; part of [`export_backend!`],
/// not a public API (test fixtures use it to write records that lie).
#[doc(hidden)]
#[macro_export]
macro_rules! __metadata_section {
    ($metadata:expr) => {
        const _: () = {
            const METADATA: $crate::metadata::Metadata<'static> = $metadata;

            // The exported name keeps the linker from discarding the section
            // (a library's exports are roots of its garbage collection).
            #[unsafe(link_section = ".floe_plugin")]
            #[unsafe(export_name = "floe_telemetry_metadata")]
            #[used]
            static METADATA_RECORD: [u8; METADATA.encoded_len()] = METADATA.encode();
        };
    };
}

/// Support for [`export_backend!`]; not a public API.
#[doc(hidden)]
pub mod __private {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    pub use crate::abi::{ApiVersionTag, BackendModuleRef, CallResult};
    pub use crate::metadata::Metadata;
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
    use abi_stable::{
        prefix_type::PrefixTypeTrait,
        std_types::{RResult, RStr},
    };

    use crate::abi::{BackendModule, CallError, CallErrorKind};
    use crate::{FLOE_API_VERSION, JsonObject, PluginError, TelemetryBackend};

    // The name abi_stable gives its root-module header; spelled out in the
    // macro because `export_name` needs a literal.
    const _: () = assert!(const_str_eq(
        abi_stable::library::ROOT_MODULE_LOADER_NAME,
        "_1as_0lib_1header_0root_bmodule_bloader"
    ));
    // Likewise the metadata section and its symbol.
    const _: () = assert!(const_str_eq(crate::metadata::SECTION, ".floe_plugin"));
    const _: () = assert!(const_str_eq(
        crate::metadata::SYMBOL,
        "floe_telemetry_metadata"
    ));

    const fn const_str_eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Builds the root module of backend `B`. Called once, by abi_stable.
    pub fn module<B: TelemetryBackend>(version: &'static str) -> BackendModuleRef {
        BackendModule {
            floe_api_version: FLOE_API_VERSION.into(),
            name: B::NAME.into(),
            version: version.into(),
            description: B::DESCRIPTION.into(),
            self_hosted: B::SELF_HOSTED,
            get_otlp_exporter_config: otlp_exporter_config::<B>,
            get_helm_values_override: helm_values_override::<B>,
            signals: B::SIGNALS,
            get_settings_schema: settings_schema::<B>,
            get_otlp_exporter_config_with: otlp_exporter_config_with::<B>,
            get_helm_values_override_with: helm_values_override_with::<B>,
            get_endpoints_with: endpoints_with::<B>,
        }
        .leak_into_prefix()
    }

    // The calls of the root module. Generic, so one copy per backend type;
    // the 1.0 calls (no settings) are the `*_with` calls given `{}`.

    extern "C" fn otlp_exporter_config<B: TelemetryBackend>() -> CallResult {
        call(|| B::configure(JsonObject::new())?.otlp_exporter_config())
    }

    extern "C" fn helm_values_override<B: TelemetryBackend>() -> CallResult {
        call(|| B::configure(JsonObject::new())?.helm_values_override())
    }

    extern "C" fn settings_schema<B: TelemetryBackend>() -> CallResult {
        call(|| Ok(B::settings_schema()))
    }

    extern "C" fn otlp_exporter_config_with<B: TelemetryBackend>(settings: RStr<'_>) -> CallResult {
        call(|| configured::<B>(settings)?.otlp_exporter_config())
    }

    extern "C" fn helm_values_override_with<B: TelemetryBackend>(settings: RStr<'_>) -> CallResult {
        call(|| configured::<B>(settings)?.helm_values_override())
    }

    extern "C" fn endpoints_with<B: TelemetryBackend>(settings: RStr<'_>) -> CallResult {
        call(|| {
            let endpoints = configured::<B>(settings)?.endpoints()?;
            let mut object = JsonObject::new();
            object.insert("endpoints".to_owned(), endpoints.into());
            Ok(object)
        })
    }

    /// `B` built from the settings text the host passed.
    fn configured<B: TelemetryBackend>(settings: RStr<'_>) -> Result<B, PluginError> {
        let settings: JsonObject = serde_json::from_str(settings.as_str()).map_err(|error| {
            PluginError::new(format!(
                "the host passed settings that are not a JSON object ({error})"
            ))
        })?;
        B::configure(settings)
    }

    /// Runs one backend call, turning its result, or its panic, into a
    /// [`CallResult`]. Unwinding out of an `extern "C"` function aborts the
    /// whole process, so the panic must stop here.
    pub fn call(body: impl FnOnce() -> Result<JsonObject, PluginError>) -> CallResult {
        match catch_unwind(AssertUnwindSafe(body)) {
            Ok(Ok(object)) => match serde_json::to_string(&object) {
                Ok(text) => RResult::ROk(text.into()),
                Err(error) => failure(CallErrorKind::FAILED, error.to_string()),
            },
            Ok(Err(error)) => failure(CallErrorKind::FAILED, error.message().to_owned()),
            Err(payload) => failure(CallErrorKind::PANICKED, panic_message(&*payload)),
        }
    }

    fn failure(kind: CallErrorKind, message: String) -> CallResult {
        RResult::RErr(CallError {
            kind,
            message: message.into(),
        })
    }

    fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
        if let Some(text) = payload.downcast_ref::<&str>() {
            (*text).to_owned()
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.clone()
        } else {
            "panic with a non-text payload".to_owned()
        }
    }
}
