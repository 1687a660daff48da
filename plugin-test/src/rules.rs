//! The rules, and running them all.

use floe_plugin_api::{ApiVersion, JsonObject};

use crate::subject::{Answer, Declared, Subject};
use crate::{Report, RuleResult, Verdict, fragment, schema};

/// One conformance rule.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Short id, as `check-plugin` prints it.
    pub id: &'static str,
    /// What a backend that follows it does.
    pub summary: &'static str,
}

/// Every rule, in the order they are reported.
pub const RULES: [Rule; 12] = [
    Rule {
        id: "loads",
        summary: "the host loads the library",
    },
    Rule {
        id: "metadata",
        summary: "the metadata section matches the module; name, version and description are valid",
    },
    Rule {
        id: "schema-closed",
        summary: "the settings schema is a closed object",
    },
    Rule {
        id: "schema-documented",
        summary: "every setting has a description, and a default or says it is optional",
    },
    Rule {
        id: "empty-settings",
        summary: "`{}` is valid settings and configures the backend",
    },
    Rule {
        id: "objects",
        summary: "every call returns a JSON object",
    },
    Rule {
        id: "component-ids",
        summary: "every component id is `type` or `type/name`",
    },
    Rule {
        id: "no-literal-credentials",
        summary: "every secret-looking field is an ${env:NAME} reference",
    },
    Rule {
        id: "fragment-shape",
        summary: "the fragment holds exporters, extensions and service.{extensions,pipelines} only",
    },
    Rule {
        id: "pipelines",
        summary: "pipelines name only exporters the fragment defines and signals the backend declares",
    },
    Rule {
        id: "composes",
        summary: "the fragment passes the host's validation, alone and with the bundled backends",
    },
    Rule {
        id: "hosted-helm-empty",
        summary: "a hosted backend's Helm values are {}",
    },
];

/// Composes a backend's fragment into whole collector configurations and
/// validates them: what only a host can do. `floe-telemetry check-plugin`
/// provides one.
pub trait Compose {
    /// Composes `fragment` of the backend `declared`; `Ok` says with what,
    /// `Err` lists every problem.
    fn compose(&self, declared: &Declared, fragment: &JsonObject) -> Result<String, Vec<String>>;
}

/// Applies every rule to `subject`; the `composes` rule runs only with a
/// `compose`.
pub fn run(subject: &Subject, compose: Option<&dyn Compose>) -> Report {
    let results = RULES
        .iter()
        .map(|rule| RuleResult {
            rule,
            verdict: verdict(rule.id, subject, compose),
        })
        .collect();
    Report {
        subject: subject.declared.name.clone(),
        results,
    }
}

fn verdict(id: &str, subject: &Subject, compose: Option<&dyn Compose>) -> Verdict {
    let fragment = subject.exporter_config.object();
    let needs_fragment = |check: &dyn Fn(&JsonObject) -> Vec<String>| match fragment {
        Some(fragment) => judge(check(fragment)),
        None => Verdict::NotRun("no fragment to check (see `empty-settings` and `objects`)".into()),
    };
    match id {
        "loads" => Verdict::Pass(subject.loaded.clone()),
        "metadata" => judge(metadata(subject)),
        "schema-closed" => schema_rule(subject, schema::closed),
        "schema-documented" => schema_rule(subject, schema::documented),
        "empty-settings" => judge(empty_settings(subject)),
        "objects" => judge(objects(subject)),
        "component-ids" => needs_fragment(&fragment::component_ids),
        "no-literal-credentials" => {
            let mut problems = fragment
                .map(fragment::literal_credentials("fragment"))
                .unwrap_or_default();
            if let Answer::Object(values) = &subject.helm_values {
                problems.extend(fragment::literal_credentials("Helm values")(values));
            }
            if fragment.is_none() && subject.helm_values.object().is_none() {
                return Verdict::NotRun(
                    "no output to check (see `empty-settings` and `objects`)".into(),
                );
            }
            judge(problems)
        }
        "fragment-shape" => needs_fragment(&fragment::shape),
        "pipelines" => {
            let signals = subject.declared.signals.as_deref();
            needs_fragment(&|fragment| fragment::pipelines(fragment, signals))
        }
        "composes" => match (compose, fragment) {
            (None, _) => Verdict::NotRun(
                "needs the host: run `floe-telemetry check-plugin` on the built library".into(),
            ),
            (Some(_), None) => {
                Verdict::NotRun("no fragment to check (see `empty-settings` and `objects`)".into())
            }
            (Some(compose), Some(fragment)) => match compose.compose(&subject.declared, fragment) {
                Ok(what) => Verdict::Pass(Some(what)),
                Err(problems) => Verdict::Fail(problems),
            },
        },
        "hosted-helm-empty" => match (&subject.helm_values, subject.declared.self_hosted) {
            (_, true) => Verdict::Pass(Some(
                "self-hosted: its Helm values deploy its services".into(),
            )),
            (Answer::Object(values), false) => judge(hosted_helm(values)),
            _ => Verdict::NotRun(
                "no Helm values to check (see `empty-settings` and `objects`)".into(),
            ),
        },
        other => unreachable!("rule {other} has no check"),
    }
}

