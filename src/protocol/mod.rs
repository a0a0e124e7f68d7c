//! The MySQL/MariaDB client/server protocol: packets, handshake, auth,
//! responses and commands.
//!
//! No I/O here: every type works on byte slices and `Vec<u8>`; sockets live
//! in [`crate::net`].

pub mod auth;
pub mod caching_sha2;
pub mod command;
pub mod error;
pub mod flags;
pub mod handshake;
pub mod packet;
pub mod reader;
pub mod response;
pub mod resultset;
pub mod ssl_request;
pub mod writer;

pub use error::DecodeError;
pub use flags::CapabilityFlags;
pub use reader::Reader;
pub use response::{ErrPacket, OkPacket};
