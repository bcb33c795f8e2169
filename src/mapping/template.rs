//! String templates that combine fields, e.g. `{/first_name} {/last_name}` (downstream pointers,
//! for a read-only SCIM value) or `{name.givenName} {name.familyName}` (SCIM paths, for a
//! downstream field). `{{` and `}}` write literal braces.

use thiserror::Error;

/// A parsed template: literal text and named placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

/// Why a template string is malformed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("unclosed '{{' at offset {0}: close the placeholder with '}}' or write '{{{{'")]
    Unclosed(usize),
    #[error("stray '}}' at offset {0}: write '}}}}' for a literal brace")]
    Stray(usize),
    #[error("empty placeholder at offset {0}")]
    Empty(usize),
}

impl Template {
    /// Parses a template; placeholders are returned as written (trimmed).
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, n)| *n) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, n)| *n) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::Stray(at)),
                '{' => {
                    let close = text[at..].find('}').ok_or(TemplateError::Unclosed(at))?;
                    let name = text[at + 1..at + close].trim();
                    if name.is_empty() {
                        return Err(TemplateError::Empty(at));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(name.to_owned()));
                    while chars.peek().is_some_and(|(i, _)| *i <= at + close) {
                        chars.next();
                    }
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The placeholders, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(f) => Some(f.as_str()),
            Part::Text(_) => None,
        })
    }

    /// True when the template has no placeholder (a constant string).
    pub fn is_constant(&self) -> bool {
        self.fields().next().is_none()
    }

    /// Renders with `lookup`; `None` when no placeholder has a value. Missing values render
    /// empty and the result is trimmed, so `{first} {last}` with no first name gives `last`.
    pub fn render(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let mut out = String::new();
        let mut any = self.is_constant();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => {
                    if let Some(v) = lookup(f) {
                        any = true;
                        out.push_str(&v);
                    }
                }
            }
        }
        any.then(|| out.trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "/first_name" => Some("Ann".into()),
            "/last_name" => Some("Lee".into()),
            _ => None,
        }
    }

    #[test]
    fn renders_fields_and_literals() {
        let t = Template::parse("{/first_name} {/last_name} {{x}}").unwrap();
        assert_eq!(
            t.fields().collect::<Vec<_>>(),
            ["/first_name", "/last_name"]
        );
        assert_eq!(t.render(&lookup).as_deref(), Some("Ann Lee {x}"));
    }

    #[test]
    fn missing_fields_render_empty_and_all_missing_is_none() {
        let t = Template::parse("{/first_name} {/middle}").unwrap();
        assert_eq!(t.render(&lookup).as_deref(), Some("Ann"));
        assert_eq!(Template::parse("{/a} {/b}").unwrap().render(&lookup), None);
        assert_eq!(
            Template::parse("scim").unwrap().render(&lookup).as_deref(),
            Some("scim")
        );
    }

    #[test]
    fn malformed_templates_say_where() {
        assert_eq!(Template::parse("a {/x"), Err(TemplateError::Unclosed(2)));
        assert_eq!(Template::parse("a } b"), Err(TemplateError::Stray(2)));
        assert_eq!(Template::parse("{ }"), Err(TemplateError::Empty(0)));
    }
}
