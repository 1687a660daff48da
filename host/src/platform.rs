//! One values file for floe's umbrella chart, `floe-platform`.
//!
//! The chart runs the OpenTelemetry Collector as its subchart `otel`, whose
//! configuration is `otel.config`, and Jaeger as its subchart `jaeger`. Its
//! own values define the `otlp` receiver, the `memory_limiter` and `batch`
//! processors, the `health_check` extension, the exporters `debug` and
//! `otlp/jaeger`, and one pipeline per signal.
//!
//! Helm merges a values file onto those map by map but replaces lists whole,
//! and a key set to null is removed. So the values composed here give:
//!
//! - under `otel.config`, the backends' exporters and extensions, and for
//!   each signal some backend serves a whole pipeline (receivers, processors
//!   and exporters); a signal no backend serves has its pipeline removed;
//!   `service.extensions` lists the chart's `health_check` first;
//! - the chart's `debug` exporter removed unless a backend defines it. Its
//!   `otlp/jaeger` cannot be: Helm keeps a null there (the key is only in the
//!   umbrella chart's values, not the subchart's), so it stays defined, in
//!   no pipeline, which the collector accepts;
//! - under `otel.extraEnvs`, every variable the configuration reads with
//!   `${env:NAME}`, from the Kubernetes Secret of the backend that reads it;
//! - `jaeger.enabled`, true only when jaeger is selected, with the chart's
//!   all-in-one Jaeger, whose `<release>-jaeger-collector` Service takes
//!   OTLP; jaeger's exporter sends there unless its `endpoint` says
//!   otherwise (the subchart runs `tpl` over its configuration, so
//!   `{{ .Release.Name }}` resolves).

use floe_plugin_api::JsonObject;
use serde_json::{Value, json};

use crate::Error;
use crate::config::Violation;
use crate::render::{self, BackendFragment, Rename, SIGNALS};

/// The chart this module writes values for.
pub const CHART: &str = "floe-platform";

/// The jaeger backend, the one the chart deploys.
const JAEGER: &str = "jaeger";

/// The host jaeger's exporter sends to by default outside the chart.
const JAEGER_DEFAULT_HOST: &str = "jaeger-collector";

/// The Service the chart's all-in-one Jaeger creates for its collector ports.
pub const JAEGER_SERVICE: &str = "{{ .Release.Name }}-jaeger-collector";

/// The extension the chart defines and its probes need.
const CHART_EXTENSION: &str = "health_check";

/// The chart's exporter that Helm can remove when no backend defines it.
const CHART_DEBUG_EXPORTER: &str = "debug";

/// Who the composition's own values are, in a conflict message.
const COMPOSER: &str = "floe-platform";

/// One selected backend, with what its plugin returned.
#[derive(Debug, Clone)]
pub struct Backend {
    /// The backend's exporter fragment, and the signals it accepts.
    pub fragment: BackendFragment,
    /// The backend's Helm values.
    pub helm_values: JsonObject,
    /// Its settings, as the plugin was called with them.
    pub settings: JsonObject,
    /// Where its settings are in the configuration, e.g. `backends[1]`.
    pub config_path: Option<String>,
    /// The Secret its credentials come from.
    pub secret: String,
}

/// A Secret the collector reads variables from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// Its name.
    pub name: String,
    /// The keys read, each also the variable's name.
    pub keys: Vec<String>,
}

impl Secret {
    /// The command that creates it, with a placeholder for each value.
    pub fn create_command(&self) -> String {
        let mut command = format!(
            "kubectl create secret generic {} --namespace <namespace>",
            self.name
        );
        for key in &self.keys {
            command.push_str(&format!(" --from-literal={key}=<{key}>"));
        }
        command
    }
}

/// The values file and what goes with it.
#[derive(Debug, Clone)]
pub struct Platform {
    /// The values, `otel` and `jaeger` first.
    pub values: JsonObject,
    /// The Secrets the collector needs, in the order first read.
    pub secrets: Vec<Secret>,
    /// Components renamed apart because two backends used one id.
    pub renamed: Vec<Rename>,
    /// The values of the base file replaced by composed ones, as dotted
    /// paths.
    pub replaced_in_base: Vec<String>,
}

