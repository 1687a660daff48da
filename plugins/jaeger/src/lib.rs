//! Jaeger: self-hosted tracing, floe's default telemetry backend.
//!
//! The collector sends OTLP to the Jaeger collector, inside the cluster by
//! default: over gRPC (`otlp` exporter, port 4317) or HTTP (`otlphttp`, port
//! 4318), with TLS off unless `tls.insecure: false`.
//!
//! The Helm values enable the jaeger chart as a subchart aliased `jaeger`, in
//! one of two layouts (`chart`):
//!
//! - `v1` (the default, for compatibility): jaeger chart 3.x, Jaeger v1, with
//!   separate collector and query deployments; storage is the chart's own
//!   default (a provisioned Cassandra) unless `storage` says otherwise;
//! - `v2`: jaeger chart 4.x, Jaeger v2, one `jaeger` deployment; in-memory
//!   storage by default. Jaeger v1 is end-of-life: new installs take `v2`.

use floe_plugin_api::serde_json::{Value, json};
use floe_plugin_api::{
    JsonObject, PluginError, Signals, TelemetryBackend, export_backend, json_object,
};

/// The in-cluster address of the Jaeger collector's OTLP/gRPC port.
pub const COLLECTOR_ENDPOINT: &str = "jaeger-collector:4317";

/// The in-cluster address of the Jaeger collector's OTLP/HTTP port.
pub const COLLECTOR_HTTP_ENDPOINT: &str = "jaeger-collector:4318";

const HOST: &str = "[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?";
const PORT: &str =
    "([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])";
const SERVICE_TYPES: [&str; 3] = ["ClusterIP", "NodePort", "LoadBalancer"];
const V1_STORAGE: [&str; 2] = ["cassandra", "elasticsearch"];
const V2_STORAGE: [&str; 3] = ["memory", "cassandra", "elasticsearch"];

/// Which jaeger chart the Helm values are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// jaeger chart 3.x (Jaeger v1): collector and query deployments.
    V1,
    /// jaeger chart 4.x (Jaeger v2): one `jaeger` deployment.
    V2,
}

/// The Jaeger backend.
#[derive(Debug)]
pub struct Jaeger {
    endpoint: Option<String>,
    http: bool,
    insecure: bool,
    ca_file: Option<String>,
    chart: Chart,
    collector_service_type: String,
    query_service_type: String,
    service_type: String,
    storage: Option<JsonObject>,
    resources: Option<Value>,
}

impl Default for Jaeger {
    fn default() -> Self {
        Self {
            endpoint: None,
            http: false,
            insecure: true,
            ca_file: None,
            chart: Chart::V1,
            collector_service_type: "ClusterIP".to_owned(),
            query_service_type: "LoadBalancer".to_owned(),
            service_type: "ClusterIP".to_owned(),
            storage: None,
            resources: None,
        }
    }
}

fn service_type(description: &str, default: &str) -> Value {
    json!({"description": description, "enum": SERVICE_TYPES, "default": default})
}

fn quantity(pattern: &str) -> Value {
    json!({"type": "string", "pattern": pattern})
}

fn resource_list() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "cpu": quantity("^[0-9]+(\\.[0-9]+)?m?$"),
            "memory": quantity("^[0-9]+(\\.[0-9]+)?([KMGTPE]i?)?$")
        }
    })
}

impl TelemetryBackend for Jaeger {
    const NAME: &'static str = "jaeger";
    const DESCRIPTION: &'static str = "Jaeger, self-hosted tracing (default backend)";
    const SELF_HOSTED: bool = true;
    const SIGNALS: Signals = Signals::TRACES;

