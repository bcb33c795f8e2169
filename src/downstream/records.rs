//! The records of one resource type downstream: create, read, update, delete and list through
//! the operations gateway.toml describes, with envelopes unwrapped and pages walked.

use reqwest::Url;
use serde_json::Value;

use super::client::DownstreamClient;
use super::endpoints::Endpoints;
use super::error::DownstreamError;
use super::operation::Operation;
use super::paging::Paging;
use super::transform_id;

/// A window of downstream records and the total, when known.
#[derive(Debug, Default)]
pub struct Listing {
    pub records: Vec<Value>,
    pub total: Option<u64>,
}

/// Where a walk through the list's pages is.
struct Walk {
    /// The 0-based index of the first record of the next page.
    position: u64,
    /// The next page's cursor (cursor paging).
    cursor: Option<String>,
    /// The next page's link (next-link paging); the first page has none.
    next_url: Option<Url>,
}

/// One resource type's records behind the downstream API.
#[derive(Debug, Clone)]
pub struct RecordApi {
    pub client: DownstreamClient,
    pub endpoints: Endpoints,
}

impl RecordApi {
    /// The downstream id of a record, as text.
    pub fn id_of(&self, record: &Value) -> Result<String, DownstreamError> {
        super::id_at(&self.endpoints.id, record, "record", "`id` in gateway.toml")
    }

    fn wrap(&self, record: Value) -> Value {
        super::wrap(self.endpoints.envelope.as_ref(), record)
    }

    fn unwrap(&self, body: Option<Value>, op: &Operation) -> Result<Value, DownstreamError> {
        let body = body.ok_or_else(|| {
            DownstreamError::BadResponse(format!("{} {} answered no body", op.method, op.path))
        })?;
        match &self.endpoints.envelope {
            Some(p) => p.take(body).ok_or_else(|| {
                DownstreamError::BadResponse(format!(
                    "{} {} answered without {p} (check `envelope`)",
                    op.method, op.path
                ))
            }),
            None => Ok(body),
        }
    }

    async fn call(
        &self,
        op: &Operation,
        id: Option<&str>,
        body: Option<Value>,
    ) -> Result<Option<Value>, DownstreamError> {
        let body = body.map(|b| self.wrap(b));
        self.client.send_op(op, id, body.as_ref(), "record").await
    }

    /// Makes one create call; returns the record as the API stored it. Never retried here:
    /// a create that may have happened is looked up before it is tried again (the caller's
    /// job, see `UsersService::create`).
    pub async fn create_once(&self, record: &Value) -> Result<Value, DownstreamError> {
        let op = &self.endpoints.create;
        let url = op.url(self.client.base_url(), None)?;
        let id_at = self.endpoints.id.within(self.endpoints.envelope.as_ref());
        let body = self
            .client
            .create(
                op.method.clone(),
                url,
                &self.wrap(record.clone()),
                "record",
                &id_at,
            )
            .await?;
        self.unwrap(body, op)
    }

    /// Reads one record.
    pub async fn get(&self, id: &str) -> Result<Value, DownstreamError> {
        let op = &self.endpoints.read;
        let body = self.call(op, Some(id), None).await?;
        self.unwrap(body, op)
    }

    /// Updates a record; returns it as stored, reading it back when the API answers no body.
    pub async fn update(&self, id: &str, record: Value) -> Result<Value, DownstreamError> {
        let op = &self.endpoints.update;
        match self.call(op, Some(id), Some(record)).await? {
            Some(body) => self.unwrap(Some(body), op),
            None => self.get(id).await,
        }
    }

    /// Deletes a record with the configured delete call.
    pub async fn delete(&self, op: &Operation, id: &str) -> Result<(), DownstreamError> {
        self.call(op, Some(id), None).await.map(|_| ())
    }

    /// Lists records, optionally searched by one query parameter. `window` is the 0-based
    /// offset and count wanted; `None` reads everything. Reading stops at `max_scan` records
    /// with [`DownstreamError::TooMany`].
    pub async fn list(
        &self,
        search: Option<&(String, String)>,
        window: Option<(u64, u64)>,
    ) -> Result<Listing, DownstreamError> {
        self.list_reporting(search, window, &|_, _| {}).await
    }

