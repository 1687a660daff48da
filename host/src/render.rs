//! Composing the backends' fragments into one whole OpenTelemetry Collector
//! configuration, and their Helm values into one values file.
//!
//! Pure data in, data out: the caller gets the fragments from the plugins
//! and prints the result.
//!
//! A collector configuration is built either on a default skeleton (an `otlp`
//! receiver, the `memory_limiter` and `batch` processors, one pipeline per
//! signal some backend serves) or on the user's own configuration (`--base`),
//! whose receivers, processors and pipelines are kept. Each backend's
//! exporters and extensions are added under their own ids; an id already
//! taken (by the base or an earlier backend) is renamed apart, and the
//! rename is reported. The result is checked structurally before it is
//! returned.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use floe_plugin_api::JsonObject;
use serde_json::{Value, json};

use crate::Error;
use crate::config::MAX_CONFIG_FILE;
use crate::input;

/// The signals a pipeline can carry, in the order pipelines are printed.
pub const SIGNALS: [&str; 3] = ["traces", "metrics", "logs"];

/// The top-level sections of a collector configuration, in the order they
/// are printed (the order of the collector's own documentation).
const SECTIONS: [&str; 6] = [
    "receivers",
    "processors",
    "exporters",
    "connectors",
    "extensions",
    "service",
];

/// The component sections, whose keys are `type[/name]` ids.
const COMPONENT_SECTIONS: [&str; 5] = [
    "receivers",
    "processors",
    "exporters",
    "connectors",
    "extensions",
];

/// One backend's collector fragment, as its plugin returned it.
#[derive(Debug, Clone)]
pub struct BackendFragment {
    /// The backend's name.
    pub backend: String,
    /// The signals the backend accepts; `None` (an API 1.0 plugin, which
    /// does not say) counts as all three.
    pub signals: Option<Vec<String>>,
    /// `exporters`, `extensions`, and optionally `service.extensions` and
    /// `service.pipelines.<signal>.exporters` saying where its exporters go.
    pub fragment: JsonObject,
}

/// A component that took another id because its own was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// The backend whose component was renamed.
    pub backend: String,
    /// `exporters` or `extensions`.
    pub section: &'static str,
    /// The id the backend gave it.
    pub from: String,
    /// The id it has in the composed configuration.
    pub to: String,
    /// Who has `from`: another backend, or the base configuration.
    pub taken_by: String,
}

impl std::fmt::Display for Rename {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.section.strip_suffix('s').unwrap_or(self.section);
        write!(
            f,
            "{kind} {} of {} is {} here: {} already has {}",
            self.from, self.backend, self.to, self.taken_by, self.from
        )
    }
}

/// A composed collector configuration.
#[derive(Debug, Clone)]
pub struct Composed {
    /// The whole configuration, sections in the collector's order.
    pub config: JsonObject,
    /// The components renamed apart, in the order met.
    pub renamed: Vec<Rename>,
    /// Signals a backend takes that no pipeline carries to it (the base
    /// has no pipeline for them): sent nowhere, which may be meant.
    pub unsent: Vec<String>,
}

/// Reads a base file (YAML or JSON) that must hold a mapping.
pub fn load_base(file: &Path) -> Result<JsonObject, Error> {
    let unreadable = |reason: String| Error::ConfigUnreadable {
        file: file.to_owned(),
        reason,
    };
    let text = input::read_regular_text(file, MAX_CONFIG_FILE).map_err(|error| {
        unreadable(format!(
            "cannot read the base file: {error}; check the path given with --base"
        ))
    })?;
    // Through YAML's own mapping first: it refuses a key given twice (a
    // component id defined twice), where reading straight into JSON would
    // keep the last one silently.
    let document: serde_norway::Value = serde_norway::from_str(&text).map_err(|error| {
        unreadable(format!(
            "not a valid YAML or JSON document ({}); fix it",
            error.to_string().lines().next().unwrap_or_default()
        ))
    })?;
    match serde_json::to_value(document) {
        Ok(Value::Object(object)) => Ok(object),
        // An empty file is an empty mapping.
        Ok(Value::Null) => Ok(JsonObject::new()),
        Ok(_) => Err(unreadable(
            "the base file is not a mapping; it must be a YAML or JSON document of keys".to_owned(),
        )),
        Err(error) => Err(unreadable(format!(
            "cannot be read as plain YAML data ({error}); remove tags and non-text keys"
        ))),
    }
}

/// The configuration built on when there is no base: OTLP in over gRPC and
/// HTTP on every interface (the collector runs in a pod), a memory limiter
/// first and a batch processor last, as the collector's documentation
/// recommends. Pipelines are added for the signals the backends serve.
pub fn skeleton() -> JsonObject {
    let Value::Object(object) = json!({
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": "0.0.0.0:4317"},
                    "http": {"endpoint": "0.0.0.0:4318"}
                }
            }
        },
        "processors": {
            "memory_limiter": {
                "check_interval": "1s",
                "limit_percentage": 80,
                "spike_limit_percentage": 25
            },
            "batch": {}
        },
        "exporters": {},
        "service": {"pipelines": {}}
    }) else {
        unreachable!("a literal object")
    };
    object
}

