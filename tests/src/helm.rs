//! Rendering a Helm chart with the official Helm SDK, as the tests that check
//! `render helm --chart floe-platform` against the real chart do.
//!
//! The SDK is the PyPI package `helm-python-sdk` (module `helm_python`: Helm's
//! Go SDK in a native library; no `helm` binary, nothing fetched). `.ci/run`
//! installs it and sets [`HELM_PYTHON_ENV`]; without that variable the tests
//! use `python3` when it has the package. Without it they fail, with the
//! command that installs it: a test that renders nothing proves nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// The Python interpreter that has `helm_python`, when not `python3`.
pub const HELM_PYTHON_ENV: &str = "FLOE_HELM_PYTHON";

/// What installs the SDK.
pub const INSTALL: &str = "python3 -m pip install helm-python-sdk==0.2.2";

/// Reads `{"chart", "values", "name", "namespace"}` on stdin and prints the
/// rendered templates as one JSON object; a values-schema error exits 3.
const RENDER: &str = r#"
import json, sys
import helm_python
from helm_python.errors import HelmValuesError
request = json.load(sys.stdin)
try:
    with helm_python.Chart.load(request["chart"]) as chart:
        rendered = chart.render(request["values"], name=request["name"], namespace=request["namespace"])
except HelmValuesError as error:
    print(f"values rejected by the chart's schema: {error}", file=sys.stderr)
    sys.exit(3)
json.dump(rendered, sys.stdout)
"#;

/// The interpreter to run [`RENDER`] with; panics with the install command
/// when there is none.
pub fn helm_python() -> PathBuf {
    let python = std::env::var_os(HELM_PYTHON_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let found = Command::new(&python)
        .args(["-c", "import helm_python"])
        .output();
    match found {
        Ok(output) if output.status.success() => python,
        Ok(output) => panic!(
            "{} cannot import helm_python ({}); install the Helm SDK with `{INSTALL}` \
             (or set {HELM_PYTHON_ENV} to a Python that has it)",
            python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => panic!(
            "cannot run {} ({error}); install Python 3 and then `{INSTALL}`",
            python.display()
        ),
    }
}

/// The floe-platform chart copied into the fixtures (see its SOURCE.md).
pub fn floe_platform_chart() -> PathBuf {
    crate::workspace_root().join("tests/fixtures/charts/floe-platform")
}

/// The chart at `chart`, rendered with `values` as release `name` in
/// `namespace`: template path → text. `Err` holds what the SDK said when it
/// refused the values.
pub fn render(
    chart: &Path,
    values: &Value,
    name: &str,
    namespace: &str,
) -> Result<BTreeMap<String, String>, String> {
    let python = helm_python();
    let mut child = Command::new(&python)
        .args(["-c", RENDER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let request = json!({
        "chart": chart, "values": values, "name": name, "namespace": namespace
    });
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write the render request");
    let output = child.wait_with_output().expect("wait for the Helm SDK");
    if !output.status.success() {
        return Err(format!(
            "the Helm SDK failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("the Helm SDK printed no JSON object of templates: {e}"))
}
