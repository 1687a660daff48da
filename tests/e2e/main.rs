//! End-to-end tests: the real `floe-telemetry` binary, loading real plugin
//! libraries, checked only through its exit codes and what it prints.
//!
//! One test binary, so that the binary, the bundled plugins and the fixture
//! plugins are built once for all the tests (see `floe_telemetry_tests`).

mod api_versions;
mod authoring;
mod beside;
mod broken;
mod calls;
mod collector;
mod connection;
mod corpus;
mod discovery;
mod docs;
mod hostile_inputs;
mod install;
mod list;
mod lock;
mod metadata;
mod packages;
mod platform;
mod reference;
mod render;
mod rough_edges;
mod secrets;
mod section_index;
mod settings;
mod signatures;
mod supervision;
mod third_party;
mod util;
mod walkthrough;
