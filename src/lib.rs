//! scim-gateway: a reverse proxy that adds SCIM 2.0 (RFC 7643/7644) to a product whose user
//! API is proprietary, configured by gateway.toml alone. ARCHITECTURE.md has the layers and the
//! path of a request.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod admin;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod downstream;
pub mod init;
pub mod json_pointer;
pub mod mapping;
pub mod scim;
pub mod server;
pub mod service;
pub mod settings;
pub mod signals;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod tools;