/// Composes `backends` (in order) onto `base`, or onto [`skeleton`] when
/// there is none, and checks the result; see the module documentation.
pub fn collector(
    base: Option<&JsonObject>,
    backends: &[BackendFragment],
) -> Result<Composed, Error> {
    let base_name = if base.is_some() {
        "the base configuration"
    } else {
        "the default configuration"
    };
    let mut composer = Composer {
        config: base.cloned().unwrap_or_else(skeleton),
        owners: HashMap::new(),
        renamed: Vec::new(),
        unsent: Vec::new(),
        problems: Vec::new(),
        additions: Vec::new(),
        listed_extensions: Vec::new(),
        base_name,
    };
    for section in COMPONENT_SECTIONS {
        let ids: Vec<String> = composer
            .config
            .get(section)
            .and_then(Value::as_object)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        for id in ids {
            composer.owners.insert((section, id), base_name.to_owned());
        }
    }
    for backend in backends {
        composer.add(backend);
    }
    composer.place(base.is_some());
    let Composer {
        config,
        owners,
        renamed,
        unsent,
        mut problems,
        ..
    } = composer;
    let config = ordered(config);
    problems.extend(check(&config, &owners, base_name));
    if problems.is_empty() {
        Ok(Composed {
            config,
            renamed,
            unsent,
        })
    } else {
        Err(Error::InvalidCollectorConfig { problems })
    }
}

struct Composer {
    config: JsonObject,
    /// Who defined each component: a backend, or the base.
    owners: HashMap<(&'static str, String), String>,
    renamed: Vec<Rename>,
    unsent: Vec<String>,
    problems: Vec<String>,
    /// (backend, signal, exporter id): what goes into which pipelines.
    additions: Vec<(String, String, String)>,
    /// (backend, extension id): what goes into `service.extensions`.
    listed_extensions: Vec<(String, String)>,
    base_name: &'static str,
}

impl Composer {
    fn section(&mut self, section: &str) -> &mut JsonObject {
        let value = self
            .config
            .entry(section.to_owned())
            .or_insert_with(|| Value::Object(JsonObject::new()));
        if !value.is_object() {
            // Reported by `check`; composing goes on with an empty section.
            if value.is_null() {
                *value = Value::Object(JsonObject::new());
            } else {
                self.problems.push(format!(
                    "{}: `{section}` is not a mapping of component ids; fix the base file",
                    self.base_name
                ));
                *value = Value::Object(JsonObject::new());
            }
        }
        value.as_object_mut().expect("made an object above")
    }

    fn add(&mut self, backend: &BackendFragment) {
        let name = backend.backend.as_str();
        let fragment = &backend.fragment;
        for key in fragment.keys() {
            if !matches!(key.as_str(), "exporters" | "extensions" | "service") {
                self.problems.push(format!(
                    "{name}: `{key}`: a backend's fragment may hold only exporters, extensions \
                     and service; report this to the plugin's author"
                ));
            }
        }
        let exporters = self.map_of(name, fragment.get("exporters"), "exporters");
        let extensions = self.map_of(name, fragment.get("extensions"), "extensions");
        let service = self.map_of(name, fragment.get("service"), "service");
        for key in service.keys() {
            if !matches!(key.as_str(), "extensions" | "pipelines") {
                self.problems.push(format!(
                    "{name}: `service.{key}`: a backend's fragment may set only \
                     service.extensions and service.pipelines; report this to the plugin's author"
                ));
            }
        }

        let mut extension_ids = HashMap::new();
        for (id, body) in &extensions {
            let new = self.insert(name, "extensions", id, body.clone());
            extension_ids.insert(id.clone(), new.clone());
            // The collector starts only the extensions listed in
            // service.extensions: one the backend defines is one it uses.
            self.listed_extensions.push((name.to_owned(), new));
        }
        let mut exporter_ids = HashMap::new();
        for (id, body) in &exporters {
            let mut body = body.clone();
            rename_authenticators(&mut body, &extension_ids);
            let new = self.insert(name, "exporters", id, body);
            exporter_ids.insert(id.clone(), new);
        }
        for id in self.strings_at(name, service.get("extensions"), "service.extensions") {
            let id = extension_ids.get(&id).cloned().unwrap_or(id);
            self.listed_extensions.push((name.to_owned(), id));
        }

        // The fragment's own pipelines, when it has any, say where its
        // exporters go (datadog's `signals` setting); the others serve every
        // signal the backend accepts.
        let mut hinted = Vec::new();
        let pipelines = self.map_of(name, service.get("pipelines"), "service.pipelines");
        for (pipeline, body) in &pipelines {
            let signal = pipeline.split('/').next().unwrap_or_default();
            if !SIGNALS.contains(&signal) {
                self.problems.push(format!(
                    "{name}: `service.pipelines.{pipeline}`: not a pipeline of traces, metrics or \
                     logs; report this to the plugin's author"
                ));
                continue;
            }
            let body = self.map_of(name, Some(body), &format!("service.pipelines.{pipeline}"));
            for key in body.keys().filter(|key| *key != "exporters") {
                self.problems.push(format!(
                    "{name}: `service.pipelines.{pipeline}.{key}`: a backend's pipelines may \
                     name only exporters; report this to the plugin's author"
                ));
            }
            let path = format!("service.pipelines.{pipeline}.exporters");
            for id in self.strings_at(name, body.get("exporters"), &path) {
                hinted.push(id.clone());
                let id = exporter_ids.get(&id).cloned().unwrap_or(id);
                self.additions
                    .push((name.to_owned(), signal.to_owned(), id));
            }
        }
        let signals: Vec<String> = match &backend.signals {
            Some(signals) => signals.clone(),
            None => SIGNALS.iter().map(|s| (*s).to_owned()).collect(),
        };
        for (id, new) in &exporter_ids {
            if hinted.contains(id) {
                continue;
            }
            for signal in signals.iter().filter(|s| SIGNALS.contains(&s.as_str())) {
                self.additions
                    .push((name.to_owned(), signal.clone(), new.clone()));
            }
        }
    }

