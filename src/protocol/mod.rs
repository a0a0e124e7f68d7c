//! The MySQL/MariaDB client/server protocol: packets, handshake, auth,
//! responses and commands.
//!
//! No I/O here: every type works on byte slices and `Vec<u8>`; sockets live
//! in [`crate::net`].

pub mod error;
pub mod reader;
pub mod writer;

pub use error::DecodeError;
pub use reader::Reader;