/// Composes the values of `backends` (in order) onto `base`; see the module
/// documentation. `source_name` names the configuration in errors.
pub fn values(
    backends: &[Backend],
    base: Option<&JsonObject>,
    source_name: &str,
) -> Result<Platform, Error> {
    refuse_other_jaeger_charts(backends, source_name)?;
    let fragments: Vec<BackendFragment> = backends.iter().map(in_chart).collect();
    let composed = render::collector(None, &fragments)?;
    let (extra_envs, secrets) = extra_envs(backends, &fragments)?;
    let otel = json!({
        "config": otel_config(&composed.config),
        "extraEnvs": extra_envs,
    });
    let jaeger = if backends.iter().any(|b| b.fragment.backend == JAEGER) {
        // The chart's layout, said outright so that a base cannot leave
        // Jaeger without the collector Service the exporter sends to.
        json!({
            "enabled": true,
            "allInOne": {"enabled": true},
            "collector": {"enabled": false},
            "query": {"enabled": false}
        })
    } else {
        json!({"enabled": false})
    };
    let mut own = JsonObject::new();
    own.insert("otel".to_owned(), otel);
    own.insert("jaeger".to_owned(), jaeger);

    let mut setters: Vec<(String, JsonObject)> = backends
        .iter()
        .map(|b| (b.fragment.backend.clone(), b.helm_values.clone()))
        .collect();
    setters.push((COMPOSER.to_owned(), own));
    let mut merged = render::helm(None, &setters)?;
    let mut replaced_in_base = Vec::new();
    let values = match base {
        Some(base) => {
            keep_base_envs(base, &mut merged);
            replaced(base, &merged, "", &mut replaced_in_base);
            let mut values = base.clone();
            render::deep_merge(&mut values, merged);
            values
        }
        None => merged,
    };
    Ok(Platform {
        values: otel_and_jaeger_first(values),
        secrets,
        renamed: composed.renamed,
        replaced_in_base,
    })
}

/// The chart ships the jaeger chart 3.x: jaeger's `chart: v2` layout would
/// set values that chart does not have.
fn refuse_other_jaeger_charts(backends: &[Backend], source_name: &str) -> Result<(), Error> {
    let violations: Vec<Violation> = backends
        .iter()
        .filter(|b| b.fragment.backend == JAEGER)
        .filter(|b| b.settings.get("chart").and_then(Value::as_str) == Some("v2"))
        .map(|b| {
            Violation::new(
                format!(
                    "{}.config.chart",
                    b.config_path.as_deref().unwrap_or("(jaeger)")
                ),
                format!(
                    "the {CHART} chart deploys the jaeger chart 3.x (chart v1); remove \
                     `chart: v2` to deploy with it"
                ),
            )
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidConfig {
            source_name: source_name.to_owned(),
            violations,
        })
    }
}

/// The backend's fragment as deployed by the chart: jaeger without an
/// `endpoint` of its own sends to the chart's Jaeger.
fn in_chart(backend: &Backend) -> BackendFragment {
    let mut fragment = backend.fragment.clone();
    if fragment.backend != JAEGER || backend.settings.contains_key("endpoint") {
        return fragment;
    }
    let exporters = fragment
        .fragment
        .get_mut("exporters")
        .and_then(Value::as_object_mut);
    for exporter in exporters.into_iter().flat_map(|e| e.values_mut()) {
        if let Some(Value::String(endpoint)) = exporter.get_mut("endpoint") {
            let (scheme, rest) = match endpoint.split_once("://") {
                Some((scheme, rest)) => (format!("{scheme}://"), rest),
                None => (String::new(), endpoint.as_str()),
            };
            if let Some(port) = rest.strip_prefix(&format!("{JAEGER_DEFAULT_HOST}:")) {
                *endpoint = format!("{scheme}{JAEGER_SERVICE}:{port}");
            }
        }
    }
    fragment
}