    /// [`RecordApi::list`], calling `on_page` after each page with the records read so far
    /// and the total when the API tells it (a long read's progress).
    pub async fn list_reporting(
        &self,
        search: Option<&(String, String)>,
        window: Option<(u64, u64)>,
        on_page: &(dyn Fn(u64, Option<u64>) + Send + Sync),
    ) -> Result<Listing, DownstreamError> {
        let spec = &self.endpoints.list;
        let (offset, count) = window.unwrap_or((0, u64::MAX));
        let mut listing = Listing::default();
        let mut walk = Walk {
            position: match spec.paging {
                Paging::Page { .. } | Paging::Offset { .. } => offset - offset % spec.max_page_size,
                _ => 0,
            },
            cursor: None,
            next_url: None,
        };
        let mut scanned = 0u64;
        loop {
            let url = self.page_url(search, &walk)?;
            let body = self
                .client
                .send(spec.request.method.clone(), url, None, "list")
                .await?
                .unwrap_or(Value::Null);
            let items = self.page_items(&body)?;
            if listing.total.is_none() {
                listing.total = spec
                    .total
                    .as_ref()
                    .and_then(|p| p.get(&body))
                    .and_then(|t| t.as_u64().or_else(|| t.as_str()?.parse().ok()));
            }
            let fetched = items.len() as u64;
            scanned += fetched;
            on_page(scanned, listing.total);
            for item in items {
                if walk.position >= offset && (listing.records.len() as u64) < count {
                    listing.records.push(item);
                }
                walk.position += 1;
            }
            let have_window = listing.records.len() as u64 >= count;
            let exhausted = fetched == 0
                || listing.total.is_some_and(|t| walk.position >= t)
                || self.last_page(&mut walk, &body, fetched)?;
            if exhausted {
                if listing.total.is_none() {
                    listing.total = Some(walk.position);
                }
                return Ok(listing);
            }
            if have_window && listing.total.is_some() {
                return Ok(listing);
            }
            if scanned >= spec.max_scan {
                return Err(DownstreamError::TooMany(spec.max_scan));
            }
        }
    }

    /// The URL of the page `walk` is at: the list operation with the search and paging
    /// parameters, or the next link as given (with the page size on the first page only).
    fn page_url(
        &self,
        search: Option<&(String, String)>,
        walk: &Walk,
    ) -> Result<Url, DownstreamError> {
        let spec = &self.endpoints.list;
        let size = spec.max_page_size;
        let mut url = match &walk.next_url {
            Some(u) => u.clone(),
            None => spec.request.url(self.client.base_url(), None)?,
        };
        let mut q = url.query_pairs_mut();
        if walk.next_url.is_none()
            && let Some((param, value)) = search
        {
            q.append_pair(param, value);
        }
        match &spec.paging {
            Paging::None => {}
            Paging::Page {
                page,
                size: s,
                first,
            } => {
                q.append_pair(page, &(walk.position / size + first).to_string());
                q.append_pair(s, &size.to_string());
            }
            Paging::Offset { offset: o, limit } => {
                q.append_pair(o, &walk.position.to_string());
                q.append_pair(limit, &size.to_string());
            }
            Paging::Cursor {
                cursor: c, size: s, ..
            } => {
                if let Some(s) = s {
                    q.append_pair(s, &size.to_string());
                }
                if let Some(cur) = &walk.cursor {
                    q.append_pair(c, cur);
                }
            }
            Paging::NextLink { size: s, .. } => {
                if let (Some(s), None) = (s, &walk.next_url) {
                    q.append_pair(s, &size.to_string());
                }
            }
        }
        drop(q);
        Ok(url)
    }

    /// The records of one page, at `list.items`.
    fn page_items(&self, body: &Value) -> Result<Vec<Value>, DownstreamError> {
        let spec = &self.endpoints.list;
        match spec.items.get(body) {
            Some(Value::Array(items)) => Ok(items.clone()),
            _ => Err(DownstreamError::BadResponse(format!(
                "list response has no array at {:?} (check list.items)",
                spec.items.to_string()
            ))),
        }
    }

    /// Whether the page just read (`fetched` records of `body`) is the last one by the
    /// paging's own sign; else `walk` is moved to the next cursor or link.
    fn last_page(
        &self,
        walk: &mut Walk,
        body: &Value,
        fetched: u64,
    ) -> Result<bool, DownstreamError> {
        Ok(match &self.endpoints.list.paging {
            Paging::None => true,
            Paging::Page { .. } | Paging::Offset { .. } => {
                fetched < self.endpoints.list.max_page_size
            }
            Paging::Cursor { next, .. } => {
                walk.cursor = next.get(body).and_then(transform_id);
                walk.cursor.is_none()
            }
            Paging::NextLink { next, .. } => {
                walk.next_url = next
                    .get(body)
                    .and_then(Value::as_str)
                    .map(|link| self.same_origin_link(link))
                    .transpose()?;
                walk.next_url.is_none()
            }
        })
    }

    /// A next-page link, resolved against the base URL; a link to another origin is refused
    /// so the downstream credentials never leave for a host gateway.toml does not name.
    fn same_origin_link(&self, link: &str) -> Result<Url, DownstreamError> {
        let base = self.client.base_url();
        let url = base
            .join(link)
            .map_err(|e| DownstreamError::BadResponse(format!("bad next link {link:?}: {e}")))?;
        if url.origin() != base.origin() {
            return Err(DownstreamError::BadResponse(format!(
                "next link {url} leaves the configured downstream"
            )));
        }
        Ok(url)
    }
}
