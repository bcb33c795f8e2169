//! How a downstream API pages through its list endpoint: page/size, offset/limit, cursor or
//! next-link, or everything at once.

use super::operation::Operation;
use crate::json_pointer::JsonPointer;

/// A pagination style and its query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// One response holds every record.
    None,
    /// `?page=N&per_page=M`, pages numbered from `first`.
    Page {
        page: String,
        size: String,
        first: u64,
    },
    /// `?offset=N&limit=M`, offsets from 0.
    Offset { offset: String, limit: String },
    /// `?cursor=C`; the next cursor is at `next` in each response, absent on the last page.
    Cursor {
        cursor: String,
        size: Option<String>,
        next: JsonPointer,
    },
    /// The next page's URL is at `next` in each response.
    NextLink {
        size: Option<String>,
        next: JsonPointer,
    },
}

impl Paging {
    /// True when any page can be fetched without reading the ones before it.
    pub fn is_random_access(&self) -> bool {
        matches!(self, Self::Page { .. } | Self::Offset { .. })
    }
}

/// The list endpoint of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSpec {
    pub request: Operation,
    /// Where the records are in a response.
    pub items: JsonPointer,
    /// Where the total count is, when the API gives one.
    pub total: Option<JsonPointer>,
    pub paging: Paging,
    /// The largest page the API serves.
    pub max_page_size: u64,
    /// The most records read to answer one request.
    pub max_scan: u64,
}
