//! How the collection is listed: where the records and the total are in the answer, and the
//! paging style, read from the list operation's query parameters and answer fields.

use serde_json::Value;

use super::document::{ApiDocument, Parameter, properties, schema_type};
use super::guess::{Confidence, Reason, normalize};
use crate::downstream::paging::Paging;
use crate::json_pointer::JsonPointer;

const PAGE: &[&str] = &["page", "pagenumber", "pageno", "pageindex"];
const PAGE_SIZE: &[&str] = &["perpage", "pagesize", "size", "limit", "pagelimit", "count"];
const OFFSET: &[&str] = &["offset", "skip", "start", "startindex", "from"];
const LIMIT: &[&str] = &[
    "limit",
    "count",
    "size",
    "max",
    "top",
    "pagesize",
    "maxresults",
];
const CURSOR: &[&str] = &[
    "cursor",
    "after",
    "pagetoken",
    "continuationtoken",
    "nexttoken",
    "startingafter",
    "marker",
    "starttoken",
];
const TOTAL: &[&str] = &[
    "total",
    "count",
    "totalcount",
    "totalresults",
    "totalitems",
    "totalsize",
];
const NEXT: &[&str] = &[
    "next",
    "nextcursor",
    "cursor",
    "nextpagetoken",
    "nexttoken",
    "continuationtoken",
    "after",
    "nextpage",
    "nextlink",
    "nexturl",
];
/// Where list answers keep paging details.
const META: &[&str] = &["meta", "pagination", "paging", "pageinfo", "links", "page"];

/// The `[users.list]` section, guessed.
#[derive(Debug, Clone)]
pub struct ListGuess {
    /// `GET /path`.
    pub request: String,
    pub items: (String, Reason),
    pub total: Option<String>,
    pub paging: Paging,
    pub paging_reason: Reason,
    /// The largest page, when the size parameter says (`maximum`).
    pub max_page_size: Option<u64>,
    /// Query parameters not used for paging: candidates for `[users.search]`.
    pub filters: Vec<String>,
}

/// `page (page, per_page)`, for the summary.
pub fn describe(paging: &Paging) -> String {
    match paging {
        Paging::None => "none".into(),
        Paging::Page { page, size, .. } => format!("page ({page}, {size})"),
        Paging::Offset { offset, limit } => format!("offset ({offset}, {limit})"),
        Paging::Cursor { cursor, next, .. } => format!("cursor ({cursor}, next at {next})"),
        Paging::NextLink { next, .. } => format!("next link at {next}"),
    }
}

/// Reads the list operation `GET collection` (`path` as written in gateway.toml, with the
/// server's path); `None` when the document has no GET on the collection.
pub fn list_guess(doc: &ApiDocument, collection: &str, path: &str) -> Option<ListGuess> {
    let op = doc.operation(collection, "get")?;
    let answer = op
        .response
        .as_ref()
        .map(|s| doc.resolve(s))
        .unwrap_or(Value::Null);
    let query: Vec<&Parameter> = op
        .parameters
        .iter()
        .filter(|p| p.location == "query")
        .collect();
    let items = items_of(&answer);
    let total = find_field(&answer, TOTAL, |s| {
        matches!(schema_type(s), Some("integer" | "number"))
    });
    let next = find_field(&answer, NEXT, |s| schema_type(s) == Some("string"))
        .and_then(|n| Some((n.parse::<JsonPointer>().ok()?, n)));
    let (paging, paging_reason, used) = paging_of(&query, next.as_ref(), &answer);
    let max_page_size = used
        .iter()
        .filter_map(|name| query.iter().find(|p| &p.name == name))
        .find_map(|p| p.schema.get("maximum").and_then(Value::as_u64))
        .filter(|m| (1..=10_000).contains(m));
    Some(ListGuess {
        request: format!("GET {path}"),
        items,
        total,
        paging,
        paging_reason,
        max_page_size,
        filters: query
            .iter()
            .map(|p| p.name.clone())
            .filter(|n| !used.contains(n))
            .collect(),
    })
}

/// Where the array of records is: `""` for a bare array, else the first array property at
/// the top (or inside one object property).
fn items_of(answer: &Value) -> (String, Reason) {
    if schema_type(answer) == Some("array") {
        return (
            String::new(),
            Reason::new(Confidence::High, "the list answer is a bare array"),
        );
    }
    let arrays = |schema: &Value, prefix: &str| -> Option<String> {
        properties(schema)
            .into_iter()
            .find(|(_, s)| schema_type(s) == Some("array"))
            .map(|(n, _)| format!("{prefix}/{n}"))
    };
    if let Some(pointer) = arrays(answer, "") {
        return (
            pointer.clone(),
            Reason::new(
                Confidence::High,
                format!("the list answer's array is at {pointer}"),
            ),
        );
    }
    let nested = properties(answer)
        .into_iter()
        .find_map(|(n, s)| arrays(s, &format!("/{n}")));
    match nested {
        Some(pointer) => (
            pointer.clone(),
            Reason::new(
                Confidence::Medium,
                format!("the only array in the list answer is at {pointer}"),
            ),
        ),
        None => (
            "/items".to_owned(),
            Reason::new(
                Confidence::Low,
                "the document does not describe the list answer; `/items` is a guess: check a real answer",
            ),
        ),
    }
}

