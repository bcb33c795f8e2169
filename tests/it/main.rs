//! Integration tests: real servers on 127.0.0.1 port 0, real HTTP between them.

mod support;

mod cli;
mod cycle;
mod discovery;
mod downstream_auth;
mod durability;
mod entra;
mod errors;
mod explain;
mod extensions;
mod fixture;
mod groups;
mod groups_downstream;
mod hostile_ids;
mod init;
mod jwt;
mod limits;
mod list;
mod okta;
mod ops;
mod patch;
mod profiles;
mod races;
mod reconcile;
mod reload;
mod resilience;
mod scale_out;
mod security;
mod tenants;
mod tls;
mod unmapped;
mod users;
mod verify;
mod versions;
