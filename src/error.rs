//! The top-level error: one variant per subsystem.

use std::fmt;

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
    /// A thread could not be started or panicked.
    Thread(&'static str),
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
            Error::Thread(name) => write!(f, "thread {name} failed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Storage(e) => Some(e),
            Error::Upstream(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        Error::Storage(e)
    }
}

impl From<UpstreamError> for Error {
    fn from(e: UpstreamError) -> Self {
        Error::Upstream(e)
    }
}