    fn settings_schema() -> JsonObject {
        json_object!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "jaeger settings",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "endpoint": {
                    "description": "optional: host:port of the Jaeger collector's OTLP port, without a scheme (http:// or https:// follows tls.insecure); without it, jaeger-collector:4317, or jaeger-collector:4318 with protocol http",
                    "type": "string",
                    "pattern": format!("^{HOST}:{PORT}$")
                },
                "protocol": {
                    "description": "OTLP over gRPC (exporter `otlp`) or HTTP (exporter `otlphttp`)",
                    "enum": ["grpc", "http"],
                    "default": "grpc"
                },
                "tls": {
                    "description": "optional: TLS towards the collector; without it, plain text inside the cluster",
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "insecure": {
                            "description": "send without TLS (in-cluster); false to use TLS",
                            "type": "boolean",
                            "default": true
                        },
                        "ca_file": {
                            "description": "CA certificate file, in the collector's file system, to verify the collector with; needs insecure: false",
                            "type": "string",
                            "minLength": 1
                        }
                    },
                    "if": {"required": ["ca_file"]},
                    "then": {"required": ["insecure"], "properties": {"insecure": {"const": false}}}
                },
                "chart": {
                    "description": "v1: jaeger chart 3.x, Jaeger v1 (end-of-life; the default, for compatibility); v2: jaeger chart 4.x, Jaeger v2 (recommended for new installs)",
                    "enum": ["v1", "v2"],
                    "default": "v1"
                },
                "collector_service_type": service_type("Service type of the collector (chart v1)", "ClusterIP"),
                "query_service_type": service_type("Service type of the query UI (chart v1)", "LoadBalancer"),
                "service_type": service_type("Service type of the jaeger deployment (chart v2)", "ClusterIP"),
                "storage": {
                    "description": "optional: where Jaeger keeps traces; chart v1 supports cassandra (its default, provisioned by the chart) and elasticsearch, chart v2 memory (default), cassandra and elasticsearch",
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["type"],
                    "properties": {
                        "type": {"enum": V2_STORAGE},
                        "cassandra_host": {
                            "description": "an existing Cassandra (type cassandra); without it chart v1 provisions one",
                            "type": "string",
                            "pattern": format!("^{HOST}$")
                        },
                        "elasticsearch_url": {
                            "description": "an existing Elasticsearch or OpenSearch, e.g. http://elasticsearch:9200 (type elasticsearch); without it chart v1 provisions one",
                            "type": "string",
                            "pattern": format!("^https?://{HOST}(:{PORT})?/?$")
                        }
                    },
                    "allOf": [
                        {
                            "if": {"properties": {"type": {"not": {"const": "cassandra"}}}},
                            "then": {"properties": {"cassandra_host": false}}
                        },
                        {
                            "if": {"properties": {"type": {"not": {"const": "elasticsearch"}}}},
                            "then": {"properties": {"elasticsearch_url": false}}
                        }
                    ]
                },
                "resources": {
                    "description": "optional: Kubernetes resource requests and limits of Jaeger's pods; without it, the chart's",
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {"requests": resource_list(), "limits": resource_list()}
                }
            },
            "if": {"required": ["chart"], "properties": {"chart": {"const": "v2"}}},
            "then": {
                "properties": {"collector_service_type": false, "query_service_type": false}
            },
            "else": {
                "properties": {
                    "service_type": false,
                    "storage": {"properties": {"type": {"enum": V1_STORAGE}}}
                }
            }
        })
    }

    fn configure(settings: JsonObject) -> Result<Self, PluginError> {
        let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
        let mut jaeger = Jaeger {
            endpoint: text(settings.get("endpoint")),
            http: text(settings.get("protocol")).as_deref() == Some("http"),
            storage: settings.get("storage").and_then(Value::as_object).cloned(),
            resources: settings.get("resources").cloned(),
            ..Jaeger::default()
        };
        if let Some(tls) = settings.get("tls") {
            if let Some(insecure) = tls.get("insecure").and_then(Value::as_bool) {
                jaeger.insecure = insecure;
            }
            jaeger.ca_file = text(tls.get("ca_file"));
        }
        if text(settings.get("chart")).as_deref() == Some("v2") {
            jaeger.chart = Chart::V2;
        }
        for (key, field) in [
            ("collector_service_type", &mut jaeger.collector_service_type),
            ("query_service_type", &mut jaeger.query_service_type),
            ("service_type", &mut jaeger.service_type),
        ] {
            if let Some(value) = text(settings.get(key)) {
                *field = value;
            }
        }
        Ok(jaeger)
    }

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        let mut tls = json_object!({ "insecure": self.insecure });
        if let Some(ca_file) = &self.ca_file {
            tls.insert("ca_file".to_owned(), json!(ca_file));
        }
        // `otlp` and `otlphttp` are the names every collector release accepts;
        // newer ones prefer `otlp_grpc` / `otlp_http` and keep these as aliases.
        let (id, endpoint) = if self.http {
            let address = self.endpoint.as_deref().unwrap_or(COLLECTOR_HTTP_ENDPOINT);
            let scheme = if self.insecure { "http" } else { "https" };
            ("otlphttp/jaeger", format!("{scheme}://{address}"))
        } else {
            let address = self.endpoint.as_deref().unwrap_or(COLLECTOR_ENDPOINT);
            ("otlp/jaeger", address.to_owned())
        };
        Ok(json_object!({
            "exporters": {
                id: { "endpoint": endpoint, "tls": tls }
            }
        }))
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        let mut values = json_object!({ "enabled": true });
        match self.chart {
            Chart::V1 => {
                let mut collector = json!({ "service": { "type": self.collector_service_type } });
                let mut query = json!({ "service": { "type": self.query_service_type } });
                if let Some(resources) = &self.resources {
                    collector["resources"] = resources.clone();
                    query["resources"] = resources.clone();
                }
                values.insert("collector".to_owned(), collector);
                values.insert("query".to_owned(), query);
                if let Some(storage) = &self.storage {
                    v1_storage(storage, &mut values);
                }
            }
            Chart::V2 => {
                let mut jaeger = json!({ "service": { "type": self.service_type } });
                if let Some(resources) = &self.resources {
                    jaeger["resources"] = resources.clone();
                }
                values.insert("jaeger".to_owned(), jaeger);
                values.insert("storage".to_owned(), v2_storage(self.storage.as_ref()));
            }
        }
        Ok(json_object!({ "jaeger": values }))
    }
}

