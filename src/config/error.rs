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
