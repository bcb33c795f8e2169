//! When `serve` reads gateway.toml again: on SIGHUP, and when the file's stamp changes (looked
//! at every second, see [`stamp`](super::stamp)).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};

use super::stamp::{FileStamp, stamp};

/// How often the file's stamp is looked at.
const POLL: Duration = Duration::from_secs(1);

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Hangup,
    FileChanged,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Trigger::Hangup => "SIGHUP",
            Trigger::FileChanged => "file changed",
        })
    }
}

/// Watches one gateway.toml.
pub struct ConfigWatch {
    path: PathBuf,
    seen: FileStamp,
    poll: Interval,
    hangups: Hangups,
}

impl ConfigWatch {
    /// Starts watching `path` as it is now. Make it before reading the file, so that a change
    /// made while the gateway starts is not missed; from then on SIGHUP no longer ends the
    /// process. Needs a tokio runtime.
    pub fn new(path: &Path) -> Self {
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            path: path.to_owned(),
            seen: stamp(path),
            poll,
            hangups: Hangups::new(),
        }
    }

    /// Resolves at the next SIGHUP or change of the file.
    pub async fn changed(&mut self) -> Trigger {
        loop {
            tokio::select! {
                () = self.hangups.next() => {
                    self.seen = stamp(&self.path);
                    return Trigger::Hangup;
                }
                _ = self.poll.tick() => {
                    let now = stamp(&self.path);
                    if now != self.seen {
                        self.seen = now;
                        return Trigger::FileChanged;
                    }
                }
            }
        }
    }
}

/// SIGHUPs, where the platform has them.
struct Hangups(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

impl Hangups {
    #[cfg(unix)]
    fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(s) => Self(Some(s)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGHUP; gateway.toml reloads only when it changes");
                Self(None)
            }
        }
    }

    #[cfg(not(unix))]
    fn new() -> Self {
        Self()
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.0
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_changed_file_is_noticed() {
        let dir = std::env::temp_dir().join(format!("config-watch-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.toml");
        std::fs::write(&path, "a = 1\n").unwrap();
        let mut watch = ConfigWatch::new(&path);
        std::fs::write(&path, "a = 22\n").unwrap();
        let trigger = tokio::time::timeout(Duration::from_secs(5), watch.changed()).await;
        assert_eq!(trigger.ok(), Some(Trigger::FileChanged));
        // Nothing more until it changes again.
        let quiet = tokio::time::timeout(Duration::from_millis(1500), watch.changed()).await;
        assert!(quiet.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