/// Chart 3.x: `storage.type`, and whether the chart provisions the store.
fn v1_storage(storage: &JsonObject, values: &mut JsonObject) {
    let kind = storage
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("cassandra");
    let mut out = json!({ "type": kind });
    let mut provision = json!({});
    match kind {
        "elasticsearch" => {
            provision["cassandra"] = json!(false);
            match storage.get("elasticsearch_url").and_then(Value::as_str) {
                Some(url) => {
                    provision["elasticsearch"] = json!(false);
                    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
                    let authority = rest.trim_end_matches('/');
                    let (host, port) = match authority.rsplit_once(':') {
                        Some((host, port)) => (host, port.parse::<u16>().unwrap_or(9200)),
                        None => (authority, if scheme == "https" { 443 } else { 80 }),
                    };
                    out["elasticsearch"] = json!({ "scheme": scheme, "host": host, "port": port });
                }
                None => provision["elasticsearch"] = json!(true),
            }
        }
        _ => {
            if let Some(host) = storage.get("cassandra_host").and_then(Value::as_str) {
                provision["cassandra"] = json!(false);
                out["cassandra"] = json!({ "host": host });
            }
        }
    }
    values.insert("storage".to_owned(), out);
    if provision.as_object().is_some_and(|p| !p.is_empty()) {
        values.insert("provisionDataStore".to_owned(), provision);
    }
}

/// Chart 4.x: `storage.type` and where the store is; memory by default.
fn v2_storage(storage: Option<&JsonObject>) -> Value {
    let get = |key: &str| storage.and_then(|s| s.get(key)).and_then(Value::as_str);
    let mut out = json!({ "type": get("type").unwrap_or("memory") });
    if let Some(host) = get("cassandra_host") {
        out["cassandra"] = json!({ "host": host });
    }
    if let Some(url) = get("elasticsearch_url") {
        out["elasticsearch"] = json!({ "url": url });
    }
    out
}

