//! The commands for plugin authors: `check-plugin` runs the plugin rules
//! of `floe-plugin-test` on a built library, `new-plugin` writes a crate
//! that follows them.

mod check_plugin;
mod new_plugin;

pub use check_plugin::check_plugin;
pub use new_plugin::new_plugin;
