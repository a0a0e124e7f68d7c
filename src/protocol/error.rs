//! Decode errors of the codec (`protocol` and `binlog`).
//!
//! They are `Copy`, never allocate, and name the field that failed, so a
//! caller can report "HandshakeV10.auth_plugin_data_part_2: need 13 bytes,
//! have 4" without the codec knowing anything about logging.

use std::fmt;

/// Why a byte slice could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the field was complete.
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        need: usize,
        /// Bytes that were left.
        have: usize,
    },
    /// Bytes were left after the last field of a fixed-layout message.
    Trailing {
        /// The message being decoded.
        what: &'static str,
        /// Number of bytes left over.
        extra: usize,
    },
    /// A field holds a value the format does not allow.
    Invalid {
        /// The field.
        what: &'static str,
        /// The value found (widened to u64).
        value: u64,
    },
    /// A length field exceeds what we accept.
    TooLarge {
        /// The field.
        what: &'static str,
        /// The length found.
        len: u64,
        /// The largest length accepted.
        max: u64,
    },
    /// A CRC-32 checksum did not match the bytes it covers.
    Checksum {
        /// The stored checksum.
        stored: u32,
        /// The checksum computed over the bytes.
        computed: u32,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { what, need, have } => {
                write!(f, "{what}: truncated, need {need} bytes, have {have}")
            }
            Self::Trailing { what, extra } => {
                write!(f, "{what}: {extra} unexpected trailing bytes")
            }
            Self::Invalid { what, value } => write!(f, "{what}: invalid value {value}"),
            Self::TooLarge { what, len, max } => write!(f, "{what}: length {len} exceeds {max}"),
            Self::Checksum { stored, computed } => {
                write!(f, "crc32 mismatch: stored {stored:#010x}, computed {computed:#010x}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
