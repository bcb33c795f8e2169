//! An OpenAPI 3.0/3.1 or Swagger 2.0 document, read from YAML or JSON, seen through one view
//! whatever its version: the operations of each path with their parameters and request and
//! response schemas, the path prefix of its server, and its security schemes. Local `$ref`s
//! are followed (a reference back to a schema being resolved becomes an empty schema, so a
//! `manager: $ref User` cannot loop) and `allOf` parts are merged into one schema.

use serde_json::{Map, Value};

use super::error::InitError;

/// How deep a schema is followed; deeper parts read as empty schemas.
const MAX_DEPTH: usize = 64;

/// A parsed API description.
#[derive(Debug, Clone)]
pub struct ApiDocument {
    root: Value,
    /// Swagger 2.0 (`swagger: "2.0"`) rather than OpenAPI 3.
    swagger2: bool,
}

/// One operation (`GET /users`), its references resolved.
#[derive(Debug, Clone, Default)]
pub struct Operation {
    /// Path-level and operation-level parameters, the latter winning by name.
    pub parameters: Vec<Parameter>,
    /// The JSON request body's schema.
    pub request: Option<Value>,
    /// The schema of the first 2xx JSON answer.
    pub response: Option<Value>,
}

/// A query, path or header parameter.
#[derive(Debug, Clone)]
pub struct Parameter {
    pub name: String,
    /// `query`, `path`, `header` or `cookie`.
    pub location: String,
    /// The parameter's schema (in Swagger 2.0 the parameter itself carries it).
    pub schema: Value,
}

