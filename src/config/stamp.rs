//! What a poller compares to tell that a file named by the configuration changed (gateway.toml
//! itself, the TLS pair): its modification time and length. Polling, rather than inotify or
//! the `notify` crate, works the same on every filesystem, including network mounts and the
//! symlink swaps of mounted Kubernetes ConfigMaps and secrets, and costs one `stat` a second.

use std::path::Path;
use std::time::SystemTime;

/// Modification time and length; `None` while the file cannot be stat'ed (e.g. mid-replacement).
pub type FileStamp = Option<(SystemTime, u64)>;

/// The stamp of the file at `path` now (symlinks followed).
pub fn stamp(path: &Path) -> FileStamp {
    std::fs::metadata(path)
        .and_then(|m| Ok((m.modified()?, m.len())))
        .ok()
}