    /// Inserts component `id` of `backend` into `section`, under another id
    /// if it is taken; returns the id it got.
    fn insert(&mut self, backend: &str, section: &'static str, id: &str, body: Value) -> String {
        let taken = self.section(section);
        let new = free_id(taken, id, backend);
        taken.insert(new.clone(), body);
        if new != id {
            let taken_by = self
                .owners
                .get(&(section, id.to_owned()))
                .cloned()
                .unwrap_or_else(|| self.base_name.to_owned());
            self.renamed.push(Rename {
                backend: backend.to_owned(),
                section,
                from: id.to_owned(),
                to: new.clone(),
                taken_by,
            });
        }
        self.owners
            .insert((section, new.clone()), backend.to_owned());
        new
    }

    /// Puts the exporters into pipelines and the extensions into
    /// service.extensions.
    fn place(&mut self, on_base: bool) {
        let service = self.config.entry("service").or_insert_with(|| json!({}));
        if !service.is_object() {
            self.problems.push(format!(
                "{}: `service` is not a mapping; fix the base file",
                self.base_name
            ));
            return;
        }
        let service = service.as_object_mut().expect("checked above");
        let pipelines = service.entry("pipelines").or_insert_with(|| json!({}));
        if pipelines.is_null() {
            *pipelines = json!({});
        }
        let Some(pipelines) = pipelines.as_object_mut() else {
            self.problems.push(format!(
                "{}: `service.pipelines` is not a mapping; fix the base file",
                self.base_name
            ));
            return;
        };
        if !on_base {
            for signal in SIGNALS {
                let exporters: Vec<&String> = self
                    .additions
                    .iter()
                    .filter(|(_, s, _)| s == signal)
                    .map(|(_, _, id)| id)
                    .collect();
                if !exporters.is_empty() {
                    pipelines.insert(
                        signal.to_owned(),
                        json!({
                            "receivers": ["otlp"],
                            "processors": ["memory_limiter", "batch"],
                            "exporters": []
                        }),
                    );
                }
            }
        }
        let mut placed: Vec<&str> = Vec::new();
        for (backend, signal, id) in &self.additions {
            if !pipelines
                .keys()
                .any(|pipeline| pipeline.split('/').next() == Some(signal.as_str()))
            {
                let note = format!(
                    "{backend} takes {signal}, but {} has no {signal} pipeline, so none are sent \
                     to it; add a `{signal}` pipeline (with its receivers) to the base file to \
                     send them",
                    self.base_name
                );
                if !self.unsent.contains(&note) {
                    self.unsent.push(note);
                }
            }
            for (pipeline, body) in pipelines.iter_mut() {
                if pipeline.split('/').next() != Some(signal.as_str()) {
                    continue;
                }
                let Some(body) = body.as_object_mut() else {
                    continue;
                };
                let list = body.entry("exporters").or_insert_with(|| json!([]));
                if list.is_null() {
                    *list = json!([]);
                }
                if let Some(list) = list.as_array_mut() {
                    if !list.iter().any(|item| item.as_str() == Some(id)) {
                        list.push(Value::String(id.clone()));
                    }
                    placed.push(id);
                }
            }
        }
        // An exporter in no pipeline would be defined and never used.
        let mut reported: Vec<(&str, &str)> = Vec::new();
        for (backend, _, id) in &self.additions {
            let key = (backend.as_str(), id.as_str());
            if placed.contains(&key.1) || reported.contains(&key) {
                continue;
            }
            reported.push(key);
            let served: Vec<&str> = self
                .additions
                .iter()
                .filter(|(b, _, i)| b == backend && i == id)
                .map(|(_, signal, _)| signal.as_str())
                .collect();
            self.problems.push(format!(
                "{backend}: `exporters.{id}` serves {}, but {} has no pipeline for {}; add one \
                 (with its receivers) to the base file",
                served.join(", "),
                self.base_name,
                if served.len() == 1 {
                    "it"
                } else {
                    "any of them"
                }
            ));
        }
        if !self.listed_extensions.is_empty() {
            let list = service.entry("extensions").or_insert_with(|| json!([]));
            if list.is_null() {
                *list = json!([]);
            }
            if let Some(list) = list.as_array_mut() {
                for (_, id) in &self.listed_extensions {
                    if !list.iter().any(|item| item.as_str() == Some(id)) {
                        list.push(Value::String(id.clone()));
                    }
                }
            }
        }
        for (backend, id) in &self.listed_extensions {
            self.owners
                .entry(("service.extensions", id.clone()))
                .or_insert_with(|| backend.clone());
        }
        for (backend, _, id) in &self.additions {
            self.owners
                .entry(("pipelines", id.clone()))
                .or_insert_with(|| backend.clone());
        }
    }

