//! The corpus of broken and hostile plugin files (see
//! `floe_telemetry_tests::corpus`): every file is reported with the right
//! kind and a message saying what to do, and every healthy plugin is still
//! served, in process and isolated.

use std::collections::BTreeSet;

use floe_telemetry_tests::corpus::{Corpus, Phase};
use floe_telemetry_tests::{BUNDLED, Dir, TestCommand};
use serde_json::Value;

use crate::util::{floe_in, names, problems, the_problem};

/// Enough for a healthy plugin to load on a busy machine, short enough that
/// the hanging fixtures do not slow the suite.
const TIMEOUT: &str = "2s";

fn floe(corpus: &Corpus) -> TestCommand {
    let mut command = floe_in(&corpus.plugins);
    command.args(["--timeout", TIMEOUT]);
    command
}

/// Each problem names a file of the corpus, says what to do, and no file is
/// reported twice.
#[track_caller]
fn assert_problems_are_explained(document: &Value, corpus: &Corpus) {
    let mut seen = BTreeSet::new();
    for problem in problems(document) {
        let path = problem["path"].as_str().unwrap();
        assert!(
            corpus.entry(path.as_ref()).is_some(),
            "a problem with a healthy file: {problem:#}"
        );
        assert!(
            seen.insert(path.to_owned()),
            "{path} reported twice in {document:#}"
        );
        let error = problem["error"].as_str().unwrap();
        // "what is wrong; what to do"
        assert!(error.contains("; "), "no advice in {error:?}");
    }
}

#[test]
fn check_reports_every_corpus_file_with_its_kind_and_serves_the_healthy() {
    let corpus = Corpus::build();

    let output = floe(&corpus).args(["check", "-o", "json"]).run();

    output.assert_code(1);
    let report = output.json();
    for entry in &corpus.entries {
        the_problem(&report, entry.kind, &entry.path);
    }
    assert_eq!(problems(&report).len(), corpus.entries.len(), "{report:#}");
    assert_problems_are_explained(&report, &corpus);
    let listed: BTreeSet<&str> = names(&report).into_iter().collect();
    for name in BUNDLED {
        assert!(listed.contains(name), "{name} not served: {report:#}");
    }
}

#[test]
fn check_names_each_problem_in_its_table_and_exits_1() {
    let corpus = Corpus::build();

    let output = floe(&corpus).arg("check").run();

    output.assert_code(1);
    for entry in &corpus.entries {
        let path = entry.path.to_str().unwrap();
        assert!(
            output
                .stdout
                .lines()
                .any(|line| line.starts_with("error: ") && line.contains(path)),
            "no error line for {path}\n{output}"
        );
    }
    for (name, path) in &corpus.healthy {
        let line = format!("{name} ");
        assert!(
            output.stdout.lines().any(|l| l.starts_with("ok")
                && l.contains(&line)
                && l.contains(path.to_str().unwrap())),
            "{name} not ok\n{output}"
        );
    }
}

#[test]
fn list_loads_nothing_and_reports_what_the_files_alone_show() {
    let corpus = Corpus::build();

    let output = floe(&corpus).args(["list", "-o", "json"]).run();

    output.assert_success();
    let list = output.json();
    // A plugin that dies or lies only once loaded is listed from its
    // metadata section: `list` never loads it (`check` reports it).
    let expected: BTreeSet<&str> = BUNDLED
        .iter()
        .copied()
        .chain(corpus.in_phase(Phase::Load).filter_map(|entry| entry.name))
        .chain(corpus.in_phase(Phase::Call).filter_map(|entry| entry.name))
        .collect();
    assert_eq!(
        names(&list).into_iter().collect::<BTreeSet<_>>(),
        expected,
        "{list:#}"
    );
    for entry in corpus.in_phase(Phase::File) {
        the_problem(&list, entry.kind, &entry.path);
    }
    assert_eq!(
        problems(&list).len(),
        corpus.in_phase(Phase::File).count(),
        "{list:#}"
    );
    assert_problems_are_explained(&list, &corpus);
}

#[test]
fn in_process_calls_of_healthy_plugins_work_beside_the_corpus() {
    let mut corpus = Corpus::build();
    corpus.without_fatal_loads();

    for name in BUNDLED {
        let output = floe(&corpus)
            .args(["--in-process", "exporter-config", name, "-o", "json"])
            .run();
        output.assert_success();
        assert!(output.json()["exporters"].is_object(), "{output}");
    }
}

