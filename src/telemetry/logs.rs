//! Where log lines go and in which shape: human-readable text, or one JSON object per line
//! for log collectors. Both go to stderr, from `info` on for a server and from `warn` on for a
//! one-shot command (whose output is its answer), more with `-v`; `RUST_LOG` filters when no
//! `-v` is given.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The shape of log lines (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event; colours only on a terminal.
    #[default]
    Text,
    /// One JSON object per line: the event's fields at the top level, and the request span
    /// (with `request_id`) under `spans`.
    Json,
}

/// How much a process logs: the least severe level shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verbosity {
    level: &'static str,
    /// Asked for with `-v`: wins over `RUST_LOG`.
    explicit: bool,
}

impl Verbosity {
    /// A server (`serve`, `demo`) logs from `info` on, a one-shot command from `warn` on;
    /// each `-v` (`verbose`) shows one level more.
    pub fn new(serving: bool, verbose: u8) -> Self {
        const LEVELS: [&str; 4] = ["warn", "info", "debug", "trace"];
        let step = usize::from(serving) + usize::from(verbose);
        Self {
            level: LEVELS[step.min(LEVELS.len() - 1)],
            explicit: verbose > 0,
        }
    }

    fn filter(self) -> EnvFilter {
        let level = || EnvFilter::new(self.level);
        match self.explicit {
            true => level(),
            false => EnvFilter::try_from_default_env().unwrap_or_else(|_| level()),
        }
    }
}

/// Installs the process's log subscriber. Call once, before anything logs.
pub fn init(format: LogFormat, verbosity: Verbosity) {
    let filter = verbosity.filter();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::Verbosity;

    #[test]
    fn one_shot_commands_are_quiet_until_asked() {
        assert_eq!(Verbosity::new(false, 0).level, "warn");
        assert_eq!(Verbosity::new(false, 1).level, "info");
        assert_eq!(Verbosity::new(true, 0).level, "info");
        assert_eq!(Verbosity::new(true, 1).level, "debug");
        assert_eq!(Verbosity::new(true, 9).level, "trace");
    }
}