    /// `value` as a mapping, or an empty one with a problem when it is not.
    fn map_of(&mut self, backend: &str, value: Option<&Value>, key: &str) -> JsonObject {
        match value {
            None | Some(Value::Null) => JsonObject::new(),
            Some(Value::Object(object)) => object.clone(),
            Some(_) => {
                self.problems.push(format!(
                    "{backend}: `{key}` is not a mapping; report this to the plugin's author"
                ));
                JsonObject::new()
            }
        }
    }

    /// `value` as a list of strings, or none with a problem when it is not.
    fn strings_at(&mut self, backend: &str, value: Option<&Value>, key: &str) -> Vec<String> {
        match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect(),
            Some(_) => {
                self.problems.push(format!(
                    "{backend}: `{key}` is not a list of ids; report this to the plugin's author"
                ));
                Vec::new()
            }
        }
    }
}

/// `id`, or when `taken` has it, the first free one of `type/<backend>`,
/// `type/<name>_<backend>`, then the last of those followed by `_2`, `_3`, ...
/// (`backend` with `-` written `_`).
fn free_id(taken: &JsonObject, id: &str, backend: &str) -> String {
    if !taken.contains_key(id) {
        return id.to_owned();
    }
    let backend = backend.replace('-', "_");
    let (kind, name) = match id.split_once('/') {
        Some((kind, name)) => (kind, Some(name)),
        None => (id, None),
    };
    let mut candidates = vec![format!("{kind}/{backend}")];
    if let Some(name) = name.filter(|name| *name != backend) {
        candidates.push(format!("{kind}/{name}_{backend}"));
    }
    let last = candidates.last().expect("one candidate at least").clone();
    candidates
        .into_iter()
        .chain((2..).map(|n| format!("{last}_{n}")))
        .find(|candidate| !taken.contains_key(candidate))
        .expect("an unbounded sequence has a free id")
}

/// Points every `authenticator` in `value` at the extension's new id.
fn rename_authenticators(value: &mut Value, renamed: &HashMap<String, String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                match child {
                    Value::String(id) if key == "authenticator" => {
                        if let Some(new) = renamed.get(id.as_str()) {
                            *id = new.clone();
                        }
                    }
                    other => rename_authenticators(other, renamed),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rename_authenticators(item, renamed)),
        _ => {}
    }
}

/// `config` with its sections in the collector's order (others after them,
/// as they were), `service` as extensions, pipelines, then the rest, and each
/// pipeline as receivers, processors, exporters, then the rest.
fn ordered(mut config: JsonObject) -> JsonObject {
    let mut out = take_in_order(&mut config, &SECTIONS);
    if let Some(Value::Object(service)) = out.get_mut("service") {
        let mut new = take_in_order(service, &["extensions", "pipelines"]);
        if let Some(Value::Object(pipelines)) = new.get_mut("pipelines") {
            for body in pipelines.values_mut() {
                if let Value::Object(pipeline) = body {
                    *pipeline = take_in_order(pipeline, &["receivers", "processors", "exporters"]);
                }
            }
        }
        *service = new;
    }
    out
}

fn take_in_order(object: &mut JsonObject, first: &[&str]) -> JsonObject {
    let mut out = JsonObject::new();
    for key in first {
        if let Some(value) = object.shift_remove(*key) {
            out.insert((*key).to_owned(), value);
        }
    }
    out.extend(std::mem::take(object));
    out
}

/// Whether `id` is a collector component id: `type` or `type/name`, with a
/// type of letters, digits and `_` starting with a letter, and a name
/// without spaces, control characters or `/`.
pub fn is_component_id(id: &str) -> bool {
    let (kind, name) = match id.split_once('/') {
        Some((kind, name)) => (kind, Some(name)),
        None => (id, None),
    };
    let kind_ok = kind.len() <= 63
        && kind.starts_with(|c: char| c.is_ascii_alphabetic())
        && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let name_ok = name.is_none_or(|name| {
        !name.is_empty()
            && name.len() <= 1024
            && !name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    });
    kind_ok && name_ok
}

/// What is structurally wrong with `config`, a whole collector configuration
/// from anywhere (a file, a chart's rendering): the checks [`collector`]
/// applies to what it composes.
pub fn validate(config: &JsonObject) -> Vec<String> {
    check(config, &HashMap::new(), "the configuration")
}

