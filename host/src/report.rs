//! What the commands print: machine-readable reports and their table,
//! JSON and YAML renderings.

use std::path::PathBuf;

use floe_plugin_api::JsonObject;
use serde::Serialize;

use crate::escape::{escape_control, escape_path};
use crate::{Catalog, Checked, DirSource, ErrorKind, Listing, PluginInfo, Problem, SearchPath};

/// `list -o json`: where plugins were searched, what was found, what failed.
#[derive(Debug, Serialize)]
pub struct ListReport<'a> {
    /// The search path, in order.
    pub search_path: Vec<SearchDirReport>,
    /// The healthy plugins, in search order.
    pub plugins: Vec<&'a PluginInfo>,
    /// Every problem, in search order.
    pub problems: Vec<ProblemReport>,
}

/// One directory of the search path.
#[derive(Debug, Serialize)]
pub struct SearchDirReport {
    /// The directory.
    pub dir: PathBuf,
    /// Why it is searched.
    pub source: DirSource,
    /// Whether it exists.
    pub exists: bool,
}

/// One problem, flattened for scripts.
#[derive(Debug, Serialize)]
pub struct ProblemReport {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// A stable name for the class of problem.
    pub kind: ErrorKind,
    /// What is wrong and what to do.
    pub error: String,
    /// The same for a terminal (see [`crate::Error::to_text`]).
    #[serde(skip)]
    text: String,
}

impl From<&Problem> for ProblemReport {
    fn from(problem: &Problem) -> Self {
        ProblemReport {
            path: problem.path.clone(),
            kind: problem.error.kind(),
            error: problem.error.to_string(),
            text: problem.error.to_text(),
        }
    }
}

impl ProblemReport {
    /// `path: error` for a terminal, control characters escaped.
    pub fn to_text(&self) -> String {
        format!("{}: {}", escape_path(&self.path), self.text)
    }
}

impl<'a> ListReport<'a> {
    /// The report of `catalog`, loaded from `search_path`, with any
    /// `extra_problems` found afterwards (by calling the plugins, say).
    pub fn new(search_path: &SearchPath, catalog: &'a Catalog, extra_problems: &[Problem]) -> Self {
        ListReport::of(
            search_path,
            catalog.plugins().iter().map(|plugin| plugin.info()),
            catalog.problems().iter().chain(extra_problems),
        )
    }

    /// The report of what `check` found.
    pub fn of_checked(search_path: &SearchPath, checked: &'a Checked) -> Self {
        ListReport::of(search_path, &checked.plugins, &checked.problems)
    }

    /// The report of `listing`, read from `search_path` without loading.
    pub fn of_listing(search_path: &SearchPath, listing: &'a Listing) -> Self {
        ListReport::of(search_path, &listing.plugins, &listing.problems)
    }

    fn of<'p>(
        search_path: &SearchPath,
        plugins: impl IntoIterator<Item = &'a PluginInfo>,
        problems: impl IntoIterator<Item = &'p Problem>,
    ) -> Self {
        ListReport {
            search_path: search_path
                .dirs()
                .iter()
                .map(|entry| SearchDirReport {
                    dir: entry.dir.clone(),
                    source: entry.source,
                    exists: entry.dir.is_dir(),
                })
                .collect(),
            plugins: plugins.into_iter().collect(),
            problems: problems.into_iter().map(ProblemReport::from).collect(),
        }
    }

    /// The human-readable table of plugins.
    pub fn plugin_table(&self) -> String {
        let rows = self.plugins.iter().map(|info| {
            // What a plugin file says about itself, and its file name,
            // could otherwise forge rows or reach the terminal as escapes.
            vec![
                escape_control(&info.name).into_owned(),
                escape_control(&info.version.to_string()).into_owned(),
                escape_control(&info.floe_api_version).into_owned(),
                if info.self_hosted { "yes" } else { "no" }.to_owned(),
                match &info.signals {
                    Some(signals) if !signals.is_empty() => {
                        escape_control(&signals.join(",")).into_owned()
                    }
                    // An API 1.0 plugin does not say.
                    _ => "-".to_owned(),
                },
                escape_path(&info.path).into_owned(),
            ]
        });
        table(
            &["NAME", "VERSION", "API", "SELF-HOSTED", "SIGNALS", "PATH"],
            rows,
        )
    }

    /// The search path, one directory a line, with its source.
    pub fn search_path_text(&self) -> String {
        let mut text = String::from("Search path (in order):\n");
        for entry in &self.search_path {
            let source = match entry.source {
                DirSource::Flag => "--plugin-dir",
                DirSource::Env => "FLOE_PLUGIN_PATH",
                DirSource::Default => "default",
            };
            let missing = if entry.exists { "" } else { ", missing" };
            text.push_str(&format!(
                "  {} ({source}{missing})\n",
                escape_path(&entry.dir)
            ));
        }
        text
    }
}

/// Output formats of a document such as an exporter config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Pretty-printed JSON.
    Json,
    /// YAML, as `otelcol` and `helm` read it.
    Yaml,
}

/// `value` as text in `format`, ending with a newline.
pub fn render(value: &impl Serialize, format: Format) -> Result<String, String> {
    match format {
        Format::Json => serde_json::to_string_pretty(value)
            .map(|mut text| {
                text.push('\n');
                text
            })
            .map_err(|error| error.to_string()),
        Format::Yaml => serde_norway::to_string(value).map_err(|error| error.to_string()),
    }
}

/// A JSON object in `format`; an empty one prints as `{}`.
pub fn render_object(object: &JsonObject, format: Format) -> Result<String, String> {
    render(object, format)
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(headers.iter().map(|h| h.to_string()).collect())
        .chain(rows)
        .collect();
    let mut widths = vec![0; headers.len()];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let last = row.len().saturating_sub(1);
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(
                    ' ',
                    widths[i] - cell.chars().count() + 2,
                ));
            }
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let text = table(
            &["NAME", "PATH"],
            [
                vec!["jaeger".into(), "/a".into()],
                vec!["x".into(), "/bb".into()],
            ],
        );
        assert_eq!(text, "NAME    PATH\njaeger  /a\nx       /bb\n");
    }

    #[test]
    fn empty_object_renders_as_braces() {
        assert_eq!(
            render_object(&JsonObject::new(), Format::Yaml).unwrap(),
            "{}\n"
        );
        assert_eq!(
            render_object(&JsonObject::new(), Format::Json).unwrap(),
            "{}\n"
        );
    }

    #[test]
    fn yaml_quotes_env_references() {
        let object: JsonObject =
            serde_json::from_str(r#"{"api":{"key":"${env:DD_API_KEY}"}}"#).unwrap();
        let yaml = render_object(&object, Format::Yaml).unwrap();
        let back: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(back, serde_json::Value::Object(object));
    }
}