/// A field of the answer (at the top or inside a `meta`-like object) whose normalized name
/// is in `names` and whose schema passes `fits`, as a JSON pointer.
fn find_field(answer: &Value, names: &[&str], fits: impl Fn(&Value) -> bool) -> Option<String> {
    let top = properties(answer);
    let direct = |list: &[(&str, &Value)], prefix: &str| {
        names.iter().find_map(|wanted| {
            list.iter()
                .find(|(n, s)| normalize(n) == *wanted && fits(s))
                .map(|(n, _)| format!("{prefix}/{n}"))
        })
    };
    direct(&top, "").or_else(|| {
        top.iter()
            .filter(|(n, _)| META.contains(&normalize(n).as_str()))
            .find_map(|(n, s)| direct(&properties(s), &format!("/{n}")))
    })
}

fn param<'a>(query: &[&'a Parameter], names: &[&str]) -> Option<&'a Parameter> {
    names.iter().find_map(|wanted| {
        query
            .iter()
            .find(|p| normalize(&p.name) == *wanted)
            .copied()
    })
}

/// The paging style, why, and the parameter names it uses.
fn paging_of(
    query: &[&Parameter],
    next: Option<&(JsonPointer, String)>,
    answer: &Value,
) -> (Paging, Reason, Vec<String>) {
    let cursor = param(query, CURSOR);
    if let (Some(cursor), Some((next, _))) = (cursor, next) {
        let size = param(query, LIMIT).map(|p| p.name.clone());
        let used = [Some(cursor.name.clone()), size.clone()]
            .into_iter()
            .flatten()
            .collect();
        let why = format!(
            "the list takes `{}` and answers the next one at {next}",
            cursor.name
        );
        let paging = Paging::Cursor {
            cursor: cursor.name.clone(),
            size,
            next: next.clone(),
        };
        return (paging, Reason::new(Confidence::High, why), used);
    }
    if let Some(numbered) = numbered_paging(query) {
        return numbered;
    }
    if let Some((next, _)) = next.filter(|(_, n)| {
        normalize(n).contains("link") || normalize(n).contains("url") || looks_like_uri(answer, n)
    }) {
        let size = param(query, LIMIT).map(|p| p.name.clone());
        let used = size.iter().cloned().collect();
        let why = format!("the list answer links to the next page at {next}");
        return (
            Paging::NextLink {
                size,
                next: next.clone(),
            },
            Reason::new(Confidence::Medium, why),
            used,
        );
    }
    (
        Paging::None,
        Reason::new(
            Confidence::Medium,
            "the list takes no paging parameter the gateway recognises: it is read as one page",
        ),
        Vec::new(),
    )
}

/// Page/size or offset/limit paging, when the list takes such parameters.
fn numbered_paging(query: &[&Parameter]) -> Option<(Paging, Reason, Vec<String>)> {
    if let Some(page) = param(query, PAGE)
        && let Some(size) = param(query, PAGE_SIZE)
    {
        let first = page
            .schema
            .get("minimum")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .min(1);
        let why = format!("the list takes `{}` and `{}`", page.name, size.name);
        let paging = Paging::Page {
            page: page.name.clone(),
            size: size.name.clone(),
            first,
        };
        return Some((
            paging,
            Reason::new(Confidence::High, why),
            vec![page.name.clone(), size.name.clone()],
        ));
    }
    if let Some(offset) = param(query, OFFSET)
        && let Some(limit) = param(query, LIMIT)
    {
        let why = format!("the list takes `{}` and `{}`", offset.name, limit.name);
        let paging = Paging::Offset {
            offset: offset.name.clone(),
            limit: limit.name.clone(),
        };
        return Some((
            paging,
            Reason::new(Confidence::High, why),
            vec![offset.name.clone(), limit.name.clone()],
        ));
    }
    None
}

/// Whether the answer field at `pointer` is a `format: uri` string.
fn looks_like_uri(answer: &Value, pointer: &str) -> bool {
    let path: String = pointer
        .split('/')
        .skip(1)
        .map(|segment| format!("/properties/{segment}"))
        .collect();
    answer
        .pointer(&format!("{path}/format"))
        .and_then(Value::as_str)
        .is_some_and(|f| f.starts_with("uri"))
}

#[cfg(test)]
mod tests;