/// `otel.config`: what the composition adds to the chart's configuration.
fn otel_config(composed: &JsonObject) -> Value {
    let section = |name: &str| composed.get(name).cloned().unwrap_or(json!({}));
    let mut exporters = section("exporters");
    if let Some(exporters) = exporters.as_object_mut() {
        exporters.entry(CHART_DEBUG_EXPORTER).or_insert(Value::Null);
    }
    let service = composed.get("service").cloned().unwrap_or(json!({}));
    let mut listed = vec![json!(CHART_EXTENSION)];
    listed.extend(
        service["extensions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|id| id.as_str() != Some(CHART_EXTENSION))
            .cloned(),
    );
    let mut pipelines = JsonObject::new();
    for signal in SIGNALS {
        let pipeline = service["pipelines"].get(signal).cloned();
        pipelines.insert(signal.to_owned(), pipeline.unwrap_or(Value::Null));
    }
    let mut config = JsonObject::new();
    config.insert("exporters".to_owned(), exporters);
    let extensions = section("extensions");
    if extensions.as_object().is_some_and(|e| !e.is_empty()) {
        config.insert("extensions".to_owned(), extensions);
    }
    config.insert(
        "service".to_owned(),
        json!({"extensions": listed, "pipelines": pipelines}),
    );
    Value::Object(config)
}

/// `otel.extraEnvs` for every `${env:NAME}` in the backends' fragments, and
/// the Secrets they come from. One variable read by two backends from two
/// Secrets is a conflict.
fn extra_envs(
    backends: &[Backend],
    fragments: &[BackendFragment],
) -> Result<(Vec<Value>, Vec<Secret>), Error> {
    let mut envs: Vec<(String, String, String)> = Vec::new(); // (name, secret, backend)
    let mut secrets: Vec<Secret> = Vec::new();
    for (backend, fragment) in backends.iter().zip(fragments) {
        for name in env_names(&Value::Object(fragment.fragment.clone())) {
            if let Some((_, secret, who)) = envs.iter().find(|(n, _, _)| *n == name) {
                if *secret == backend.secret {
                    continue;
                }
                return Err(Error::HelmConflict {
                    path: format!("otel.extraEnvs[{name}].valueFrom.secretKeyRef.name"),
                    first: who.clone(),
                    first_value: json!(secret).to_string(),
                    second: fragment.backend.clone(),
                    second_value: json!(backend.secret).to_string(),
                });
            }
            envs.push((
                name.clone(),
                backend.secret.clone(),
                fragment.backend.clone(),
            ));
            match secrets.iter_mut().find(|s| s.name == backend.secret) {
                Some(secret) => secret.keys.push(name),
                None => secrets.push(Secret {
                    name: backend.secret.clone(),
                    keys: vec![name],
                }),
            }
        }
    }
    let list = envs
        .into_iter()
        .map(|(name, secret, _)| {
            json!({
                "name": name,
                "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}
            })
        })
        .collect();
    Ok((list, secrets))
}

/// The names `value` reads as `${env:NAME}` (or `${env:NAME:-default}`),
/// each once, in the order met.
pub fn env_names(value: &Value) -> Vec<String> {
    let mut names = Vec::new();
    collect_env_names(value, &mut names);
    names
}

fn collect_env_names(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            let mut rest = text.as_str();
            while let Some(start) = rest.find("${env:") {
                rest = &rest[start + "${env:".len()..];
                let Some(end) = rest.find('}') else { break };
                let name = rest[..end].split(":-").next().unwrap_or_default();
                if !name.is_empty() && !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
                rest = &rest[end..];
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_env_names(v, names)),
        Value::Object(object) => object.values().for_each(|v| collect_env_names(v, names)),
        _ => {}
    }
}

