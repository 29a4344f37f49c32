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

/// Any error, kept whole (its `source()` chain too).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

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

    /// The storage root could not be read or written. `transient`: waiting may
    /// mend it (a timeout, a 5xx, a reset connection), so the run is retried;
    /// otherwise (not found, permission, precondition, configuration) it fails at once.
    #[error("storage error at {location}: {source}")]
    Storage {
        location: String,
        /// The store's own error (an `object_store::Error`, an `io::Error`, …),
        /// kept so whoever handles it can inspect it.
        #[source]
        source: BoxError,
        transient: bool,
    },

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

    /// A query or command-line value the user gave is wrong (`startwell sql`).
    #[error("{0}")]
    Query(String),

    /// Our own bug or an unexpected library failure, with its cause.
    #[error("internal error: {0}")]
    Internal(#[source] BoxError),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) | Error::Key(_) | Error::Query(_) => exit_code::CONFIG,
            Error::BadFile { .. } | Error::DataRefused(_) => exit_code::DATA,
            Error::Storage { .. } => exit_code::STORAGE,
            Error::Internal(_) => exit_code::INTERNAL,
            Error::LeaseHeld(_) => exit_code::LEASE_HELD,
            Error::Interrupted(_) => exit_code::INTERRUPTED,
        }
    }

    /// Worth retrying after a pause: the store may come back.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Storage { transient: true, .. })
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

    /// A storage failure, retried or not as [`StoreFailure::lasting`] says.
    pub fn storage(location: impl Into<String>, err: impl StoreFailure) -> Self {
        Error::Storage {
            location: location.into(),
            transient: !err.lasting(),
            source: err.into(),
        }
    }

    /// A storage failure that waiting will not mend (e.g. a malformed store URL).
    pub fn storage_lasting(location: impl Into<String>, err: impl Into<BoxError>) -> Self {
        Error::Storage {
            location: location.into(),
            source: err.into(),
            transient: false,
        }
    }

    /// An unexpected failure: an error (kept as the cause) or a message.
    pub fn internal(err: impl Into<BoxError>) -> Self {
        Error::Internal(err.into())
    }
}

/// What a storage failure says about retrying: `lasting` failures (the object is
/// not there, access is denied, a precondition failed, the request or the
/// configuration is wrong) fail the run at once; the rest (timeouts, server
/// errors, connections reset, after the store client's own retries) are retried.
pub trait StoreFailure: std::fmt::Display + Into<BoxError> {
    fn lasting(&self) -> bool {
        false
    }
}

impl StoreFailure for object_store::Error {
    fn lasting(&self) -> bool {
        use object_store::Error as E;
        match self {
            E::NotFound { .. }
            | E::InvalidPath { .. }
            | E::NotSupported { .. }
            | E::AlreadyExists { .. }
            | E::Precondition { .. }
            | E::NotModified { .. }
            | E::NotImplemented { .. }
            | E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::UnknownConfigurationKey { .. } => true,
            E::Generic { source, .. } => client_error(&source.to_string()),
            // Server errors, timeouts, connections (after the store client's own
            // retries), and anything object_store adds later.
            _ => false,
        }
    }
}

/// Whether an HTTP store's message reports a client error (4xx) that waiting
/// will not mend: a bad request or a wrong configuration. object_store keeps the
/// status of the errors it does not map to a variant inside a private type, so
/// this reads its message ("Server returned non-2xx status code: 400 Bad
/// Request: …"); 408 (timeout) and 429 (slow down) stay transient.
fn client_error(message: &str) -> bool {
    const MARK: &str = "status code: ";
    let Some(at) = message.find(MARK) else {
        return false;
    };
    let code: String = message[at + MARK.len()..].chars().take(3).collect();
    match code.parse::<u16>() {
        Ok(408 | 429) => false,
        Ok(status) => (400..500).contains(&status),
        Err(_) => false,
    }
}

impl StoreFailure for std::io::Error {
    fn lasting(&self) -> bool {
        use std::io::ErrorKind as K;
        matches!(
            self.kind(),
            K::NotFound | K::PermissionDenied | K::ReadOnlyFilesystem | K::InvalidInput | K::AlreadyExists
        )
    }
}