fn judge(problems: Vec<String>) -> Verdict {
    if problems.is_empty() {
        Verdict::Pass(None)
    } else {
        Verdict::Fail(problems)
    }
}

fn schema_rule(subject: &Subject, check: fn(&JsonObject) -> Vec<String>) -> Verdict {
    match &subject.schema {
        None => Verdict::Pass(Some(format!(
            "built for plugin API {}: takes no settings",
            subject.declared.floe_api_version
        ))),
        Some(Answer::Object(schema)) => judge(check(schema)),
        Some(_) => Verdict::NotRun("no settings schema to check (see `objects`)".into()),
    }
}

fn metadata(subject: &Subject) -> Vec<String> {
    let declared = &subject.declared;
    let mut problems = Vec::new();
    if let Err(problem) = &subject.section {
        problems.push(problem.clone());
    }
    if !is_backend_name(&declared.name) {
        problems.push(format!(
            "NAME {:?} is not a backend name: 1 to 64 of `a-z`, `0-9` and `-`, starting with a \
             letter",
            declared.name
        ));
    }
    if let Err(error) = semver::Version::parse(&declared.version) {
        problems.push(format!(
            "version {:?} is not a semantic version ({error}); set `version` in Cargo.toml",
            declared.version
        ));
    }
    if declared.description.trim().is_empty() || declared.description.contains('\n') {
        problems.push(
            "DESCRIPTION must be one line of text; `floe-telemetry list` prints it in a column"
                .to_owned(),
        );
    }
    if let Err(error) = ApiVersion::current().check(&declared.floe_api_version) {
        problems.push(format!(
            "floe_api_version {:?}: {error}",
            declared.floe_api_version
        ));
    }
    if declared.signals.as_ref().is_some_and(Vec::is_empty) {
        problems.push(
            "SIGNALS is empty: the backend would be in no pipeline; declare the signals it \
             accepts"
                .to_owned(),
        );
    }
    problems
}

/// The host's rule for backend names (what users type after
/// `exporter-config`): 1 to 64 of `a-z`, `0-9` and `-`, starting with a letter.
pub fn is_backend_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn empty_settings(subject: &Subject) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(Answer::Object(schema)) = &subject.schema {
        problems.extend(schema::refuses_empty(schema));
    }
    let calls = [
        ("the settings schema", subject.schema.as_ref()),
        (
            "the exporter config with `{}`",
            Some(&subject.exporter_config),
        ),
        ("the Helm values with `{}`", Some(&subject.helm_values)),
    ];
    for (what, answer) in calls {
        if let Some(Answer::Failed(message)) = answer {
            problems.push(format!(
                "{what} failed: {message}; every setting needs a default, so that a backend \
                 listed without `config:` works"
            ));
        }
    }
    problems
}

fn objects(subject: &Subject) -> Vec<String> {
    let calls = [
        ("get_settings_schema()", subject.schema.as_ref()),
        ("get_otlp_exporter_config()", Some(&subject.exporter_config)),
        ("get_helm_values_override()", Some(&subject.helm_values)),
    ];
    calls
        .into_iter()
        .filter_map(|(call, answer)| match answer {
            Some(Answer::NotAnObject(what)) => Some(format!(
                "{call}: {what}; every call returns an object (the export macro makes sure of it)"
            )),
            _ => None,
        })
        .collect()
}

fn hosted_helm(values: &JsonObject) -> Vec<String> {
    if values.is_empty() {
        return Vec::new();
    }
    let keys: Vec<String> = values.keys().map(|key| format!("`{key}`")).collect();
    vec![format!(
        "SELF_HOSTED is false, so nothing is deployed, but the Helm values set {}; return {{}} \
         from helm_values_override, or declare SELF_HOSTED = true",
        keys.join(", ")
    )]
}
