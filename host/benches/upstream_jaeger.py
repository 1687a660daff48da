"""floe's own Python plugin host doing what `floe-telemetry exporter-config
jaeger` does: discover every plugin, load jaeger, ask it for its exporter
configuration and its Helm values. The comparison point of vs_python.sh;
runs in a venv with floe-core==0.1.0a1 and floe-telemetry-jaeger==0.1.0a1.

With `--show`, prints both results as one JSON line last (after floe's own
log lines), so the harness can check that the run did the work it times.
"""

import json
import sys

from floe_core.plugin_registry import PluginDiscovery, PluginLoader
from floe_core.plugin_types import PluginType

d = PluginDiscovery()
d.discover_all()
p = PluginLoader(d).get(PluginType.TELEMETRY_BACKEND, "jaeger")
exporter = p.get_otlp_exporter_config()
helm = p.get_helm_values()

if "--show" in sys.argv:
    print(json.dumps({"exporter": exporter, "helm": helm}))
