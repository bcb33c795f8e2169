//! Development tools shipped with the gateway but no part of it: the sample legacy API the
//! demo and the tests proxy to, and the client that drives a gateway the way Entra ID does.
//! Nothing in the core imports them.

pub mod cycle;
pub mod legacy;