/// What is structurally wrong with a whole collector configuration: every
/// pipeline has receivers and exporters, every component a pipeline names
/// is defined, no list names an id twice, every extension an exporter or
/// receiver authenticates with is defined and listed in service.extensions,
/// every listed extension is defined, and memory_limiter has its required
/// fields. Each problem names who put the component there.
fn check(
    config: &JsonObject,
    owners: &HashMap<(&'static str, String), String>,
    base_name: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    let owner = |section: &'static str, id: &str| -> String {
        owners
            .get(&(section, id.to_owned()))
            .cloned()
            .unwrap_or_else(|| base_name.to_owned())
    };
    let defined = |section: &str, id: &str| {
        config
            .get(section)
            .and_then(Value::as_object)
            .is_some_and(|s| s.contains_key(id))
    };
    for section in COMPONENT_SECTIONS {
        match config.get(section) {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(_) => problems.push(format!(
                "{base_name}: `{section}` is not a mapping of component ids"
            )),
        }
        for (id, body) in config
            .get(section)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if !is_component_id(id) {
                problems.push(format!(
                    "{}: `{section}.{id}`: not a component id (`type` or `type/name`, the type \
                     of letters, digits and `_`)",
                    owner(section, id)
                ));
            }
            if section == "processors" && id.split('/').next() == Some("memory_limiter") {
                // Zero is the collector's "unset": it refuses it as it
                // refuses a missing field.
                let has = |key: &str| {
                    body.get(key).is_some_and(|v| match v {
                        Value::Null => false,
                        Value::Number(n) => n.as_f64() != Some(0.0),
                        Value::String(s) => {
                            !s.trim_start_matches('0').is_empty()
                                && !matches!(s.trim_start_matches('0'), "s" | "ms" | "m" | "h")
                        }
                        _ => true,
                    })
                };
                if !has("check_interval") {
                    problems.push(format!(
                        "{}: `processors.{id}.check_interval` is required and must be more \
                         than zero (e.g. 1s)",
                        owner(section, id)
                    ));
                }
                if !has("limit_mib") && !has("limit_percentage") {
                    problems.push(format!(
                        "{}: `processors.{id}` needs `limit_mib` or `limit_percentage`, more \
                         than zero",
                        owner(section, id)
                    ));
                }
            }
        }
    }

    let service = config.get("service").and_then(Value::as_object);
    let listed: Vec<&str> = service
        .and_then(|s| s.get("extensions"))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut seen = Vec::new();
    for id in &listed {
        let who = owners
            .get(&("service.extensions", (*id).to_owned()))
            .cloned()
            .unwrap_or_else(|| base_name.to_owned());
        if seen.contains(id) {
            problems.push(format!("{who}: `service.extensions` lists {id} twice"));
        }
        seen.push(id);
        if !defined("extensions", id) {
            problems.push(format!(
                "{who}: `service.extensions` lists {id}, which is not defined under extensions"
            ));
        }
    }
    for section in ["receivers", "exporters"] {
        for (id, body) in config
            .get(section)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for extension in authenticators(body) {
                if !defined("extensions", &extension) {
                    problems.push(format!(
                        "{}: `{section}.{id}` authenticates with {extension}, which is not \
                         defined under extensions",
                        owner(
                            if section == "receivers" {
                                "receivers"
                            } else {
                                "exporters"
                            },
                            id
                        )
                    ));
                } else if !listed.contains(&extension.as_str()) {
                    problems.push(format!(
                        "{}: `{section}.{id}` authenticates with {extension}, which is not \
                         listed in service.extensions (the collector would not start it)",
                        owner(
                            if section == "receivers" {
                                "receivers"
                            } else {
                                "exporters"
                            },
                            id
                        )
                    ));
                }
            }
        }
    }

    let pipelines = service
        .and_then(|s| s.get("pipelines"))
        .and_then(Value::as_object);
    match pipelines {
        Some(pipelines) if !pipelines.is_empty() => {
            for (pipeline, body) in pipelines {
                check_pipeline(pipeline, body, config, owners, base_name, &mut problems);
            }
        }
        _ => problems.push(
            "`service.pipelines`: no pipeline; select a backend, or give a base with a pipeline"
                .to_owned(),
        ),
    }
    problems
}

fn check_pipeline(
    pipeline: &str,
    body: &Value,
    config: &JsonObject,
    owners: &HashMap<(&'static str, String), String>,
    base_name: &str,
    problems: &mut Vec<String>,
) {
    let signal = pipeline.split('/').next().unwrap_or_default();
    if !SIGNALS.contains(&signal) && signal != "profiles" {
        problems.push(format!(
            "{base_name}: `service.pipelines.{pipeline}`: not a pipeline of traces, metrics, \
             logs or profiles"
        ));
    }
    let Some(body) = body.as_object() else {
        problems.push(format!(
            "{base_name}: `service.pipelines.{pipeline}` is not a mapping"
        ));
        return;
    };
    for (key, sections, required) in [
        ("receivers", &["receivers", "connectors"][..], true),
        ("processors", &["processors"][..], false),
        ("exporters", &["exporters", "connectors"][..], true),
    ] {
        let path = format!("service.pipelines.{pipeline}.{key}");
        let ids: Vec<&str> = match body.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(_) => {
                problems.push(format!("{base_name}: `{path}` is not a list of ids"));
                continue;
            }
        };
        if required && ids.is_empty() {
            problems.push(format!(
                "{base_name}: `{path}` is empty; a pipeline needs at least one {}",
                &key[..key.len() - 1]
            ));
        }
        let mut seen = Vec::new();
        for id in ids {
            let who = if key == "exporters" {
                owners
                    .get(&("pipelines", id.to_owned()))
                    .cloned()
                    .unwrap_or_else(|| base_name.to_owned())
            } else {
                base_name.to_owned()
            };
            if seen.contains(&id) {
                problems.push(format!("{who}: `{path}` lists {id} twice"));
            }
            seen.push(id);
            let is_defined = sections.iter().any(|section| {
                config
                    .get(*section)
                    .and_then(Value::as_object)
                    .is_some_and(|s| s.contains_key(id))
            });
            if !is_defined {
                problems.push(format!(
                    "{who}: `{path}` lists {id}, which is not defined under {}",
                    sections.join(" or ")
                ));
            }
        }
    }
}

