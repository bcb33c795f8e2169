//! Finding the user resource: path pairs like `/users` + `/users/{id}` whose records look
//! like people (names, email, status), scored so the most person-like wins; `--resource`
//! picks by name when the document has several.

use super::document::ApiDocument;
use super::error::InitError;
use super::fields::{Field, flatten};
use super::record::{RecordShape, record_shape};

/// Collection names that usually hold people.
const PEOPLE: &[&str] = &[
    "users",
    "accounts",
    "people",
    "persons",
    "members",
    "employees",
    "staff",
    "identities",
    "contacts",
    "workers",
    "profiles",
];

/// Field names (normalized) that say "a person", with their weight.
const PERSON_FIELDS: &[(&[&str], i32)] = &[
    (
        &["email", "mail", "emailaddress", "workemail", "primaryemail"],
        3,
    ),
    (
        &["username", "login", "loginname", "userprincipalname", "upn"],
        3,
    ),
    (&["firstname", "givenname", "first", "given", "forename"], 2),
    (&["lastname", "familyname", "surname", "last", "family"], 2),
    (
        &[
            "active",
            "enabled",
            "status",
            "state",
            "disabled",
            "suspended",
        ],
        1,
    ),
];

/// The score a resource needs to count as a user resource.
const PERSON_THRESHOLD: i32 = 4;

/// A collection/item path pair and what its records look like.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The collection's last segment, e.g. `accounts`.
    pub name: String,
    /// e.g. `/api/v1/accounts` (as in the document, without the server's path).
    pub collection: String,
    /// e.g. `/api/v1/accounts/{id}`.
    pub item: String,
    pub record: RecordShape,
    pub fields: Vec<Field>,
    /// How person-like the records are.
    pub score: i32,
}

impl Resource {
    /// Whether the document offers `method` (lower case) on the item path.
    pub fn item_has(&self, doc: &ApiDocument, method: &str) -> bool {
        doc.operation(&self.item, method).is_some()
    }
}

/// Every path pair with a POST on the collection and a GET on the item, scored.
pub fn resources(doc: &ApiDocument) -> Vec<Resource> {
    let paths = doc.paths();
    let mut out = Vec::new();
    for collection in &paths {
        let Some(name) = collection.rsplit('/').next().filter(|n| !n.is_empty()) else {
            continue;
        };
        if collection.contains('{') {
            continue;
        }
        let Some((item, param)) = paths.iter().find_map(|p| item_of(collection, p)) else {
            continue;
        };
        if doc.operation(collection, "post").is_none() || doc.operation(item, "get").is_none() {
            continue;
        }
        let singular = singular(name);
        let record = record_shape(doc, collection, item, &singular, param);
        let fields = flatten(&record.schema);
        let score = person_score(name, &fields);
        out.push(Resource {
            name: name.to_owned(),
            collection: (*collection).to_owned(),
            item: (*item).to_owned(),
            record,
            fields,
            score,
        });
    }
    out
}

/// `path` as the item path of `collection` (`{collection}/{param}`), with the parameter name.
fn item_of<'a>(collection: &str, path: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = path.strip_prefix(collection)?.strip_prefix('/')?;
    let param = rest.strip_prefix('{')?.strip_suffix('}')?;
    (!param.contains(['/', '{', '}'])).then_some((path, param))
}

/// `users` -> `user`, `people` -> `person`, `identities` -> `identity`.
pub fn singular(name: &str) -> String {
    if name.eq_ignore_ascii_case("people") {
        return "person".into();
    }
    if let Some(stem) = name.strip_suffix("ies") {
        return format!("{stem}y");
    }
    name.strip_suffix('s').unwrap_or(name).to_owned()
}

fn person_score(name: &str, fields: &[Field]) -> i32 {
    let by_name = if PEOPLE.contains(&name.to_lowercase().as_str()) {
        2
    } else {
        0
    };
    let by_fields: i32 = PERSON_FIELDS
        .iter()
        .filter(|(names, _)| fields.iter().any(|f| names.contains(&f.name.as_str())))
        .map(|(_, weight)| weight)
        .sum();
    by_name + by_fields
}

/// The user resource: the one named by `wanted` (its collection's last segment or its
/// path), else the most person-like one.
pub fn choose(
    doc: &ApiDocument,
    wanted: Option<&str>,
) -> Result<(Resource, Vec<Resource>), InitError> {
    let mut all = resources(doc);
    let names = |list: &[Resource]| {
        list.iter()
            .map(|r| format!("{} ({})", r.name, r.collection))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(wanted) = wanted {
        let at = all
            .iter()
            .position(|r| r.name == wanted || r.collection == wanted)
            .ok_or_else(|| InitError::UnknownResource {
                wanted: wanted.to_owned(),
                known: if all.is_empty() {
                    "no path pair with POST and GET".into()
                } else {
                    names(&all)
                },
            })?;
        let chosen = all.remove(at);
        return Ok((chosen, all));
    }
    all.sort_by_key(|r| std::cmp::Reverse(r.score));
    let people: Vec<&Resource> = all.iter().filter(|r| r.score >= PERSON_THRESHOLD).collect();
    match people.as_slice() {
        [] => Err(InitError::NoResource(if all.is_empty() {
            "none has POST on the collection and GET on the item".into()
        } else {
            format!("candidates: {}", names(&all))
        })),
        [best, next, ..] if best.score == next.score => Err(InitError::Ambiguous(
            people
                .iter()
                .filter(|r| r.score == best.score)
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        )),
        _ => {
            let chosen = all.remove(0);
            Ok((chosen, all))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_paths_are_one_parameter_below_the_collection() {
        assert_eq!(
            item_of("/users", "/users/{id}"),
            Some(("/users/{id}", "id"))
        );
        assert_eq!(item_of("/users", "/users/{id}/roles"), None);
        assert_eq!(item_of("/users", "/usersx/{id}"), None);
        assert_eq!(item_of("/users", "/users/me"), None);
    }

    #[test]
    fn plurals_become_singular() {
        assert_eq!(singular("users"), "user");
        assert_eq!(singular("people"), "person");
        assert_eq!(singular("identities"), "identity");
        assert_eq!(singular("staff"), "staff");
    }
}