/// A base's own `otel.extraEnvs` are kept, before the composed ones, unless
/// the composition sets the same variable: Helm would replace the list.
fn keep_base_envs(base: &JsonObject, merged: &mut JsonObject) {
    let Some(theirs) = base
        .get("otel")
        .and_then(|otel| otel.get("extraEnvs"))
        .and_then(Value::as_array)
    else {
        return;
    };
    let Some(otel) = merged.get_mut("otel") else {
        return;
    };
    let ours = otel["extraEnvs"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = ours.iter().filter_map(|env| env["name"].as_str()).collect();
    let mut all: Vec<Value> = theirs
        .iter()
        .filter(|env| {
            !env["name"]
                .as_str()
                .is_some_and(|name| names.contains(&name))
        })
        .cloned()
        .collect();
    all.extend(ours);
    otel["extraEnvs"] = Value::Array(all);
}

/// The paths where `base` sets a value that `ours` replaces with another
/// (maps merge, so only their leaves count).
fn replaced(base: &JsonObject, ours: &JsonObject, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in ours {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (base.get(key), value) {
            (Some(Value::Object(base)), Value::Object(ours)) => replaced(base, ours, &path, out),
            (Some(theirs), value) if theirs != value => out.push(path),
            _ => {}
        }
    }
}

fn otel_and_jaeger_first(mut values: JsonObject) -> JsonObject {
    let mut out = JsonObject::new();
    for key in ["otel", "jaeger"] {
        if let Some(value) = values.shift_remove(key) {
            out.insert(key.to_owned(), value);
        }
    }
    out.extend(values);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(object) => object,
            other => panic!("not an object: {other}"),
        }
    }

    fn backend(name: &str, signals: &[&str], fragment: Value, settings: Value) -> Backend {
        Backend {
            fragment: BackendFragment {
                backend: name.to_owned(),
                signals: Some(signals.iter().map(|s| (*s).to_owned()).collect()),
                fragment: object(fragment),
            },
            helm_values: JsonObject::new(),
            settings: object(settings),
            config_path: Some("backends[0]".to_owned()),
            secret: format!("floe-telemetry-{name}"),
        }
    }

    fn jaeger(settings: Value) -> Backend {
        let mut jaeger = backend(
            "jaeger",
            &["traces"],
            json!({"exporters": {"otlp/jaeger": {"endpoint": "jaeger-collector:4317", "tls": {"insecure": true}}}}),
            settings,
        );
        jaeger.helm_values = object(json!({"jaeger": {"enabled": true}}));
        jaeger
    }

    fn datadog() -> Backend {
        backend(
            "datadog",
            &["traces", "metrics", "logs"],
            json!({"exporters": {"datadog": {"api": {"key": "${env:DD_API_KEY}"}}}}),
            json!({}),
        )
    }

    #[test]
    fn jaeger_alone_sends_to_the_charts_jaeger_and_removes_the_other_pipelines() {
        let platform = values(&[jaeger(json!({}))], None, "test").unwrap();
        let config = &platform.values["otel"]["config"];
        assert_eq!(
            config["exporters"],
            json!({
                "otlp/jaeger": {"endpoint": "{{ .Release.Name }}-jaeger-collector:4317", "tls": {"insecure": true}},
                "debug": null
            })
        );
        assert_eq!(
            config["service"],
            json!({
                "extensions": ["health_check"],
                "pipelines": {
                    "traces": {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": ["otlp/jaeger"]},
                    "metrics": null,
                    "logs": null
                }
            })
        );
        assert_eq!(platform.values["otel"]["extraEnvs"], json!([]));
        assert_eq!(platform.values["jaeger"]["enabled"], json!(true));
        assert_eq!(
            platform.values["jaeger"]["allInOne"]["enabled"],
            json!(true)
        );
        assert!(platform.secrets.is_empty());
    }

    #[test]
    fn a_jaeger_endpoint_of_its_own_is_kept_and_v2_is_refused() {
        let mut own = jaeger(json!({"endpoint": "tempo:4317"}));
        own.fragment.fragment =
            object(json!({"exporters": {"otlp/jaeger": {"endpoint": "tempo:4317"}}}));
        let platform = values(&[own], None, "test").unwrap();
        assert_eq!(
            platform.values["otel"]["config"]["exporters"]["otlp/jaeger"]["endpoint"],
            "tempo:4317"
        );
        let http = backend(
            "jaeger",
            &["traces"],
            json!({"exporters": {"otlphttp/jaeger": {"endpoint": "http://jaeger-collector:4318"}}}),
            json!({"protocol": "http"}),
        );
        let platform = values(&[http], None, "test").unwrap();
        assert_eq!(
            platform.values["otel"]["config"]["exporters"]["otlphttp/jaeger"]["endpoint"],
            "http://{{ .Release.Name }}-jaeger-collector:4318"
        );
        let error = values(&[jaeger(json!({"chart": "v2"}))], None, "/etc/floe.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("/etc/floe.yaml: backends[0].config.chart: the floe-platform chart deploys the jaeger chart 3.x"),
            "{error}"
        );
    }

    #[test]
    fn credentials_come_from_each_backends_secret() {
        let mut datadog = datadog();
        datadog.secret = "dd-credentials".to_owned();
        let platform = values(&[datadog, jaeger(json!({}))], None, "test").unwrap();
        assert_eq!(
            platform.values["otel"]["extraEnvs"],
            json!([{"name": "DD_API_KEY", "valueFrom": {"secretKeyRef": {"name": "dd-credentials", "key": "DD_API_KEY"}}}])
        );
        assert_eq!(
            platform.secrets,
            [Secret {
                name: "dd-credentials".to_owned(),
                keys: vec!["DD_API_KEY".to_owned()]
            }]
        );
        assert_eq!(
            platform.secrets[0].create_command(),
            "kubectl create secret generic dd-credentials --namespace <namespace> \
             --from-literal=DD_API_KEY=<DD_API_KEY>"
        );
        assert_eq!(platform.values["jaeger"]["enabled"], json!(true));
        assert_eq!(
            platform.values.keys().collect::<Vec<_>>(),
            ["otel", "jaeger"]
        );
    }

    #[test]
    fn one_variable_from_two_secrets_is_a_conflict() {
        let other = backend(
            "acme",
            &["logs"],
            json!({"exporters": {"otlphttp/acme": {"endpoint": "https://acme", "headers": {"k": "${env:DD_API_KEY}"}}}}),
            json!({}),
        );
        let error = values(&[datadog(), other], None, "test").unwrap_err();
        assert!(
            error.to_string().contains(
                "backends datadog and acme both set the Helm value \
                 `otel.extraEnvs[DD_API_KEY].valueFrom.secretKeyRef.name`"
            ),
            "{error}"
        );
    }

    #[test]
    fn without_jaeger_the_charts_jaeger_is_off() {
        let platform = values(&[datadog()], None, "test").unwrap();
        assert_eq!(platform.values["jaeger"], json!({"enabled": false}));
    }

    #[test]
    fn a_base_keeps_its_own_variables_and_hears_what_was_replaced() {
        let base = object(json!({
            "otel": {
                "mode": "deployment",
                "extraEnvs": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}, {"name": "DD_API_KEY", "value": "x"}],
                "config": {"service": {"pipelines": {"traces": {"exporters": ["debug"]}}}}
            },
            "jaeger": {"enabled": true}
        }));
        let platform = values(&[datadog()], Some(&base), "test").unwrap();
        let envs = platform.values["otel"]["extraEnvs"].as_array().unwrap();
        let names: Vec<&str> = envs.iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["HTTPS_PROXY", "DD_API_KEY"]);
        assert!(envs[1].get("value").is_none());
        assert_eq!(platform.values["otel"]["mode"], "deployment");
        assert_eq!(
            platform.replaced_in_base,
            [
                "otel.config.service.pipelines.traces.exporters",
                "otel.extraEnvs",
                "jaeger.enabled"
            ]
        );
    }

    #[test]
    fn env_names_are_read_once_each() {
        let value = json!({"a": "${env:ONE}", "b": ["x ${env:TWO:-d} ${env:ONE}"], "c": "${env:"});
        assert_eq!(env_names(&value), ["ONE", "TWO"]);
    }
}