impl ApiDocument {
    /// Parses JSON (text starting with `{`) or YAML.
    pub fn parse(text: &str) -> Result<Self, InitError> {
        let root: Value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| InitError::Json(e.to_string()))?
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| InitError::Yaml(e.to_string()))?
        };
        let version = |key: &str| root.get(key).and_then(Value::as_str).map(str::to_owned);
        let swagger2 = match (version("openapi"), version("swagger")) {
            (Some(v), _) if v.starts_with('3') => false,
            (_, Some(v)) if v.starts_with('2') => true,
            (openapi, swagger) => {
                return Err(InitError::NotOpenApi(
                    openapi.or(swagger).unwrap_or_else(|| "none".into()),
                ));
            }
        };
        if !root.get("paths").is_some_and(Value::is_object) {
            return Err(InitError::NoPaths);
        }
        Ok(Self { root, swagger2 })
    }

    /// `Swagger 2.0` or `OpenAPI 3.x.y`, for the summary.
    pub fn version(&self) -> String {
        let key = if self.swagger2 { "swagger" } else { "openapi" };
        let name = if self.swagger2 { "Swagger" } else { "OpenAPI" };
        let number = self.root.get(key).and_then(Value::as_str).unwrap_or("?");
        format!("{name} {number}")
    }

    /// The document's title (`info.title`).
    pub fn title(&self) -> Option<&str> {
        self.root.pointer("/info/title").and_then(Value::as_str)
    }

    /// The path every operation's path is relative to: Swagger's `basePath`, or the path of the
    /// first OpenAPI server URL (`https://api.example.com/v2` gives `/v2`); `""` for none.
    pub fn base_path(&self) -> String {
        let raw = if self.swagger2 {
            self.root.get("basePath").and_then(Value::as_str)
        } else {
            self.root.pointer("/servers/0/url").and_then(Value::as_str)
        };
        let path = raw.map_or("", |url| match url.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |at| &rest[at..]),
            None => url,
        });
        path.trim_end_matches('/').to_owned()
    }

    /// The first server's scheme and host, when the document gives an absolute one.
    pub fn server_origin(&self) -> Option<String> {
        let url = if self.swagger2 {
            let host = self.root.get("host").and_then(Value::as_str)?;
            let scheme = self
                .root
                .pointer("/schemes/0")
                .and_then(Value::as_str)
                .unwrap_or("https");
            return Some(format!("{scheme}://{host}"));
        } else {
            self.root
                .pointer("/servers/0/url")
                .and_then(Value::as_str)?
        };
        let (scheme, rest) = url.split_once("://")?;
        let host = rest.split('/').next().unwrap_or(rest);
        Some(format!("{scheme}://{host}"))
    }

    /// Every path of the document, in document order.
    pub fn paths(&self) -> Vec<&str> {
        self.root
            .get("paths")
            .and_then(Value::as_object)
            .map(|paths| paths.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The operation `method` (lower case, e.g. `get`) of `path`, if the document has it.
    pub fn operation(&self, path: &str, method: &str) -> Option<Operation> {
        let item = self.resolve(self.root.get("paths")?.get(path)?);
        let op = item.get(method)?;
        let mut parameters = self.parameters(item.get("parameters"));
        for own in self.parameters(op.get("parameters")) {
            parameters.retain(|p| p.name != own.name || p.location != own.location);
            parameters.push(own);
        }
        let request = if self.swagger2 {
            op.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|p| p.get("in").and_then(Value::as_str) == Some("body"))
                .and_then(|p| p.get("schema").cloned())
        } else {
            op.pointer("/requestBody/content").and_then(json_schema)
        };
        let response = op
            .get("responses")
            .and_then(Value::as_object)
            .and_then(|responses| {
                responses
                    .iter()
                    .filter(|(code, _)| code.starts_with('2'))
                    .find_map(|(_, answer)| self.answer_schema(answer))
            });
        Some(Operation {
            parameters,
            request,
            response,
        })
    }

    fn answer_schema(&self, answer: &Value) -> Option<Value> {
        if self.swagger2 {
            answer.get("schema").cloned()
        } else {
            answer.get("content").and_then(json_schema)
        }
    }

    fn parameters(&self, list: Option<&Value>) -> Vec<Parameter> {
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let location = p.get("in")?.as_str()?.to_owned();
                let schema = if self.swagger2 {
                    p.clone()
                } else {
                    p.get("schema").cloned().unwrap_or(Value::Null)
                };
                Some(Parameter {
                    name: p.get("name")?.as_str()?.to_owned(),
                    location,
                    schema,
                })
            })
            .collect()
    }

    /// The security schemes by name, resolved: OpenAPI's `components.securitySchemes` or
    /// Swagger's `securityDefinitions`.
    pub fn security_schemes(&self) -> Vec<(String, Value)> {
        let at = if self.swagger2 {
            "/securityDefinitions"
        } else {
            "/components/securitySchemes"
        };
        self.root
            .pointer(at)
            .and_then(Value::as_object)
            .map(|schemes| {
                schemes
                    .iter()
                    .map(|(name, scheme)| (name.clone(), self.resolve(scheme)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The scheme names the document asks for by default (top-level `security`), in order.
    pub fn default_security(&self) -> Vec<String> {
        self.root
            .get("security")
            .map(security_names)
            .unwrap_or_default()
    }

    /// `value` with every local `$ref` followed and every `allOf` merged, to any depth.
    pub fn resolve(&self, value: &Value) -> Value {
        self.resolve_in(value, &mut Vec::new(), 0)
    }

    fn resolve_in(&self, value: &Value, refs: &mut Vec<String>, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Object(Map::new());
        }
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    return self.follow(target, refs, depth);
                }
                let mut out: Map<String, Value> = map
                    .iter()
                    .map(|(k, v)| (k.clone(), self.resolve_in(v, refs, depth + 1)))
                    .collect();
                if let Some(Value::Array(parts)) = out.remove("allOf") {
                    for part in parts {
                        merge_schema(&mut out, part);
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.resolve_in(v, refs, depth + 1))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The target of a `$ref`; an external or unknown reference, or one back to a schema
    /// being resolved, reads as an empty schema.
    fn follow(&self, target: &str, refs: &mut Vec<String>, depth: usize) -> Value {
        let found = target
            .strip_prefix('#')
            .and_then(|pointer| self.root.pointer(pointer));
        match found {
            Some(found) if !refs.iter().any(|r| r == target) => {
                refs.push(target.to_owned());
                let out = self.resolve_in(found, refs, depth + 1);
                refs.pop();
                out
            }
            _ => Value::Object(Map::new()),
        }
    }
}

/// The schema of the JSON media type of a `content` map (`application/json` first, then any
/// `...json` type, then the first).
fn json_schema(content: &Value) -> Option<Value> {
    let content = content.as_object()?;
    let media = content
        .get("application/json")
        .or_else(|| {
            content
                .iter()
                .find(|(k, _)| k.contains("json"))
                .map(|(_, v)| v)
        })
        .or_else(|| content.values().next())?;
    media.get("schema").cloned()
}

/// The scheme names of a security requirement list (`[{"apiKey": []}, {"oauth": [...]}]`).
fn security_names(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|req| req.keys().cloned())
        .collect()
}

/// Merges one resolved `allOf` part into a schema: properties and required fields are joined,
/// other keys are kept where the schema already has them.
fn merge_schema(into: &mut Map<String, Value>, part: Value) {
    let Value::Object(part) = part else { return };
    for (key, value) in part {
        match (key.as_str(), into.get_mut(&key), value) {
            ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                mine.extend(theirs);
            }
            ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                for name in theirs {
                    if !mine.contains(&name) {
                        mine.push(name);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// The JSON type a schema describes (`string`, `integer`, `object`, ...): the first non-null
/// type of a 3.1 type list, or that of the first `oneOf`/`anyOf` variant that has one.
pub fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => return Some(t),
        Some(Value::Array(types)) => {
            return types
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null");
        }
        _ => {}
    }
    if schema.get("properties").is_some() {
        return Some("object");
    }
    ["oneOf", "anyOf"]
        .iter()
        .filter_map(|k| schema.get(*k)?.as_array())
        .flatten()
        .find_map(|variant| schema_type(variant).filter(|t| *t != "null"))
}

/// The properties of an object schema, in document order.
pub fn properties(schema: &Value) -> Vec<(&str, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
