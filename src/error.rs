//! Error types. Each kind says whose fault it is and maps to its own exit code:
//! a user's configuration, a partner's data, an unavailable store, or our own bug.

use std::path::PathBuf;

/// Exit codes of the `startwell` binary (documented in README.md).
pub mod exit_code {
    pub const OK: i32 = 0;
    pub const DATA: i32 = 1;
    pub const CONFIG: i32 = 2;
    pub const STORAGE: i32 = 3;
    pub const INTERNAL: i32 = 4;
    /// Another run holds the run lease on this storage root.
    pub const LEASE_HELD: i32 = 5;
    /// Stopped by SIGTERM/SIGINT (or a lost lease) before finishing.
    pub const INTERRUPTED: i32 = 6;
}

/// One configuration problem, naming the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub file: PathBuf,
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The project configuration is wrong (every problem found, not just the first).
    #[error("{} configuration problem(s):\n{}", .0.len(), .0.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
    Config(Vec<ConfigIssue>),

    /// A partner file cannot be used as delivered.
    #[error("{file}: {message}")]
    BadFile { file: String, message: String },

    /// A run finished but refused one or more files.
    #[error("{0}")]
    DataRefused(String),

    /// The storage root could not be read or written.
    #[error("storage error at {location}: {message}")]
    Storage { location: String, message: String },

    /// The pseudonymisation key is missing or unusable.
    #[error("{0}")]
    Key(String),

    /// Another run is in progress on the same storage root.
    #[error("{0}")]
    LeaseHeld(String),

    /// The run was asked to stop and stopped cleanly before finishing.
    #[error(
        "stopped on request ({0}): every file is either wholly committed or not at all, and the next run continues"
    )]
    Interrupted(String),

    /// Our own bug or an unexpected library failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) | Error::Key(_) => exit_code::CONFIG,
            Error::BadFile { .. } | Error::DataRefused(_) => exit_code::DATA,
            Error::Storage { .. } => exit_code::STORAGE,
            Error::Internal(_) => exit_code::INTERNAL,
            Error::LeaseHeld(_) => exit_code::LEASE_HELD,
            Error::Interrupted(_) => exit_code::INTERRUPTED,
        }
    }

    /// Worth retrying after a pause: the store may come back.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Storage { .. })
    }

    pub fn config(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Config(vec![ConfigIssue {
            file: file.into(),
            message: message.into(),
        }])
    }

    pub fn bad_file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadFile {
            file: file.into(),
            message: message.into(),
        }
    }

    pub fn storage(location: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Storage {
            location: location.into(),
            message: err.to_string(),
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        Error::Internal(err.to_string())
    }
}

impl From<deltalake::DeltaTableError> for Error {
    fn from(e: deltalake::DeltaTableError) -> Self {
        match e {
            deltalake::DeltaTableError::ObjectStore { source } => Error::Storage {
                location: "lake".into(),
                message: source.to_string(),
            },
            other => Error::Internal(format!("delta lake: {other}")),
        }
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::Internal(format!("datafusion: {e}"))
    }
}

impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Self {
        Error::Storage {
            location: "storage root".into(),
            message: e.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