impl StoreFailure for &str {}
impl StoreFailure for String {}

impl From<deltalake::DeltaTableError> for Error {
    fn from(e: deltalake::DeltaTableError) -> Self {
        match e {
            deltalake::DeltaTableError::ObjectStore { source } => Error::storage("lake", source),
            other => Error::Internal(Box::new(other)),
        }
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::Internal(Box::new(e))
    }
}

impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Self {
        Error::storage("storage root", e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(m: &str) -> Box<dyn std::error::Error + Send + Sync> {
        m.into()
    }

    /// Not found, permission, precondition and configuration fail at once; the
    /// rest (timeouts, server errors, connections) are retried.
    #[test]
    fn storage_failures_are_retried_only_when_waiting_may_mend_them() {
        let path = || "lake/x".to_string();
        let lasting = [
            object_store::Error::NotFound {
                path: path(),
                source: boxed("404"),
            },
            object_store::Error::PermissionDenied {
                path: path(),
                source: boxed("403"),
            },
            object_store::Error::Unauthenticated {
                path: path(),
                source: boxed("401"),
            },
            object_store::Error::Precondition {
                path: path(),
                source: boxed("412"),
            },
            object_store::Error::UnknownConfigurationKey {
                store: "S3",
                key: "x".into(),
            },
        ];
        for e in lasting {
            let text = e.to_string();
            assert!(!Error::storage("s3://b/", e).is_transient(), "{text}");
        }
        let generic = object_store::Error::Generic {
            store: "S3",
            source: boxed("503 Slow Down; timed out"),
        };
        assert!(Error::storage("s3://b/", generic).is_transient());
        for (message, transient) in [
            (
                "Server returned non-2xx status code: 400 Bad Request: InvalidArgument",
                false,
            ),
            ("Server returned non-2xx status code: 409 Conflict: ", false),
            (
                "Server returned non-2xx status code: 429 Too Many Requests: ",
                true,
            ),
            ("Server returned non-2xx status code: 408 Request Timeout: ", true),
            (
                "Server returned non-2xx status code: 503 Service Unavailable: ",
                true,
            ),
            ("error sending request: connection reset", true),
        ] {
            let generic = object_store::Error::Generic {
                store: "S3",
                source: boxed(&format!("Error performing PUT http://x/y in 10ms - {message}")),
            };
            assert_eq!(
                Error::storage("s3://b/", generic).is_transient(),
                transient,
                "{message}"
            );
        }
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(Error::storage("data", reset).is_transient());
        let denied = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        assert!(!Error::storage("data", denied).is_transient());
        let delta = deltalake::DeltaTableError::ObjectStore {
            source: object_store::Error::PermissionDenied {
                path: path(),
                source: boxed("403"),
            },
        };
        let e = Error::from(delta);
        assert!(!e.is_transient() && e.exit_code() == exit_code::STORAGE, "{e}");
        assert!(!Error::storage_lasting("s3://", "unsupported scheme").is_transient());
        assert!(Error::storage("state", "could not take the lease").is_transient());
    }

    /// The store's error and a library's error stay inspectable as the cause.
    #[test]
    fn errors_keep_their_cause() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = Error::storage("data", io);
        let cause = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            cause.map(|c| c.kind()),
            Some(std::io::ErrorKind::PermissionDenied)
        );
        assert_eq!(e.to_string(), "storage error at data: denied");

        let df = datafusion::error::DataFusionError::Plan("no such table".into());
        let e = Error::from(df);
        assert!(
            e.source()
                .and_then(|s| s.downcast_ref::<datafusion::error::DataFusionError>())
                .is_some()
        );
        assert!(e.to_string().contains("no such table"), "{e}");

        let os = object_store::Error::NotFound {
            path: "x".into(),
            source: "gone".into(),
        };
        let e = Error::from(os);
        assert!(matches!(
            e.source().and_then(|s| s.downcast_ref::<object_store::Error>()),
            Some(object_store::Error::NotFound { .. })
        ));
    }
}
