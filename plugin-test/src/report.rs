//! The outcome of a check: one verdict per rule.

use std::fmt;

use crate::rules::{RULES, Rule};

/// What one rule found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The backend follows the rule; what was checked, when it says more
    /// than the rule's summary.
    Pass(Option<String>),
    /// The backend breaks the rule: every way it does, each a message that
    /// says where and what to do.
    Fail(Vec<String>),
    /// The rule could not be applied here, and why.
    NotRun(String),
}

/// A rule and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResult {
    /// The rule.
    pub rule: &'static Rule,
    /// What it found.
    pub verdict: Verdict,
}

/// The verdict of every rule on one backend, in the order of [`RULES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The backend's name, or the file when it did not load.
    pub subject: String,
    /// One result per rule.
    pub results: Vec<RuleResult>,
}

impl Report {
    /// The report on a library the host could not load: rule `failed`
    /// fails with `message`, and no other rule could run.
    ///
    /// # Panics
    ///
    /// When `failed` is not the id of a rule.
    pub fn not_loaded(subject: impl Into<String>, failed: &str, message: String) -> Report {
        assert!(
            RULES.iter().any(|rule| rule.id == failed),
            "no rule {failed}"
        );
        let results = RULES
            .iter()
            .map(|rule| RuleResult {
                rule,
                verdict: if rule.id == failed {
                    Verdict::Fail(vec![message.clone()])
                } else {
                    Verdict::NotRun("the library did not load".to_owned())
                },
            })
            .collect();
        Report {
            subject: subject.into(),
            results,
        }
    }

    /// Whether no rule failed.
    pub fn passed(&self) -> bool {
        !self
            .results
            .iter()
            .any(|result| matches!(result.verdict, Verdict::Fail(_)))
    }

    /// Every failure, with the id of the rule it breaks.
    pub fn failures(&self) -> Vec<(&'static str, &str)> {
        let mut failures = Vec::new();
        for result in &self.results {
            if let Verdict::Fail(messages) = &result.verdict {
                failures.extend(messages.iter().map(|m| (result.rule.id, m.as_str())));
            }
        }
        failures
    }

    /// The verdict of rule `id`.
    pub fn verdict(&self, id: &str) -> Option<&Verdict> {
        self.results
            .iter()
            .find(|result| result.rule.id == id)
            .map(|result| &result.verdict)
    }

    /// Panics with the whole report when a rule failed.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(
            self.passed(),
            "{} breaks the plugin rules:\n{self}",
            self.subject
        );
    }
}

/// One line per rule: `pass`, `FAIL` (a line for each problem) or `skip`,
/// the rule's id, and what it says; then a count.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = RULES.iter().map(|rule| rule.id.len()).max().unwrap_or(0);
        let (mut passed, mut failed, mut skipped) = (0, 0, 0);
        for result in &self.results {
            let id = result.rule.id;
            match &result.verdict {
                Verdict::Pass(note) => {
                    passed += 1;
                    let text = note.as_deref().unwrap_or(result.rule.summary);
                    writeln!(f, "pass  {id:<width$}  {text}")?;
                }
                Verdict::Fail(messages) => {
                    failed += 1;
                    for message in messages {
                        writeln!(f, "FAIL  {id:<width$}  {message}")?;
                    }
                }
                Verdict::NotRun(why) => {
                    skipped += 1;
                    writeln!(f, "skip  {id:<width$}  {}: {why}", result.rule.summary)?;
                }
            }
        }
        write!(
            f,
            "{}: {passed} rule(s) passed, {failed} failed, {skipped} not run",
            self.subject
        )
    }
}
