//! The one mechanism behind the tenant's tower layers (auth, deadline, limits, dry run, audit,
//! metrics): a layer is a small state type implementing [`Around`], which sees the request
//! and decides whether and how to call the service inside ([`Next`]). Each is a
//! `tower::Layer` of its own, so a test can wrap a stub service and drive it with
//! `tower::ServiceExt::oneshot`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

/// What a layer does around the service it wraps.
pub trait Around: Clone + Send + Sync + 'static {
    /// Answers `request`, calling `next` (at most once) to let it through.
    fn around(&self, request: Request, next: Next) -> impl Future<Output = Response> + Send;
}

/// The service inside a layer, for one request.
pub struct Next(BoxCloneSyncService<Request, Response, Infallible>);

impl Next {
    /// Lets `request` through to the service inside.
    pub async fn run(self, request: Request) -> Response {
        match self.0.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// An [`Around`] wrapped around the service `S`.
#[derive(Clone)]
pub struct Wrapped<M, S> {
    around: M,
    inner: S,
}

impl<M, S> Wrapped<M, S> {
    pub(super) fn new(around: M, inner: S) -> Self {
        Self { around, inner }
    }
}

impl<M, S> Service<Request> for Wrapped<M, S>
where
    M: Around,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    /// Always ready: the inner service is readied when the request reaches it (`oneshot`).
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let next = Next(BoxCloneSyncService::new(self.inner.clone()));
        let around = self.around.clone();
        Box::pin(async move { Ok(around.around(request, next).await) })
    }
}

/// Declares a layer: a cloneable tuple struct over its state, made a `tower::Layer` that wraps
/// a service in [`Wrapped`] (its behaviour is its [`Around`] impl).
macro_rules! around_layer {
    ($(#[$doc:meta])* pub struct $layer:ident(pub $state:ty);) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $layer(pub $state);

        impl<S> tower::Layer<S> for $layer {
            type Service = $crate::server::around::Wrapped<Self, S>;

            fn layer(&self, inner: S) -> Self::Service {
                $crate::server::around::Wrapped::new(self.clone(), inner)
            }
        }
    };
}
pub(super) use around_layer;

#[cfg(test)]
pub(super) mod testing {
    //! Stub services for the layers' unit tests.

    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;
    use http::StatusCode;
    use tower::ServiceExt;
    use tower::util::BoxCloneSyncService;

    /// The stub service inside a layer under test.
    pub type Stub = BoxCloneSyncService<Request, Response, Infallible>;

    /// A request with an empty body.
    pub fn request(method: &str, uri: &str, authorization: Option<&str>) -> Request {
        let mut builder = http::Request::builder().method(method).uri(uri);
        if let Some(value) = authorization {
            builder = builder.header(http::header::AUTHORIZATION, value);
        }
        builder.body(Body::empty()).unwrap()
    }

    /// A service answering 200 (or `status`) and counting the requests that reached it.
    #[derive(Clone, Default)]
    pub struct Counting {
        pub calls: Arc<AtomicUsize>,
    }

    impl Counting {
        pub fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }

        pub fn service(&self, status: StatusCode) -> Stub {
            let calls = self.calls.clone();
            BoxCloneSyncService::new(tower::service_fn(move |_request: Request| {
                calls.fetch_add(1, Ordering::SeqCst);
                let mut response = Response::new(Body::empty());
                *response.status_mut() = status;
                std::future::ready(Ok::<_, Infallible>(response))
            }))
        }

        /// The answer to `request` of `layer` around a service answering `status`.
        pub async fn through<L>(&self, layer: &L, status: StatusCode, request: Request) -> Response
        where
            L: tower::Layer<Stub>,
            L::Service: tower::Service<Request, Response = Response, Error = Infallible>,
        {
            match layer.layer(self.service(status)).oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    }
}
