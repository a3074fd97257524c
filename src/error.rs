//! The crate's error type: a kind (which maps one-to-one onto a C status code)
//! and a message that names the problem (which key, which index, which shape).

use std::fmt;

/// What went wrong, independent of the message. Each kind maps to one stable
/// C status code in `ffi::status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An argument is invalid in a way not covered by a more specific kind.
    InvalidArgument,
    /// Array sizes or shapes do not agree.
    ShapeMismatch,
    /// Data or parameters contain NaN or infinity where finite values are required.
    NonFinite,
    /// A configuration key is not known.
    UnknownKey,
    /// A value lies outside its documented range.
    OutOfRange,
    /// A value has the wrong type for its key (e.g. a string for a number option).
    WrongType,
    /// A file could not be read or written.
    Io,
    /// A file's contents are malformed or truncated.
    Format,
    /// A file was written by an incompatible (e.g. future) format version.
    Version,
    /// A file's checksum does not match its contents.
    Checksum,
    /// The request needs more memory (or another resource) than allowed.
    ResourceLimit,
    /// The requested compute backend is not available in this build or on this machine.
    BackendUnavailable,
    /// A host-supplied callback reported failure.
    Callback,
    /// A numerical failure that could not be recovered from.
    Numerical,
    /// The operation is not supported by this object (e.g. a curvature kind).
    Unsupported,
    /// A bug in hessfree itself.
    Internal,
}

/// An error with its kind and a human-readable message.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// Result type used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Creates an error of the given kind with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Shorthand for [`ErrorKind::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    /// Shorthand for [`ErrorKind::ShapeMismatch`].
    pub fn shape(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ShapeMismatch, message)
    }
    /// Shorthand for [`ErrorKind::NonFinite`].
    pub fn non_finite(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NonFinite, message)
    }
    /// Shorthand for [`ErrorKind::OutOfRange`].
    pub fn out_of_range(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::OutOfRange, message)
    }
    /// Shorthand for [`ErrorKind::Format`].
    pub fn format(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Format, message)
    }
    /// Shorthand for [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    /// An I/O error on `path`, keeping the operating system's reason.
    pub fn io(path: &std::path::Path, what: &str, err: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("{what} '{}': {err}", path.display()))
    }
    /// Returns the same error with `context: ` put before its message.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
