//! `check-connection`: against a live listener, a closed port and a name
//! that cannot resolve, all on this machine (the `.invalid` domain never
//! resolves, so no query leaves it answered). No traffic goes to any other
//! address.

use std::net::{SocketAddr, TcpListener};

use floe_telemetry_tests::{Dir, TestCommand, TestOutput};

/// `check-connection jaeger` with jaeger's endpoint set to `endpoint`.
fn check_jaeger(endpoint: &str, extra: &[&str]) -> TestOutput {
    let dir = Dir::new();
    let config = dir.write(
        "floe.yaml",
        format!("backends:\n  - backend: jaeger\n    config:\n      endpoint: \"{endpoint}\"\n"),
    );
    TestCommand::new()
        .args(["check-connection", "jaeger", "-c"])
        .arg(&config)
        .args(extra)
        .run()
}

fn closed_port() -> SocketAddr {
    // Bound, then closed: nothing listens there any more.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[test]
fn a_live_listener_is_reachable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();

    let output = check_jaeger(&address, &[]);
    output.assert_success();
    assert!(output.stdout.starts_with("ok "), "{output}");
    assert!(
        output.stdout.contains(&format!("{address}: reachable")),
        "{output}"
    );

    let json = check_jaeger(&address, &["-o", "json", "--timeout", "2s"]);
    json.assert_success();
    let report = json.json();
    assert_eq!(report["timeout_ms"], 2000);
    assert_eq!(report["endpoints"][0]["backend"], "jaeger");
    assert_eq!(report["endpoints"][0]["endpoint"], address.as_str());
    assert_eq!(report["endpoints"][0]["outcome"], "reachable");
}

#[test]
fn a_closed_port_is_refused_with_exit_4() {
    let address = closed_port().to_string();
    let output = check_jaeger(&address, &[]);
    output.assert_code(4);
    assert!(output.stdout.starts_with("FAIL "), "{output}");
    assert!(output.stdout.contains("connection refused"), "{output}");
    let json = check_jaeger(&address, &["-o", "json"]);
    json.assert_code(4);
    assert_eq!(json.json()["endpoints"][0]["outcome"], "refused");
}

#[test]
fn a_name_that_does_not_resolve_is_a_dns_failure_with_exit_3() {
    let output = check_jaeger("floe-telemetry-e2e.invalid:4317", &[]);
    output.assert_code(3);
    assert!(output.stdout.contains("DNS failure"), "{output}");
    let json = check_jaeger("floe-telemetry-e2e.invalid:4317", &["-o", "json"]);
    json.assert_code(3);
    assert_eq!(json.json()["endpoints"][0]["outcome"], "dns_failure");
}

// A timeout (exit 5) is not tested end to end: provoking one needs an
// address that silently drops packets, which only a remote host or a
// firewall rule gives reliably, and this suite sends nothing beyond
// loopback. `Outcome::TimedOut` and its exit code are covered by the unit
// tests of `floe_host::connection`. (A listener whose accept queue is full
// makes Linux drop new SYNs, but std listens with the system's maximum
// backlog, thousands of connections deep, so that is no cheap way either.)

#[test]
fn the_timeout_takes_seconds_or_a_unit() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    for (timeout, millis) in [("3", 3000), ("500ms", 500), ("1.5s", 1500)] {
        let output = check_jaeger(&address, &["-o", "json", "--timeout", timeout]);
        output.assert_success();
        assert_eq!(output.json()["timeout_ms"], millis, "{timeout}");
    }
    let output = check_jaeger(&address, &["--timeout", "soon"]);
    output.assert_code(2);
    assert_eq!(output.stdout, "");
}

#[test]
fn without_a_name_every_selected_backend_is_checked() {
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let live = live.local_addr().unwrap().to_string();
    let closed = closed_port().to_string();
    let dir = Dir::new();
    let config = dir.write(
        "floe.yaml",
        format!(
            "backends:\n\
             \x20 - backend: jaeger\n\
             \x20   config: {{endpoint: \"{live}\"}}\n\
             \x20 - backend: grafana-cloud\n\
             \x20   config: {{endpoint: \"https://{closed}/otlp\"}}\n"
        ),
    );
    let output = TestCommand::new()
        .args(["check-connection", "-o", "json", "-c"])
        .arg(&config)
        .run();
    // The refused one sets the status.
    output.assert_code(4);
    let report = output.json();
    let endpoints = report["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 2, "{output}");
    assert_eq!(endpoints[0]["backend"], "jaeger");
    assert_eq!(endpoints[0]["outcome"], "reachable");
    assert_eq!(endpoints[1]["backend"], "grafana-cloud");
    assert_eq!(endpoints[1]["endpoint"], closed.as_str());
    assert_eq!(endpoints[1]["outcome"], "refused");
}

#[test]
fn console_connects_nowhere_and_says_so() {
    let output = TestCommand::new()
        .args(["check-connection", "console", "-o", "json"])
        .run();
    output.assert_success();
    assert_eq!(
        output.json()["endpoints"],
        serde_json::json!([]),
        "{output}"
    );
    assert!(
        output
            .stderr
            .contains("note: console connects to no address: nothing to check"),
        "{output}"
    );
}
