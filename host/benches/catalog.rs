//! In-process cost of the host's main paths, on the bundled plugins.
//!
//! Needs the plugins built in the same profile as the bench:
//! `cargo build --release && cargo bench -p floe-host`.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

use floe_host::{Catalog, Isolation, LoadOptions, Plugin, SearchPath};

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

    // Libraries stay mapped after the first load, so this measures the scan,
    // the version and layout checks and the metadata reads: the steady-state
    // cost of `Catalog::load`, not the first dlopen (see the README for the
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
        isolation: Some(Isolation {
            worker: dir.join("floe-telemetry"),
            timeout: Duration::from_secs(10),
        }),
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
}

criterion_group!(catalog, benches);
criterion_main!(catalog);
