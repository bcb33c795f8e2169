//! The `scim-gateway` binary: the command line lives in the library (`scim_gateway::cli`).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    scim_gateway::cli::main()
}
