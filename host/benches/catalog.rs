//! In-process cost of the host's main paths, on the bundled plugins.
//!
//! Needs the plugins built in the same profile as the bench:
//! `cargo build --release && cargo bench -p floe-host`. The whole-process
//! figures (`floe-telemetry list` wall time and peak memory) come from
//! `host/benches/list_process.sh`.

use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::time::Duration;

use floe_backend_jaeger::Jaeger;
use floe_host::{Catalog, Isolation, LoadOptions, Plugin, SearchPath};
use floe_plugin_api::{JsonObject, PluginError, TelemetryBackend};

/// The exporter-config call as an object-safe trait, so that the backend can
/// be called through `&dyn` like any Rust plugin interface would.
trait ExporterConfig {
    fn exporter_config(&self, settings: JsonObject) -> Result<JsonObject, PluginError>;
}

struct Direct<B>(std::marker::PhantomData<B>);

impl<B: TelemetryBackend> ExporterConfig for Direct<B> {
    /// What the plugin's export glue does for one call, minus the boundary:
    /// configure the backend from its settings, build the fragment.
    fn exporter_config(&self, settings: JsonObject) -> Result<JsonObject, PluginError> {
        B::configure(settings)?.otlp_exporter_config()
    }
}

/// `count` copies of the bundled jaeger plugin, with distinct file names,
/// in a new directory.
fn copies(dir: &Path, count: usize) -> tempfile::TempDir {
    let copies = tempfile::tempdir().expect("a temporary directory");
    let jaeger = dir.join("libfloe_backend_jaeger.so");
    for i in 0..count {
        let copy = copies.path().join(format!("libjaeger_{i:04}.so"));
        std::fs::copy(&jaeger, copy).expect("copy the plugin");
    }
    copies
}

/// `target/release`, where `cargo build --release` left the bundled plugins.
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench knows its own path");
    // target/release/deps/catalog-<hash> -> target/release
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("bench runs from target/");
    let bundled = ["jaeger", "datadog", "grafana_cloud"]
        .map(|name| dir.join(format!("libfloe_backend_{name}.so")));
    if let Some(missing) = bundled.iter().find(|path| !path.is_file()) {
        panic!(
            "{} is missing; build the plugins first: cargo build --release",
            missing.display()
        );
    }
    dir.to_owned()
}

fn benches(c: &mut Criterion) {
    let dir = plugin_dir();
    let search_path = SearchPath::new(std::slice::from_ref(&dir), None, false);
    let worker = Isolation::new(Duration::from_secs(10));

    // What `list` does: read each file's metadata section, load nothing.
    c.bench_function("catalog_list_3_bundled", |b| {
        b.iter(|| {
            let listing = Catalog::list(&search_path, &LoadOptions::default(), &worker);
            assert_eq!(listing.plugins.len(), 3);
            listing
        })
    });

    // The same over many plugin files (copies of jaeger under distinct file
    // names: one is listed, the rest are duplicates, each file read alike).
    let mut group = c.benchmark_group("catalog_list_copies");
    group.sample_size(20);
    for count in [10, 100, 1000] {
        let copies = copies(&dir, count);
        let search_path = SearchPath::new(&[copies.path().to_owned()], None, false);
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, &count| {
            b.iter(|| {
                let listing = Catalog::list(&search_path, &LoadOptions::default(), &worker);
                assert_eq!(listing.plugins.len() + listing.problems.len(), count);
                listing
            })
        });
    }
    group.finish();

    // Libraries stay mapped after the first load, so this measures the scan,
    // the version and layout checks and the metadata reads: the steady-state
    // cost of `Catalog::load`, not the first dlopen (see docs/performance.md for the
    // whole-process figures).
    c.bench_function("catalog_load_3_bundled", |b| {
        b.iter(|| {
            let catalog = Catalog::load(&search_path, &LoadOptions::default());
            assert_eq!(catalog.plugins().len(), 3);
            catalog
        })
    });

    // The same with every plugin in a process of its own: the cost of
    // `--isolate`, a process start, a load and one message per plugin.
    let isolated = LoadOptions {
        isolation: Some(Isolation::new(Duration::from_secs(10))),
        ..LoadOptions::default()
    };
    c.bench_function("catalog_load_3_bundled_isolated", |b| {
        b.iter(|| {
            let catalog = Catalog::load(&search_path, &isolated);
            assert_eq!(catalog.plugins().len(), 3);
            catalog
        })
    });

    let jaeger_isolated = Plugin::load(&dir.join("libfloe_backend_jaeger.so"), &isolated).unwrap();
    c.bench_function("call_exporter_config_jaeger_isolated", |b| {
        b.iter(|| jaeger_isolated.otlp_exporter_config().unwrap())
    });

    let jaeger = Plugin::load(
        &dir.join("libfloe_backend_jaeger.so"),
        &LoadOptions::default(),
    )
    .unwrap();
    c.bench_function("call_exporter_config_jaeger", |b| {
        b.iter(|| jaeger.otlp_exporter_config().unwrap())
    });
    c.bench_function("call_helm_values_jaeger", |b| {
        b.iter(|| jaeger.helm_values_override().unwrap())
    });

    // The same exporter-config call of the same backend, compiled into this
    // bench and called through a Rust trait object: the baseline for the
    // call above, which also crosses the ABI as JSON text both ways.
    let direct: Box<dyn ExporterConfig> = Box::new(Direct::<Jaeger>(std::marker::PhantomData));
    let direct = std::hint::black_box(direct);
    c.bench_function("call_exporter_config_jaeger_trait_object", |b| {
        b.iter(|| direct.exporter_config(JsonObject::new()).unwrap())
    });
}

criterion_group!(catalog, benches);
criterion_main!(catalog);