#[test]
fn in_process_calls_that_fail_without_killing_are_reported() {
    let mut corpus = Corpus::build();
    corpus.without_fatal_loads();

    for (name, symptom) in [
        ("panicky", "panicked: exporter config exploded"),
        ("invalid-json", "returned invalid output: not JSON"),
        ("json-array", "expected a JSON object, got an array"),
    ] {
        let output = floe(&corpus)
            .args(["--in-process", "exporter-config", name])
            .run();

        output.assert_code(1);
        assert!(output.stderr.contains(symptom), "{name}: {output}");
        assert!(
            output.stderr.contains(&format!("plugin-{name}.so")),
            "{name}: {output}"
        );
    }
}

#[test]
fn an_isolated_call_that_kills_its_process_is_that_plugins_error() {
    let corpus = Corpus::build();

    for (name, symptom) in [
        ("segv-in-call", "SIGSEGV"),
        ("abort-in-call", "SIGABRT"),
        ("stack-overflow-in-call", "SIGABRT"),
        ("exit-in-call", "exited with status 0"),
        ("hang-in-call", "did not finish within 2 s"),
    ] {
        let output = floe(&corpus)
            .args(["--isolate", "exporter-config", name])
            .run();

        output.assert_code(1);
        assert!(output.stderr.contains(symptom), "{name}: {output}");
        assert!(
            output.stderr.contains(&format!("plugin-{name}.so")),
            "{name}: {output}"
        );
        assert_eq!(output.stdout, "", "{name}: {output}");
    }
    let healthy = floe(&corpus)
        .args(["--isolate", "helm-values", "jaeger", "-o", "json"])
        .run();
    healthy.assert_success();
    assert_eq!(healthy.json()["jaeger"]["enabled"], true, "{healthy}");
}

#[test]
fn plugins_for_another_api_are_refused_before_any_of_their_code_runs() {
    let corpus = Corpus::build();
    let markers = Dir::new();
    let future_ran = markers.join("future-code-ran");

    let output = floe(&corpus)
        .env("FLOE_FIXTURE_MARKER_DIR", markers.path())
        .env("FLOE_FIXTURE_MARKER", &future_ran)
        .args(["check", "-o", "json"])
        .run();

    output.assert_code(1);
    let report = output.json();
    for (fixture, kind) in [
        ("future-2-0", "api_version_incompatible"),
        ("future-1-2", "api_version_incompatible"),
        ("api-malformed", "api_version_malformed"),
    ] {
        the_problem(
            &report,
            kind,
            &corpus.plugins.join(format!("plugin-{fixture}.so")),
        );
    }
    // The hand-made plugins that do load leave a marker from their calls:
    // proof that markers work, and that the refused ones made none.
    let made: BTreeSet<String> = std::fs::read_dir(markers.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(made.contains("invalid-json-called"), "{made:?}");
    assert!(!made.contains("api-malformed-called"), "{made:?}");
    assert!(!future_ran.exists(), "code of a plugin for another API ran");
}

#[test]
fn version_messages_name_both_versions() {
    let mut corpus = Corpus::build();
    corpus.without_fatal_loads();

    let output = floe(&corpus).args(["list", "-o", "json"]).run();

    let list = output.json();
    for (fixture, plugin_version) in [("future-2-0", "2.0"), ("future-1-2", "1.2")] {
        let path = corpus.plugins.join(format!("plugin-{fixture}.so"));
        let problem = the_problem(&list, "api_version_incompatible", &path);
        let error = problem["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("plugin API {plugin_version}"))
                && error.contains("plugin API 1.1"),
            "{error}"
        );
    }
}

#[test]
fn insecure_files_load_only_when_allowed() {
    let mut corpus = Corpus::build();
    corpus.without_fatal_loads();
    let writable = corpus.plugins.join("world-writable.so");

    let refused = floe(&corpus).args(["list", "-o", "json"]).run().json();
    let problem = the_problem(&refused, "unsafe_permissions", &writable);
    let fix = format!("chmod go-w {}", writable.display());
    assert!(
        problem["error"].as_str().unwrap().contains(&fix),
        "{problem:#}"
    );

    let allowed = floe(&corpus)
        .args(["--allow-insecure-permissions", "list", "-o", "json"])
        .run();
    // Now it loads, and being a copy of datadog, it is a duplicate.
    the_problem(&allowed.json(), "duplicate_name", &writable);
}
