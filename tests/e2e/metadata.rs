//! The metadata section: `list` reads it from the file and loads nothing;
//! the API version in it is checked before any plugin code can run; once a
//! plugin is loaded, its code must agree with it.

use std::fs;

use floe_telemetry_tests::{Dir, fixture_plugin};

use crate::util::{copy_bundled, floe_in, list_json, names, plugin, the_problem};

/// A plugin directory with the bundled plugins and the fixture `name`.
fn with_fixture(name: &str) -> (Dir, std::path::PathBuf) {
    let dir = Dir::new();
    copy_bundled(&dir, "plugins");
    let file = format!("plugins/libfloe_fixture_{}.so", name.replace('-', "_"));
    let path = dir.copy(fixture_plugin(name), file);
    (dir, path)
}

#[test]
fn list_never_loads_a_plugin_and_check_does() {
    let (dir, _) = with_fixture("marks-load");
    let markers = dir.create_dir("markers");
    let loaded = markers.join("marks-load-loaded");

    // The fixture's ELF initialiser leaves the marker whenever the library
    // is loaded, in any process.
    let (list, _) =
        list_json(floe_in(dir.join("plugins")).env("FLOE_FIXTURE_MARKER_DIR", &markers));
    assert!(names(&list).contains(&"marks-load"), "{list:#}");
    assert_eq!(plugin(&list, "marks-load")["metadata"], "section");
    for name in floe_telemetry_tests::BUNDLED {
        assert_eq!(plugin(&list, name)["metadata"], "section", "{list:#}");
    }
    assert!(!loaded.exists(), "list loaded the plugin");

    let output = floe_in(dir.join("plugins"))
        .env("FLOE_FIXTURE_MARKER_DIR", &markers)
        .args(["check", "-o", "json"])
        .run();
    output.assert_success();
    assert!(loaded.exists(), "check did not load the plugin\n{output}");
}

#[test]
fn a_plugin_for_another_api_in_its_section_is_never_loaded() {
    let (dir, path) = with_fixture("future-2-0");
    let marker = dir.join("future-code-ran");

    // Its initialiser, its root module and its calls all write the marker.
    for args in [
        &["list", "-o", "json"][..],
        &["check", "-o", "json"],
        &["--in-process", "exporter-config", "future"],
        &["exporter-config", "future"],
    ] {
        let output = floe_in(dir.join("plugins"))
            .env("FLOE_FIXTURE_MARKER", &marker)
            .args(args)
            .run();
        assert!(!marker.exists(), "{args:?} loaded the plugin\n{output}");
        if args[0] != "list" && args[0] != "check" {
            output.assert_code(2);
            assert!(output.stderr.contains(path.to_str().unwrap()), "{output}");
        }
    }
    let (list, _) = list_json(floe_in(dir.join("plugins")).env("FLOE_FIXTURE_MARKER", &marker));
    let problem = the_problem(&list, "api_version_incompatible", &path);
    assert!(
        problem["error"]
            .as_str()
            .unwrap()
            .contains("plugin API 2.0"),
        "{problem:#}"
    );
}

#[test]
fn a_section_that_disagrees_with_the_code_is_refused_once_loaded() {
    let (dir, path) = with_fixture("section-mismatch");

    // `list` believes the section: it loads nothing.
    let (list, _) = list_json(&mut floe_in(dir.join("plugins")));
    assert_eq!(
        plugin(&list, "section-mismatch")["description"],
        "what the section says"
    );

    for isolation in ["--isolate", "--in-process"] {
        let output = floe_in(dir.join("plugins"))
            .args([isolation, "exporter-config", "section-mismatch"])
            .run();
        output.assert_code(2);
        assert!(
            output.stderr.contains(&format!(
                "warning: {}: its metadata section says description \"what the section says\", \
                 but its code says \"what the code says\"",
                path.display()
            )),
            "{output}"
        );
    }
    let output = floe_in(dir.join("plugins"))
        .args(["check", "-o", "json"])
        .run();
    output.assert_code(1);
    the_problem(&output.json(), "metadata_mismatch", &path);
}

#[test]
fn a_damaged_section_is_reported_by_list() {
    let dir = Dir::new();
    let plugins = copy_bundled(&dir, "plugins");
    let jaeger = plugins.join("libfloe_backend_jaeger.so");
    let mut bytes = fs::read(&jaeger).unwrap();
    let record = bytes
        .windows(8)
        .position(|window| window == b"FLOEMETA")
        .expect("the jaeger plugin has a metadata record");
    // One bit of the body length: the record no longer fits its section.
    bytes[record + 9] ^= 0x40;
    fs::write(&jaeger, bytes).unwrap();

    let (list, _) = list_json(&mut floe_in(&plugins));
    let problem = the_problem(&list, "invalid_metadata_section", &jaeger);
    assert!(
        problem["error"]
            .as_str()
            .unwrap()
            .contains("rebuild the plugin"),
        "{problem:#}"
    );
    assert!(!names(&list).contains(&"jaeger"), "{list:#}");
}