export_backend!(Jaeger);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_plugin_rules() {
        floe_plugin_test::assert_conforms!(Jaeger);
    }

    fn jaeger(settings: Value) -> Jaeger {
        let Value::Object(settings) = settings else {
            panic!("settings are an object")
        };
        Jaeger::configure(settings).unwrap()
    }

    fn exporter(settings: Value) -> Value {
        Value::Object(jaeger(settings).otlp_exporter_config().unwrap())
    }

    fn helm(settings: Value) -> Value {
        Value::Object(jaeger(settings).helm_values_override().unwrap())
    }

    #[test]
    fn exports_otlp_grpc_to_the_in_cluster_collector() {
        assert_eq!(
            exporter(json!({})),
            json!({"exporters": {"otlp/jaeger": {
                "endpoint": "jaeger-collector:4317",
                "tls": {"insecure": true}
            }}})
        );
    }

    #[test]
    fn helm_values_are_the_reference_layout() {
        assert_eq!(
            helm(json!({})),
            json!({"jaeger": {
                "enabled": true,
                "collector": {"service": {"type": "ClusterIP"}},
                "query": {"service": {"type": "LoadBalancer"}}
            }})
        );
    }

    #[test]
    fn endpoint_changes_only_the_endpoint() {
        let mut expected = exporter(json!({}));
        expected["exporters"]["otlp/jaeger"]["endpoint"] = json!("tempo.example:14317");
        assert_eq!(
            exporter(json!({"endpoint": "tempo.example:14317"})),
            expected
        );
    }

    #[test]
    fn http_uses_otlphttp_on_4318() {
        assert_eq!(
            exporter(json!({"protocol": "http"})),
            json!({"exporters": {"otlphttp/jaeger": {
                "endpoint": "http://jaeger-collector:4318",
                "tls": {"insecure": true}
            }}})
        );
    }

    #[test]
    fn tls_with_a_ca_file() {
        assert_eq!(
            exporter(json!({"protocol": "http", "endpoint": "jaeger.example:443",
                "tls": {"insecure": false, "ca_file": "/etc/ca.pem"}})),
            json!({"exporters": {"otlphttp/jaeger": {
                "endpoint": "https://jaeger.example:443",
                "tls": {"insecure": false, "ca_file": "/etc/ca.pem"}
            }}})
        );
    }

    #[test]
    fn v1_service_types_and_resources() {
        let resources = json!({"limits": {"memory": "512Mi"}});
        assert_eq!(
            helm(json!({"collector_service_type": "NodePort", "resources": resources})),
            json!({"jaeger": {
                "enabled": true,
                "collector": {"service": {"type": "NodePort"}, "resources": resources},
                "query": {"service": {"type": "LoadBalancer"}, "resources": resources}
            }})
        );
    }

    #[test]
    fn v1_storage() {
        let values = helm(json!({"storage": {"type": "elasticsearch",
            "elasticsearch_url": "https://es.example:9243"}}));
        assert_eq!(
            values["jaeger"]["storage"],
            json!({"type": "elasticsearch", "elasticsearch": {
                "scheme": "https", "host": "es.example", "port": 9243}})
        );
        assert_eq!(
            values["jaeger"]["provisionDataStore"],
            json!({"cassandra": false, "elasticsearch": false})
        );
        let values = helm(json!({"storage": {"type": "cassandra", "cassandra_host": "cass"}}));
        assert_eq!(
            values["jaeger"]["storage"],
            json!({"type": "cassandra", "cassandra": {"host": "cass"}})
        );
        assert_eq!(
            values["jaeger"]["provisionDataStore"],
            json!({"cassandra": false})
        );
    }

    #[test]
    fn v2_is_one_deployment_with_memory_storage() {
        assert_eq!(
            helm(json!({"chart": "v2"})),
            json!({"jaeger": {
                "enabled": true,
                "jaeger": {"service": {"type": "ClusterIP"}},
                "storage": {"type": "memory"}
            }})
        );
        assert_eq!(
            helm(json!({"chart": "v2", "service_type": "LoadBalancer",
                "storage": {"type": "elasticsearch", "elasticsearch_url": "http://es:9200"}})),
            json!({"jaeger": {
                "enabled": true,
                "jaeger": {"service": {"type": "LoadBalancer"}},
                "storage": {"type": "elasticsearch", "elasticsearch": {"url": "http://es:9200"}}
            }})
        );
    }

    #[test]
    fn connects_to_the_collector() {
        assert_eq!(
            jaeger(json!({})).endpoints().unwrap(),
            ["jaeger-collector:4317"]
        );
        assert_eq!(
            jaeger(json!({"protocol": "http"})).endpoints().unwrap(),
            ["jaeger-collector:4318"]
        );
    }
}
