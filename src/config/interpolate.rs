//! `${NAME}` interpolation of environment variables into gateway.toml string values, so that
//! secrets and per-deployment URLs stay out of the file. `$${` writes a literal `${`.

use thiserror::Error;

/// Why a `${...}` reference could not be expanded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InterpolateError {
    #[error("environment variable {0} is not set (export it, or write the value in the file)")]
    Unset(String),
    #[error("unterminated ${{ at offset {0}: close it with }}")]
    Unterminated(usize),
    #[error("invalid variable name {0:?}: use letters, digits and _")]
    BadName(String),
}

/// Expands every `${NAME}` in `text` with `lookup(NAME)`.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut consumed = 0;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix("${") {
            out.push_str("${");
            consumed += at + 3;
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let end = tail
                .find('}')
                .ok_or(InterpolateError::Unterminated(consumed + at))?;
            let name = &tail[..end];
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(InterpolateError::BadName(name.to_owned()));
            }
            out.push_str(&lookup(name).ok_or_else(|| InterpolateError::Unset(name.to_owned()))?);
            consumed += at + 2 + end + 1;
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            consumed += at + 1;
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Looks variables up in the process environment.
pub fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Looks variables up in the process environment, standing in for unset ones (see
/// [`stand_in`]): `check --allow-missing-env` checks a file before its secrets exist.
pub fn from_env_or_stand_in(name: &str) -> Option<String> {
    from_env(name).or_else(|| stand_in(name))
}

/// A value for a variable nobody set, valid where such variables are usually used: a URL for
/// a name ending in `URL` (a base or token URL), else text long enough for a token or a
/// password. A number given as `${NAME}` still needs its variable.
pub fn stand_in(name: &str) -> Option<String> {
    Some(if name.ends_with("URL") {
        "http://unset.invalid".to_owned()
    } else {
        format!("unset-{name}-stand-in")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("s3cret".into()),
            "URL" => Some("http://127.0.0.1:9".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_references_and_keeps_other_text() {
        assert_eq!(
            interpolate("${URL}/api", &vars).unwrap(),
            "http://127.0.0.1:9/api"
        );
        assert_eq!(
            interpolate("a ${KEY} b ${KEY}", &vars).unwrap(),
            "a s3cret b s3cret"
        );
        assert_eq!(interpolate("cost $5", &vars).unwrap(), "cost $5");
        assert_eq!(interpolate("$${KEY}", &vars).unwrap(), "${KEY}");
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(
            interpolate("${NOPE}", &vars),
            Err(InterpolateError::Unset("NOPE".into()))
        );
        assert_eq!(
            interpolate("x ${KEY", &vars),
            Err(InterpolateError::Unterminated(2))
        );
        assert_eq!(
            interpolate("${a-b}", &vars),
            Err(InterpolateError::BadName("a-b".into()))
        );
    }
}
