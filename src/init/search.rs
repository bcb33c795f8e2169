//! `[users.search]`: the list's query parameters that filter by the field userName or the
//! work email is written to, so the gateway can push Entra's `userName eq` down.

use super::attributes::Placement;
use super::guess::{Confidence, Reason, normalize};

/// One push-down entry: the SCIM `attribute op` key, the query parameter, and why.
#[derive(Debug, Clone)]
pub struct SearchGuess {
    pub key: &'static str,
    pub param: String,
    pub reason: Reason,
}

/// Matches the list's remaining query parameters (`filters`) against the fields userName and
/// the email are written to, by name.
pub fn search_guess(filters: &[String], placement: &Placement) -> Vec<SearchGuess> {
    let mut out = Vec::new();
    let targets = [
        ("userName eq", placement.user_name.as_ref()),
        ("emails.value eq", placement.email.as_ref()),
    ];
    for (key, field) in targets {
        let Some(field) = field else { continue };
        if let Some(param) = filters.iter().find(|p| normalize(p) == field.name) {
            out.push(SearchGuess {
                key,
                param: param.clone(),
                reason: Reason::new(
                    Confidence::Medium,
                    format!(
                        "the list takes `{param}`, named like `{}`: right only if it matches the whole value (not a prefix or a word); remove it if not",
                        field.pointer
                    ),
                ),
            });
        }
    }
    out
}
