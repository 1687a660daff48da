//! floe-telemetry's plugin host: finds telemetry backend plugins in plugin
//! directories, checks each one's plugin API version before calling anything
//! in it, and calls it.
//!
//! Every failure is about one file and never stops the others from loading:
//! it becomes a [`Problem`] naming the file, what is wrong and what to do.
//!
//! ```no_run
//! use floe_host::{Catalog, LoadOptions, SearchPath};
//!
//! // --plugin-dir flags, then $FLOE_PLUGIN_PATH, then the default directories.
//! let search_path = SearchPath::new(
//!     &["/opt/floe/plugins".into()],
//!     std::env::var_os(floe_host::PLUGIN_PATH_ENV).as_deref(),
//!     true,
//! );
//! let catalog = Catalog::load(&search_path, &LoadOptions::default());
//! for problem in catalog.problems() {
//!     eprintln!("warning: {problem}");
//! }
//! let jaeger = catalog.get("jaeger")?;
//! let exporters = jaeger.otlp_exporter_config()?;
//! println!("{}", serde_json::Value::Object(exporters));
//! # Ok::<(), floe_host::Error>(())
//! ```

#![deny(missing_docs)]

mod catalog;
pub mod config;
pub mod config_path;
pub mod connection;
mod elf;
mod error;
mod file_check;
pub mod install;
pub mod isolation;
mod loader;
pub mod lock;
pub mod render;
pub mod report;
mod search_path;
mod settings;
pub mod signature;
mod suggest;

pub use catalog::{
    Call, Catalog, Configured, Listing, LoadOptions, MetadataSource, Plugin, PluginInfo,
};
pub use config::{CONFIG_ENV, Config, Violation};
pub use error::{Error, ErrorKind, Problem};
pub use floe_plugin_api::{ApiVersion, FLOE_API_VERSION, JsonObject};
pub use isolation::Isolation;
pub use search_path::{DirSource, LIBRARY_SUFFIX, PLUGIN_PATH_ENV, SearchDir, SearchPath};
