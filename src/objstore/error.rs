//! [`S3Error`]: what failed (the operation, the object, the endpoint) and
//! why (the store's error code and message, the transport error, or a
//! response that makes no sense), with a [`S3ErrorKind`] callers match on.

use std::fmt;

/// What kind of failure an [`S3Error`] is, for the caller's decision
/// (retry later, treat as missing, report as corrupt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3ErrorKind {
    /// The store answered 404: no such key, bucket or multipart upload.
    NotFound,
    /// The store answered with this other non-success HTTP status.
    Http(u16),
    /// No answer: connect, DNS, TLS, timeout, or the connection broke.
    Transport,
    /// An answer that breaks the protocol: unparsable XML, a missing header,
    /// a body shorter or longer than announced.
    BadResponse,
    /// Not the store's fault: reading the local source of an upload failed,
    /// or the caller passed an impossible argument (a part size of 0).
    Local,
}

/// Why the operation failed.
#[derive(Debug)]
pub(crate) enum Cause {
    /// A non-success status, with the `<Error>` document's code and message
    /// when the body had one.
    Status { status: u16, code: String, message: String },
    /// The HTTP client's error.
    Transport(ureq::Error),
    /// A protocol violation, described.
    BadResponse(String),
    /// A local failure, described.
    Local(String),
}

/// A failed object-store operation. `Display` names the operation, the
/// `s3://bucket/key`, the endpoint, and the store's code and message or the
/// transport error, so one log line says everything.
#[derive(Debug)]
pub struct S3Error(Box<Detail>);

/// The fields of an [`S3Error`], boxed to keep `Result`s small.
#[derive(Debug)]
struct Detail {
    op: &'static str,
    object: String,
    endpoint: String,
    cause: Cause,
}

impl S3Error {
    /// `op` is the S3 operation ("PutObject"), `object` the
    /// `s3://bucket/key` it was about.
    pub(crate) fn new(op: &'static str, object: String, endpoint: &str, cause: Cause) -> S3Error {
        S3Error(Box::new(Detail { op, object, endpoint: endpoint.to_owned(), cause }))
    }

    /// The kind of failure.
    pub fn kind(&self) -> S3ErrorKind {
        match &self.0.cause {
            Cause::Status { status: 404, .. } => S3ErrorKind::NotFound,
            Cause::Status { status, .. } => S3ErrorKind::Http(*status),
            Cause::Transport(_) => S3ErrorKind::Transport,
            Cause::BadResponse(_) => S3ErrorKind::BadResponse,
            Cause::Local(_) => S3ErrorKind::Local,
        }
    }

    /// The store's error code (`NoSuchKey`, `InvalidAccessKeyId`, ...), when
    /// it sent one.
    pub fn code(&self) -> Option<&str> {
        match &self.0.cause {
            Cause::Status { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// The S3 operation that failed ("GetObject", "UploadPart", ...).
    pub fn op(&self) -> &'static str {
        self.0.op
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "s3 {} of {} at {}: ", d.op, d.object, d.endpoint)?;
        match &self.0.cause {
            Cause::Status { status, code, message } => {
                write!(f, "http status {status}")?;
                if !code.is_empty() {
                    write!(f, " {code}")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            // The transport error is named here rather than returned by
            // `source()`: it is the whole story, and a one-line log of this
            // error must carry it.
            Cause::Transport(e) => write!(f, "transport error: {e}"),
            Cause::BadResponse(what) => write!(f, "bad response: {what}"),
            Cause::Local(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for S3Error {}