/// The `authenticator` ids anywhere in a component's configuration.
fn authenticators(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                match child {
                    Value::String(id) if key == "authenticator" => out.push(id.clone()),
                    other => out.extend(authenticators(other)),
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| out.extend(authenticators(item))),
        _ => {}
    }
    out
}

/// Deep-merges each backend's Helm values (in order) onto `base`: maps merge
/// key by key, lists and scalars replace. The backends' values replace the
/// base's; two backends that set the same key path to different values are
/// an error naming both and the path.
pub fn helm(
    base: Option<&JsonObject>,
    backends: &[(String, JsonObject)],
) -> Result<JsonObject, Error> {
    let mut merged = JsonObject::new();
    let mut setters = BTreeMap::new();
    for (backend, values) in backends {
        merge_backend(&mut merged, values, "", backend, &mut setters)?;
    }
    let mut out = base.cloned().unwrap_or_default();
    deep_merge(&mut out, merged);
    Ok(out)
}

fn merge_backend(
    into: &mut JsonObject,
    from: &JsonObject,
    prefix: &str,
    backend: &str,
    setters: &mut BTreeMap<String, String>,
) -> Result<(), Error> {
    for (key, value) in from {
        let segment = if key.contains('.') {
            format!("\"{key}\"")
        } else {
            key.clone()
        };
        let path = if prefix.is_empty() {
            segment
        } else {
            format!("{prefix}.{segment}")
        };
        match (into.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(value)) => {
                merge_backend(existing, value, &path, backend, setters)?
            }
            (Some(existing), value) if existing == value => {}
            (Some(existing), value) => {
                // Whoever set this path, or the map above it.
                let first = setters
                    .iter()
                    .filter(|(set, _)| path == **set || path.starts_with(&format!("{set}.")))
                    .max_by_key(|(set, _)| set.len())
                    .map(|(_, who)| who.clone())
                    .unwrap_or_default();
                return Err(Error::HelmConflict {
                    path,
                    first,
                    first_value: existing.to_string(),
                    second: backend.to_owned(),
                    second_value: value.to_string(),
                });
            }
            (None, value) => {
                into.insert(key.clone(), value.clone());
                setters.insert(path, backend.to_owned());
            }
        }
    }
    Ok(())
}

