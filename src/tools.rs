//! Tools shipped with the gateway but no part of it: the sample legacy API the demo and the
//! tests proxy to, the client that drives a gateway the way Entra ID does (`entra-cycle`), and
//! the probe of a deployed SCIM endpoint (`verify`).
//! Nothing in the core imports them.

pub mod cycle;
pub mod legacy;
pub mod verify;
