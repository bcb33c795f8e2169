//! Configuration errors that point at the offending key and its line:col in gateway.toml.

use std::ops::Range;

use thiserror::Error;

/// Why gateway.toml cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {key}: {message}")]
    Invalid {
        file: String,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    #[error("tenant {tenant}: {source}")]
    Tenant {
        tenant: String,
        source: Box<ConfigError>,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Why a command cannot tell which tenant it is for.
#[derive(Debug, Error)]
pub enum TenantChoiceError {
    #[error("no tenant {name:?}; configured: {known}")]
    Unknown { name: String, known: String },
    #[error("several tenants are configured: name one with --tenant")]
    Ambiguous,
}

/// The source text of one config file, to turn byte spans into line:col errors.
pub struct Source<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        (line, column)
    }

    /// An error about `key`, located at `span`.
    pub fn invalid(
        &self,
        span: Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        let (line, column) = self.line_col(span.start);
        ConfigError::Invalid {
            file: self.file.to_owned(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl ConfigError {
    /// Line and column of the problem (0:0 when the file could not be read).
    pub fn position(&self) -> (usize, usize) {
        match self {
            Self::Read { .. } => (0, 0),
            Self::Invalid { line, column, .. } | Self::Syntax { line, column, .. } => {
                (*line, *column)
            }
            Self::Tenant { source, .. } => source.position(),
        }
    }

    /// The top-level key (section) the problem is about, e.g. `users` for `users.list.paging`.
    pub fn section(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => key.split('.').next(),
            Self::Tenant { source, .. } => source.section(),
            Self::Read { .. } | Self::Syntax { .. } => None,
        }
    }
}

/// Every problem found in one file, in the order of the file, each once: a problem of a part
/// that every tenant shares is found once per tenant and said once, naming the tenants it
/// concerns unless that is all of them.
#[derive(Debug)]
pub struct Problems {
    /// Each problem as `file:line:col: key: message`, with the tenants it concerns.
    found: Vec<(ConfigError, Vec<String>)>,
    tenants: usize,
}

impl Problems {
    /// Sorts `problems` by position and merges those found for several tenants; `tenants` is
    /// how many the file configures.
    pub fn new(problems: Vec<ConfigError>, tenants: usize) -> Self {
        let mut found: Vec<(ConfigError, Vec<String>)> = Vec::new();
        for problem in problems {
            let (inner, tenant) = match problem {
                ConfigError::Tenant { tenant, source } => (*source, Some(tenant)),
                other => (other, None),
            };
            let text = inner.to_string();
            match found.iter_mut().find(|(seen, _)| seen.to_string() == text) {
                Some((_, names)) => names.extend(tenant),
                None => found.push((inner, tenant.into_iter().collect())),
            }
        }
        found.sort_by_key(|(problem, _)| problem.position());
        Self { found, tenants }
    }

    pub fn len(&self) -> usize {
        self.found.len()
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The first problem in `file`, for the commands that stop at one.
    pub fn into_first(self, file: &str) -> ConfigError {
        let Some((problem, tenants)) = self.found.into_iter().next() else {
            return ConfigError::Syntax {
                file: file.to_owned(),
                line: 1,
                column: 1,
                message: "no problem was named, yet the file was refused".to_owned(),
            };
        };
        match tenants.into_iter().next() {
            Some(tenant) => ConfigError::Tenant {
                tenant,
                source: Box::new(problem),
            },
            None => problem,
        }
    }

    /// One line per problem: `file:line:col: key: message`, then `(tenants a, b)` when it
    /// concerns only some tenants.
    pub fn lines(&self) -> Vec<String> {
        self.found
            .iter()
            .map(|(problem, tenants)| match tenants.len() {
                0 => problem.to_string(),
                n if n == self.tenants => problem.to_string(),
                1 => format!("{problem} (tenant {})", tenants[0]),
                _ => format!("{problem} (tenants {})", tenants.join(", ")),
            })
            .collect()
    }
}
