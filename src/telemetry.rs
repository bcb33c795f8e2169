//! What lets operators watch the gateway run: Prometheus metrics, the log format, and the
//! request id that ties a SCIM request to the downstream calls made for it.

pub mod logs;
pub mod metrics;
pub mod request_id;
pub mod trail;
