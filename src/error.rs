//! The top-level error: one variant per subsystem.

use std::fmt;

use crate::storage::purge::PurgeError;
use crate::storage::StorageError;
use crate::upstream::UpstreamError;

/// Why binlogserver stopped.
#[derive(Debug)]
pub enum Error {
    /// A command-line or configuration value is wrong.
    Config {
        /// The flag or key.
        flag: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A line of a configuration or accounts file is wrong.
    ConfigFile {
        /// The file.
        path: std::path::PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// Storage failed.
    Storage(StorageError),
    /// Following the primary failed for good.
    Upstream(UpstreamError),
    /// The `retention` thread could not purge (a storage failure).
    Retention(PurgeError),
    /// A thread could not be started.
    Thread(&'static str),
    /// A thread panicked (a bug); the process stops.
    Panicked {
        /// Its name.
        thread: String,
        /// The panic's message.
        message: String,
    },
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { flag, reason } => write!(f, "{flag}: {reason}"),
            Error::ConfigFile { path, line, reason } => {
                write!(f, "{}:{line}: {reason}", path.display())
            }
            Error::Storage(_) => write!(f, "storage error"),
            Error::Upstream(_) => write!(f, "cannot follow the primary"),
            Error::Retention(e) => write!(f, "retention stopped (restart to retry): {e}"),
            Error::Thread(name) => write!(f, "cannot start thread {name}"),
            Error::Panicked { thread, message } => write!(f, "thread {thread} panicked: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Storage(e) => Some(e),
            Error::Upstream(e) => Some(e),
            // Its message already holds the storage error's; go on with the cause.
            Error::Retention(PurgeError::Storage(e)) => e.source(),
            _ => None,
        }
    }
}

/// `e`'s message followed by each `source()` in the chain, `: `-separated.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        Error::Storage(e)
    }
}

impl From<PurgeError> for Error {
    fn from(e: PurgeError) -> Self {
        Error::Retention(e)
    }
}

impl From<UpstreamError> for Error {
    fn from(e: UpstreamError) -> Self {
        Error::Upstream(e)
    }
}
