//! The downstream operations of one resource type, compiled from `[users]` in gateway.toml.

use super::operation::Operation;
use super::paging::{ListSpec, Paging};
use crate::config::Interp;
use crate::config::error::{ConfigError, Source};
use crate::config::raw::{RawList, RawResource};
use crate::json_pointer::JsonPointer;

/// How an update reaches the downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateStyle {
    /// The whole record is sent (PUT, or POST to an update URL).
    Full,
    /// Only changed fields are sent (PATCH).
    Changed,
}

/// What a SCIM DELETE does downstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteMode {
    /// The record is deleted.
    Delete(Operation),
    /// The record is kept and its mapped `active` attribute set to false.
    Deactivate,
}

/// Every downstream operation of one resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub create: Operation,
    pub read: Operation,
    pub update: Operation,
    pub update_style: UpdateStyle,
    pub delete: DeleteMode,
    pub list: ListSpec,
    /// Where the id is in a record.
    pub id: JsonPointer,
    /// Where single records are wrapped, in requests and responses.
    pub envelope: Option<JsonPointer>,
}

impl Endpoints {
    /// Compiles the operations of a `[users]`-like section.
    /// Operations may use `${NAME}` (e.g. a tenant's location id in the path or query).
    pub fn compile(
        section: &str,
        raw: &RawResource,
        src: &Source,
        interp: &Interp,
    ) -> Result<Self, ConfigError> {
        let op = |key: &str, v: &crate::config::Spanned<String>, needs_id: bool| {
            let op: Operation = interp(&format!("{section}.{key}"), v)?
                .parse()
                .map_err(|e: String| src.invalid(v.span(), &format!("{section}.{key}"), e))?;
            if needs_id != op.has_id() {
                let m = if needs_id {
                    "the path needs {id}"
                } else {
                    "the path takes no {id}"
                };
                return Err(src.invalid(v.span(), &format!("{section}.{key}"), m));
            }
            Ok(op)
        };
        let pointer = |key: &str, v: &crate::config::Spanned<String>| {
            v.get_ref()
                .parse::<JsonPointer>()
                .map_err(|e| src.invalid(v.span(), &format!("{section}.{key}"), e.to_string()))
        };
        let update = op("update", &raw.update, true)?;
        let update_style = if update.method == reqwest::Method::PATCH {
            UpdateStyle::Changed
        } else {
            UpdateStyle::Full
        };
        let delete = if raw.delete.get_ref().trim() == "deactivate" {
            DeleteMode::Deactivate
        } else {
            DeleteMode::Delete(op("delete", &raw.delete, true)?)
        };
        Ok(Self {
            create: op("create", &raw.create, false)?,
            read: op("read", &raw.read, true)?,
            update,
            update_style,
            delete,
            list: compile_list(section, &raw.list, src, interp)?,
            id: pointer("id", &raw.id)?,
            envelope: raw
                .envelope
                .as_ref()
                .map(|e| pointer("envelope", e))
                .transpose()?,
        })
    }
}

fn compile_list(
    section: &str,
    spanned: &crate::config::Spanned<RawList>,
    src: &Source,
    interp: &Interp,
) -> Result<ListSpec, ConfigError> {
    let raw = spanned.get_ref();
    let key = |k: &str| format!("{section}.list.{k}");
    let err = |k: &str, m: String| src.invalid(spanned.span(), &key(k), m);
    let pointer = |k: &str, v: &crate::config::Spanned<String>| {
        v.get_ref()
            .parse::<JsonPointer>()
            .map_err(|e| src.invalid(v.span(), &key(k), e.to_string()))
    };
    let request: Operation = interp(&key("request"), &raw.request)?
        .parse()
        .map_err(|e: String| src.invalid(raw.request.span(), &key("request"), e))?;
    let need = |k: &str, v: &Option<String>| {
        v.clone()
            .ok_or_else(|| err(k, format!("this paging style needs {k}")))
    };
    let style = raw.paging.as_ref().map_or("none", |p| p.get_ref().as_str());
    let next = || {
        raw.next
            .as_ref()
            .ok_or_else(|| {
                err(
                    "next",
                    "this paging style needs next (a JSON pointer)".into(),
                )
            })
            .and_then(|n| pointer("next", n))
    };
    let paging = match style {
        "none" => Paging::None,
        "page" => Paging::Page {
            page: need("page_param", &raw.page_param)?,
            size: need("size_param", &raw.size_param)?,
            first: raw.first_page.unwrap_or(1),
        },
        "offset" => Paging::Offset {
            offset: need("offset_param", &raw.offset_param)?,
            limit: need("limit_param", &raw.limit_param)?,
        },
        "cursor" => Paging::Cursor {
            cursor: need("cursor_param", &raw.cursor_param)?,
            size: raw.size_param.clone(),
            next: next()?,
        },
        "next_link" => Paging::NextLink {
            size: raw.size_param.clone(),
            next: next()?,
        },
        other => {
            return Err(err(
                "paging",
                format!("{other:?}: use page, offset, cursor, next_link or none"),
            ));
        }
    };
    let max_page_size = raw.max_page_size.unwrap_or(100);
    if max_page_size == 0 {
        return Err(err("max_page_size", "must be at least 1".into()));
    }
    Ok(ListSpec {
        request,
        items: pointer("items", &raw.items)?,
        total: raw
            .total
            .as_ref()
            .map(|t| pointer("total", t))
            .transpose()?,
        paging,
        max_page_size,
        max_scan: raw.max_scan.unwrap_or(10_000),
    })
}
