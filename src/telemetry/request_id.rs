//! The request id (`X-Request-Id`) of the SCIM request being served. It is kept in a
//! task-local for the time the request runs, so the downstream client can forward it without
//! every service and API signature between the handler and the client carrying it. (A
//! task-local does not follow `tokio::spawn`; request handling does not spawn.)

use http::{HeaderName, HeaderValue, Request};

/// The header that carries the id, in and out, and to the downstream.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id accepted from a client.
const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: HeaderValue;
}

/// Runs `future` as the work of the request with this id.
pub async fn scope<F: Future>(id: HeaderValue, future: F) -> F::Output {
    CURRENT.scope(id, future).await
}

/// The id of the request this task is serving, if it serves one.
pub fn current() -> Option<HeaderValue> {
    CURRENT.try_with(HeaderValue::clone).ok()
}

/// Removes an incoming id longer than 128 bytes or with characters other than letters,
/// digits and `-_.:`, so a client cannot write arbitrary text into the log or into the
/// downstream's headers; the id layer then makes a fresh one.
pub fn drop_unfit<B>(mut request: Request<B>) -> Request<B> {
    if request.headers().get(HEADER).is_some_and(|id| !is_fit(id)) {
        request.headers_mut().remove(HEADER);
    }
    request
}

fn is_fit(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_from_clients_are_kept() {
        for (id, kept) in [
            ("3f2c9a1e-7b7d-4a52-9c1e-1f0e6a9d4b21", true),
            ("Root:1-5759e988.bd862e3fe", true),
            ("", false),
            ("a b", false),
            ("x client=admin", false),
            ("\"quoted\"", false),
        ] {
            let request = Request::builder()
                .header(HEADER, HeaderValue::from_str(id).unwrap())
                .body(())
                .unwrap();
            let kept_id = drop_unfit(request).headers().get(HEADER).cloned();
            assert_eq!(kept_id.is_some(), kept, "{id:?}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        let request = Request::builder().header(HEADER, &long).body(()).unwrap();
        assert!(drop_unfit(request).headers().get(HEADER).is_none());
    }

    #[tokio::test]
    async fn the_id_is_current_only_inside_its_scope() {
        assert!(current().is_none());
        let id = HeaderValue::from_static("req-1");
        let seen = scope(id.clone(), async { current() }).await;
        assert_eq!(seen, Some(id));
        assert!(current().is_none());
    }
}
