//! `slt-hub doctor`: checks a hub's configuration and the files and services it names, the way
//! the hub itself would meet them, and says what is wrong and how to fix it. It changes
//! nothing: the database is opened read-only, peers are only connected to.

mod database;
mod files;
mod peers;

use std::fmt;
use std::path::Path;

use crate::config::HubConfig;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Ok,
    /// Works today, will not for long (a certificate expiring soon).
    Warning,
    /// The hub will not start, or will not do its job (an expired certificate, a stale CRL).
    Problem,
}

/// One check's result: what was checked, what was found, and the fix when there is one.
#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    /// The setting or part checked, e.g. `tls.cert` or `peers.hub-b`.
    pub subject: String,
    pub detail: String,
    pub fix: Option<String>,
}

impl Finding {
    pub fn ok(subject: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Ok,
            subject: subject.into(),
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn problem(
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            severity: Severity::Problem,
            subject: subject.into(),
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn warning(
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            severity: Severity::Warning,
            ..Finding::problem(subject, detail, fix)
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.severity {
            Severity::Ok => "ok     ",
            Severity::Warning => "WARNING",
            Severity::Problem => "PROBLEM",
        };
        write!(formatter, "{tag} {}: {}", self.subject, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(formatter, "\n        fix: {fix}")?;
        }
        Ok(())
    }
}

/// Everything the doctor found.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn problems(&self) -> usize {
        self.count(Severity::Problem)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .count()
    }
}

/// Checks the hub configured by the file at `path`.
pub async fn examine(path: &Path) -> Report {
    let mut report = Report::default();
    let config = match HubConfig::load(path) {
        Ok(config) => config,
        Err(error) => {
            report.findings.push(Finding::problem(
                "config",
                error.to_string(),
                "correct hub.toml (docs/operations.md lists every setting)",
            ));
            return report;
        }
    };
    report
        .findings
        .push(Finding::ok("config", format!("{} loads", path.display())));
    report.findings.extend(files::check(&config));
    report.findings.extend(database::check(&config).await);
    report.findings.extend(peers::check(&config).await);
    report
}