/// Helm's merge of a values file onto another: maps recursively, anything
/// else replaced.
pub fn deep_merge(into: &mut JsonObject, from: JsonObject) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(value)) => deep_merge(existing, value),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
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

    fn fragment(backend: &str, signals: Option<&[&str]>, value: Value) -> BackendFragment {
        BackendFragment {
            backend: backend.to_owned(),
            signals: signals.map(|s| s.iter().map(|s| (*s).to_owned()).collect()),
            fragment: object(value),
        }
    }

    fn jaeger() -> BackendFragment {
        fragment(
            "jaeger",
            Some(&["traces"]),
            json!({"exporters": {"otlp/jaeger": {"endpoint": "jaeger-collector:4317"}}}),
        )
    }

    fn datadog(signals: &[&str]) -> BackendFragment {
        let mut pipelines = JsonObject::new();
        for signal in signals {
            pipelines.insert((*signal).to_owned(), json!({"exporters": ["datadog"]}));
        }
        fragment(
            "datadog",
            Some(&["traces", "metrics", "logs"]),
            json!({
                "exporters": {"datadog": {"api": {"key": "${env:DD_API_KEY}"}}},
                "service": {"pipelines": pipelines}
            }),
        )
    }

    fn grafana() -> BackendFragment {
        fragment(
            "grafana-cloud",
            None,
            json!({
                "extensions": {"basicauth/grafana_cloud": {"client_auth": {"username": "u"}}},
                "exporters": {"otlphttp/grafana_cloud": {
                    "endpoint": "https://x/otlp",
                    "auth": {"authenticator": "basicauth/grafana_cloud"}
                }},
                "service": {"extensions": ["basicauth/grafana_cloud"]}
            }),
        )
    }

    fn pipeline_exporters(config: &JsonObject, pipeline: &str) -> Vec<String> {
        config["service"]["pipelines"][pipeline]["exporters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn one_pipeline_per_signal_served_with_only_its_backends() {
        let composed = collector(None, &[jaeger(), datadog(&["traces", "logs"])]).unwrap();
        let config = &composed.config;
        let pipelines = config["service"]["pipelines"].as_object().unwrap();
        assert_eq!(pipelines.keys().collect::<Vec<_>>(), ["traces", "logs"]);
        assert_eq!(
            pipeline_exporters(config, "traces"),
            ["otlp/jaeger", "datadog"]
        );
        assert_eq!(pipeline_exporters(config, "logs"), ["datadog"]);
        assert_eq!(
            config["service"]["pipelines"]["logs"],
            json!({"receivers": ["otlp"], "processors": ["memory_limiter", "batch"], "exporters": ["datadog"]})
        );
        assert!(composed.renamed.is_empty());
    }

    #[test]
    fn sections_come_in_the_collectors_order() {
        let composed = collector(None, &[grafana(), jaeger()]).unwrap();
        assert_eq!(
            composed.config.keys().collect::<Vec<_>>(),
            [
                "receivers",
                "processors",
                "exporters",
                "extensions",
                "service"
            ]
        );
        assert_eq!(
            composed.config["service"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["extensions", "pipelines"]
        );
    }

    #[test]
    fn an_api_1_0_backend_serves_every_signal() {
        let composed = collector(None, &[grafana()]).unwrap();
        for signal in SIGNALS {
            assert_eq!(
                pipeline_exporters(&composed.config, signal),
                ["otlphttp/grafana_cloud"]
            );
        }
        assert_eq!(
            composed.config["service"]["extensions"],
            json!(["basicauth/grafana_cloud"])
        );
    }

    #[test]
    fn clashing_ids_are_renamed_apart_with_their_references() {
        let acme = fragment(
            "acme-cloud",
            None,
            json!({
                "extensions": {"basicauth/grafana_cloud": {"client_auth": {"username": "a"}}},
                "exporters": {"otlphttp/grafana_cloud": {
                    "endpoint": "https://acme/otlp",
                    "auth": {"authenticator": "basicauth/grafana_cloud"}
                }},
                "service": {"extensions": ["basicauth/grafana_cloud"]}
            }),
        );
        let plain = |backend| {
            fragment(
                backend,
                Some(&["traces"]),
                json!({"exporters": {"otlp": {"endpoint": "x:4317"}}}),
            )
        };
        let composed = collector(None, &[grafana(), acme, plain("one"), plain("two")]).unwrap();
        let config = &composed.config;
        assert_eq!(
            config["exporters"]["otlphttp/acme_cloud"]["auth"]["authenticator"],
            "basicauth/acme_cloud"
        );
        assert_eq!(
            config["exporters"]["otlphttp/grafana_cloud"]["auth"]["authenticator"],
            "basicauth/grafana_cloud"
        );
        assert_eq!(
            config["service"]["extensions"],
            json!(["basicauth/grafana_cloud", "basicauth/acme_cloud"])
        );
        assert_eq!(
            pipeline_exporters(config, "traces"),
            [
                "otlphttp/grafana_cloud",
                "otlphttp/acme_cloud",
                "otlp",
                "otlp/two"
            ]
        );
        let renames: Vec<(&str, &str, &str)> = composed
            .renamed
            .iter()
            .map(|r| (r.from.as_str(), r.to.as_str(), r.taken_by.as_str()))
            .collect();
        assert_eq!(
            renames,
            [
                (
                    "basicauth/grafana_cloud",
                    "basicauth/acme_cloud",
                    "grafana-cloud"
                ),
                (
                    "otlphttp/grafana_cloud",
                    "otlphttp/acme_cloud",
                    "grafana-cloud"
                ),
                ("otlp", "otlp/two", "one"),
            ]
        );
    }

    #[test]
    fn free_ids_are_deterministic() {
        let taken =
            object(json!({"otlp": {}, "otlp/jaeger": {}, "otlp/x": {}, "otlp/x_jaeger": {}}));
        assert_eq!(free_id(&taken, "otlp/new", "jaeger"), "otlp/new");
        assert_eq!(free_id(&taken, "otlp", "acme-cloud"), "otlp/acme_cloud");
        assert_eq!(free_id(&taken, "otlp", "jaeger"), "otlp/jaeger_2");
        assert_eq!(free_id(&taken, "otlp/x", "jaeger"), "otlp/x_jaeger_2");
        assert_eq!(free_id(&taken, "otlp/jaeger", "acme"), "otlp/acme");
    }

    fn filelog_base() -> JsonObject {
        object(json!({
            "receivers": {"filelog": {"include": ["/var/log/app.log"]}},
            "processors": {"batch": {}},
            "exporters": {"otlphttp/grafana_cloud": {"endpoint": "http://mine"}},
            "service": {
                "telemetry": {"logs": {"level": "warn"}},
                "pipelines": {"logs": {"receivers": ["filelog"], "processors": ["batch"]}}
            }
        }))
    }

    #[test]
    fn a_base_keeps_its_receivers_and_processors_and_gets_the_exporters() {
        let base = filelog_base();
        let header = fragment(
            "grafana-cloud",
            Some(&["traces", "metrics", "logs"]),
            json!({"exporters": {"otlphttp/grafana_cloud": {"endpoint": "https://x/otlp"}}}),
        );
        let composed = collector(Some(&base), &[header]).unwrap();
        let config = &composed.config;
        assert_eq!(config["receivers"], base["receivers"]);
        assert_eq!(config["processors"], base["processors"]);
        assert_eq!(
            config["exporters"]["otlphttp/grafana_cloud"],
            base["exporters"]["otlphttp/grafana_cloud"]
        );
        assert_eq!(
            pipeline_exporters(config, "logs"),
            ["otlphttp/grafana_cloud_2"]
        );
        assert_eq!(composed.renamed[0].to, "otlphttp/grafana_cloud_2");
        assert_eq!(composed.renamed[0].taken_by, "the base configuration");
        assert_eq!(
            config["service"]["telemetry"],
            json!({"logs": {"level": "warn"}})
        );
    }

    #[test]
    fn an_exporter_with_no_pipeline_in_the_base_is_an_error_naming_the_backend() {
        let error = collector(Some(&filelog_base()), &[jaeger()]).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("jaeger: `exporters.otlp/jaeger` serves traces, but the base configuration has no pipeline for it"),
            "{text}"
        );
    }

    #[test]
    fn structural_problems_name_the_backend_and_the_key() {
        let broken = fragment(
            "acme",
            Some(&["traces"]),
            json!({
                "exporters": {"otlphttp": {"auth": {"authenticator": "oauth2client"}}},
                "service": {"extensions": ["basicauth/missing"]},
                "receivers": {"otlp": {}}
            }),
        );
        let Err(Error::InvalidCollectorConfig { problems }) = collector(None, &[broken]) else {
            panic!("expected problems")
        };
        let text = problems.join("\n");
        for expected in [
            "acme: `receivers`: a backend's fragment may hold only exporters, extensions and service",
            "acme: `service.extensions` lists basicauth/missing, which is not defined under extensions",
            "acme: `exporters.otlphttp` authenticates with oauth2client, which is not defined under extensions",
        ] {
            assert!(text.contains(expected), "{expected}\n{text}");
        }
    }

    #[test]
    fn base_problems_are_reported_too() {
        let base = object(json!({
            "receivers": {"filelog": {}},
            "processors": {"memory_limiter": {"limit_mib": 100, "check_interval": "0s"}},
            "exporters": {"otlphttp": {"endpoint": "http://x"}},
            "service": {"pipelines": {
                "logs": {"receivers": ["filelog", "filelog"], "processors": ["memory_limiter", "batch"], "exporters": ["otlphttp"]},
                "traces": {"receivers": [], "exporters": ["otlphttp"]}
            }}
        }));
        let Err(Error::InvalidCollectorConfig { problems }) = collector(Some(&base), &[]) else {
            panic!("expected problems")
        };
        let text = problems.join("\n");
        for expected in [
            "`processors.memory_limiter.check_interval` is required",
            "`service.pipelines.logs.receivers` lists filelog twice",
            "`service.pipelines.logs.processors` lists batch, which is not defined under processors",
            "`service.pipelines.traces.receivers` is empty",
        ] {
            assert!(text.contains(expected), "{expected}\n{text}");
        }
    }

    #[test]
    fn no_backend_and_no_base_is_no_pipeline() {
        let error = collector(None, &[]).unwrap_err();
        assert!(error.to_string().contains("no pipeline"), "{error}");
    }

    #[test]
    fn a_base_defining_an_id_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("base.yaml");
        std::fs::write(&file, "exporters:\n  otlphttp: {}\n  otlphttp: {}\n").unwrap();
        let error = load_base(&file).unwrap_err().to_string();
        assert!(
            error.contains("duplicate entry with key \"otlphttp\""),
            "{error}"
        );
        std::fs::write(&file, "b: 1\na: {x: [1, 2]}\n").unwrap();
        let base = load_base(&file).unwrap();
        assert_eq!(base.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(base["a"], json!({"x": [1, 2]}));
        std::fs::write(&file, "").unwrap();
        assert!(load_base(&file).unwrap().is_empty());
        std::fs::write(&file, "[1]").unwrap();
        assert!(load_base(&file).is_err());
    }

    #[test]
    fn component_ids() {
        for good in [
            "otlp",
            "otlp/jaeger",
            "otlp_http/a-b.c",
            "basicauth/grafana_cloud",
        ] {
            assert!(is_component_id(good), "{good}");
        }
        for bad in [
            "", "1otlp", "otlp/", "otlp/a/b", "ot lp", "otlp/a b", "otlp-x",
        ] {
            assert!(!is_component_id(bad), "{bad}");
        }
    }

    #[test]
    fn helm_values_merge_maps_and_replace_lists_and_scalars() {
        let base = object(json!({
            "mode": "deployment",
            "jaeger": {"enabled": false, "query": {"replicas": 2}},
            "ports": [1, 2]
        }));
        let merged = helm(
            Some(&base),
            &[
                ("jaeger".to_owned(), object(json!({"jaeger": {"enabled": true, "query": {"service": {"type": "LoadBalancer"}}}}))),
                ("acme".to_owned(), object(json!({"ports": [3], "jaeger": {"enabled": true}}))),
                ("datadog".to_owned(), JsonObject::new()),
            ],
        )
        .unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({
                "mode": "deployment",
                "jaeger": {"enabled": true, "query": {"replicas": 2, "service": {"type": "LoadBalancer"}}},
                "ports": [3]
            })
        );
    }

    #[test]
    fn two_backends_setting_one_key_differently_is_an_error_naming_both() {
        let error = helm(
            None,
            &[
                (
                    "jaeger".to_owned(),
                    object(json!({"jaeger": {"query": {"service": {"type": "LoadBalancer"}}}})),
                ),
                (
                    "acme".to_owned(),
                    object(json!({"jaeger": {"query": {"service": {"type": "ClusterIP"}}}})),
                ),
            ],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "backends jaeger and acme both set the Helm value `jaeger.query.service.type`, to \
             \"LoadBalancer\" and \"ClusterIP\"; change the settings of one of them so that they agree"
        );
        // A map against a scalar names whoever set the map.
        let error = helm(
            None,
            &[
                ("a".to_owned(), object(json!({"x": {"y": 1}}))),
                ("b".to_owned(), object(json!({"x": {"y": {"z": 2}}}))),
            ],
        )
        .unwrap_err();
        let Error::HelmConflict {
            path,
            first,
            second,
            ..
        } = error
        else {
            panic!("a conflict")
        };
        assert_eq!(
            (path.as_str(), first.as_str(), second.as_str()),
            ("x.y", "a", "b")
        );
    }
}
