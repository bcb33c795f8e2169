//! The application the listener serves, replaceable while it runs (a reloaded gateway.toml):
//! every request takes the app that is current when it starts and keeps it to its end, so
//! requests in flight finish on the configuration they began with.

use std::sync::Arc;

use axum::Router;
use tokio::sync::watch;

/// A shared handle on the current app; clones see the same app.
#[derive(Clone)]
pub struct LiveApp(Arc<watch::Sender<Router>>);

impl LiveApp {
    /// Serves `app` until it is replaced.
    pub fn new(app: Router) -> Self {
        Self(Arc::new(watch::Sender::new(app)))
    }

    /// The app new requests go to.
    pub fn current(&self) -> Router {
        self.0.borrow().clone()
    }

    /// Sends new requests to `app`. The app they went to before lives on until the requests
    /// that hold it have finished.
    pub fn replace(&self, app: Router) {
        drop(self.0.send_replace(app));
    }
}

impl std::fmt::Debug for LiveApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveApp")
    }
}
