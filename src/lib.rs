//! scim-gateway: a reverse proxy that adds SCIM 2.0 (RFC 7643/7644) to a product whose user
//! API is proprietary, configured by gateway.toml alone. See DESIGN.md for the request flow.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod cache;
pub mod config;
pub mod cycle;
pub mod demo;
pub mod downstream;
pub mod explain;
pub mod init;
pub mod legacy;
pub mod mapping;
pub mod scim;
pub mod server;
pub mod service;
pub mod signals;
pub mod store;
pub mod telemetry;
pub mod token_admin;
pub mod verify;
