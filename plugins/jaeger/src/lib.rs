//! Jaeger: self-hosted tracing, floe's default telemetry backend.
//!
//! The collector sends OTLP over gRPC to the Jaeger collector service, inside
//! the cluster, so TLS is off by default. The Helm values enable the jaeger
//! chart (3.x line, Jaeger v1: separate collector and query deployments) as a
//! subchart under the alias `jaeger`, with the query UI exposed.

use floe_plugin_api::{JsonObject, PluginError, TelemetryBackend, export_backend, json_object};

/// The in-cluster address of the Jaeger collector's OTLP/gRPC port.
pub const COLLECTOR_ENDPOINT: &str = "jaeger-collector:4317";

/// The Jaeger backend.
#[derive(Debug, Default)]
pub struct Jaeger;

impl TelemetryBackend for Jaeger {
    const NAME: &'static str = "jaeger";
    const DESCRIPTION: &'static str = "Jaeger, self-hosted tracing (default backend)";
    const SELF_HOSTED: bool = true;

    fn otlp_exporter_config(&self) -> Result<JsonObject, PluginError> {
        // `otlp` is the gRPC exporter's name on every collector release; newer
        // ones also call it `otlp_grpc` and keep `otlp` as an alias.
        Ok(json_object!({
            "exporters": {
                "otlp/jaeger": {
                    "endpoint": COLLECTOR_ENDPOINT,
                    "tls": { "insecure": true }
                }
            }
        }))
    }

    fn helm_values_override(&self) -> Result<JsonObject, PluginError> {
        Ok(json_object!({
            "jaeger": {
                "enabled": true,
                "collector": { "service": { "type": "ClusterIP" } },
                "query": { "service": { "type": "LoadBalancer" } }
            }
        }))
    }
}

export_backend!(Jaeger);

#[cfg(test)]
mod tests {
    use super::*;
    use floe_plugin_api::serde_json::{Value, json};

    #[test]
    fn exports_otlp_grpc_to_the_in_cluster_collector() {
        let config = Value::Object(Jaeger.otlp_exporter_config().unwrap());
        assert_eq!(
            config,
            json!({"exporters": {"otlp/jaeger": {
                "endpoint": "jaeger-collector:4317",
                "tls": {"insecure": true}
            }}})
        );
    }

    #[test]
    fn helm_values_are_the_reference_layout() {
        let values = Value::Object(Jaeger.helm_values_override().unwrap());
        assert_eq!(
            values,
            json!({"jaeger": {
                "enabled": true,
                "collector": {"service": {"type": "ClusterIP"}},
                "query": {"service": {"type": "LoadBalancer"}}
            }})
        );
    }
}
