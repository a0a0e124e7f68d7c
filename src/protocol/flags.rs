//! Capability flags exchanged in the handshake.

use std::fmt;

/// Client/server capability flags (`CLIENT_*`), low 32 bits.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct CapabilityFlags(pub u32);

impl CapabilityFlags {
    /// CLIENT_LONG_PASSWORD (MySQL) / CLIENT_MYSQL (MariaDB).
    pub const CLIENT_LONG_PASSWORD: Self = Self(0x0000_0001);
    /// CLIENT_FOUND_ROWS.
    pub const CLIENT_FOUND_ROWS: Self = Self(0x0000_0002);
    /// CLIENT_LONG_FLAG.
    pub const CLIENT_LONG_FLAG: Self = Self(0x0000_0004);
    /// CLIENT_CONNECT_WITH_DB.
    pub const CLIENT_CONNECT_WITH_DB: Self = Self(0x0000_0008);
    /// CLIENT_COMPRESS.
    pub const CLIENT_COMPRESS: Self = Self(0x0000_0020);
    /// CLIENT_LOCAL_FILES.
    pub const CLIENT_LOCAL_FILES: Self = Self(0x0000_0080);
    /// CLIENT_PROTOCOL_41.
    pub const CLIENT_PROTOCOL_41: Self = Self(0x0000_0200);
    /// CLIENT_SSL.
    pub const CLIENT_SSL: Self = Self(0x0000_0800);
    /// CLIENT_TRANSACTIONS.
    pub const CLIENT_TRANSACTIONS: Self = Self(0x0000_2000);
    /// CLIENT_SECURE_CONNECTION (CLIENT_RESERVED2 in MySQL).
    pub const CLIENT_SECURE_CONNECTION: Self = Self(0x0000_8000);
    /// CLIENT_MULTI_STATEMENTS.
    pub const CLIENT_MULTI_STATEMENTS: Self = Self(0x0001_0000);
    /// CLIENT_MULTI_RESULTS.
    pub const CLIENT_MULTI_RESULTS: Self = Self(0x0002_0000);
    /// CLIENT_PLUGIN_AUTH.
    pub const CLIENT_PLUGIN_AUTH: Self = Self(0x0008_0000);
    /// CLIENT_CONNECT_ATTRS.
    pub const CLIENT_CONNECT_ATTRS: Self = Self(0x0010_0000);
    /// CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA.
    pub const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: Self = Self(0x0020_0000);
    /// CLIENT_SESSION_TRACK.
    pub const CLIENT_SESSION_TRACK: Self = Self(0x0080_0000);
    /// CLIENT_DEPRECATE_EOF: result sets end with an OK (0xFE) and have no EOF after the columns.
    pub const CLIENT_DEPRECATE_EOF: Self = Self(0x0100_0000);

    /// True when every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union.
    #[must_use]
    pub fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The intersection.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// `self` without the bits of `other`.
    #[must_use]
    pub fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl fmt::Debug for CapabilityFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CapabilityFlags({:#010x})", self.0)
    }
}
