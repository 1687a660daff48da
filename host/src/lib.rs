//! floe-telemetry's plugin host: finds telemetry backend plugins in plugin
//! directories, checks each one's plugin API version before calling anything
//! in it, and calls it.
//!
//! Every failure is about one file and never stops the others from loading:
//! it becomes a [`Problem`] naming the file, what is wrong and what to do.
//!
//! ```no_run
//! use floe_host::{Catalog, LoadOptions, SearchPath, Selection};
//!
//! // --plugin-dir flags, then $FLOE_PLUGIN_PATH, then the default directories.
//! let search_path = SearchPath::new(
//!     &["/opt/floe/plugins".into()],
//!     std::env::var_os(floe_host::PLUGIN_PATH_ENV).as_deref(),
//!     true,
//! );
//! // Only the file that provides jaeger is loaded, in a process of its own.
//! let options = LoadOptions {
//!     isolation: Some(floe_host::Isolation::new(std::time::Duration::from_secs(10))),
//!     ..LoadOptions::default()
//! };
//! let catalog = Catalog::load_selected(&search_path, &options, Selection::Names(&["jaeger"]));
//! for problem in catalog.problems() {
//!     eprintln!("warning: {problem}");
//! }
//! let jaeger = catalog.get("jaeger")?;
//! let exporters = jaeger.otlp_exporter_config()?;
//! println!("{}", serde_json::Value::Object(exporters));
//! # Ok::<(), floe_host::Error>(())
//! ```

#![deny(missing_docs)]
#![deny(unsafe_code)]

// The stages of the pipeline, in order; each uses only those before it.
mod call;
mod catalog;
mod discover;
mod info;
#[allow(unsafe_code)]
mod loader;
#[allow(unsafe_code)]
mod os;
mod plugin;
mod search_path;
mod select;
mod supervise;
mod verify;

pub mod config;
pub mod config_path;
pub mod connection;
mod elf;
mod error;
pub mod escape;
mod input;
pub mod install;
pub mod lock;
mod plain_settings;
pub mod platform;
pub mod render;
pub mod report;
mod settings;
pub mod signature;
mod sparse;
mod suggest;

pub use catalog::{Catalog, Checked, Configured, Listing};
pub use config::{CONFIG_ENV, Config, Violation};
pub use error::{Error, ErrorKind, Problem};
pub use floe_plugin_api::{ApiVersion, FLOE_API_VERSION, JsonObject};
pub use info::{Call, MetadataSource, PluginInfo};
pub use plugin::{LoadOptions, Plugin};
pub use search_path::{DirSource, LIBRARY_SUFFIX, PLUGIN_PATH_ENV, SearchDir, SearchPath};
pub use select::Selection;
pub use supervise::Isolation;
