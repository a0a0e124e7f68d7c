//! A synchronous client for S3-compatible object stores (AWS S3, Garage,
//! Ceph RGW, MinIO): the archive tier's only door to the network. It knows
//! buckets, keys and bytes, nothing of binlogs; the archive logic above it
//! decides what to upload, verify and read back.
//!
//! - [`config`]: `s3://BUCKET/PREFIX` ([`ArchiveUrl`]), [`Credentials`]
//!   (environment or AWS shared-credentials file), [`S3Config`].
//! - [`client`]: [`S3Client`], one object at a time (put, head, ranged get,
//!   delete) and the listing; every request blocks, with timeouts.
//! - [`multipart`]: large uploads in parts, and the clean-up of unfinished
//!   ones; [`S3Client::upload`] streams a reader with one part in memory.
//! - [`range`]: [`RangeReader`], `Read + Seek` over an object by ranged GETs.
//! - [`error`]: [`S3Error`] and the [`S3ErrorKind`] callers decide on.
//!
//! Two crates, each for one job:
//!
//! - **`rusty-s3`** signs: AWS Signature Version 4 in the query string
//!   (presigned URLs, payload unsigned), sans-IO, with its RustCrypto HMAC.
//!   Built without its XML and serde features: the handful of answer fields
//!   this client reads (upload id, listing pages, `<Error>` code and
//!   message) come from the small finder in `xml.rs`, which also tolerates
//!   stores that omit the S3 namespace.
//! - **`ureq`** sends: a blocking HTTP/1.1 client with a connection pool,
//!   per-phase and per-read/write timeouts, and TLS by the same `rustls`
//!   with the `ring` provider the rest of binlogserver uses (no aws-lc, no
//!   native-tls; Mozilla's roots, built in, for `https` endpoints). No async
//!   runtime, so the archive threads are plain threads like every other.
//!
//! Layer 1: it imports nothing of binlogserver but the layer below.

pub mod client;
pub mod config;
pub mod error;
pub mod multipart;
pub mod range;
mod xml;

pub use client::{ObjectInfo, S3Client};
pub use config::{ArchiveUrl, Credentials, S3Config};
pub use error::{S3Error, S3ErrorKind};
pub use multipart::MAX_PARTS;
pub use range::RangeReader;
