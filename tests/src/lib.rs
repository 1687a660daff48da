//! End-to-end tests of floe-telemetry.
