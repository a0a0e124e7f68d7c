//! `BinlogFileName`: a validated binlog file name such as `mysql-bin.000042`.
//!
//! Names arrive from the network (ROTATE events, `COM_BINLOG_DUMP`) and are
//! used to build paths, so they are checked before use: a basename of
//! `[A-Za-z0-9_.-]`, a dot, and an all-digit sequence number, 255 bytes at
//! most, never a `/`. Servers number files `<basename>.NNNNNN`, zero-padded
//! to 6 digits; the width grows past 999999 (MySQL/MariaDB
//! `find_uniq_filename`, `"%s.%06lu"`). No I/O here.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::protocol::DecodeError;

/// Longest accepted name (a common file-system limit for one path component).
const MAX_NAME_LEN: usize = 255;
/// The largest sequence number a server creates (`MAX_LOG_UNIQUE_FN_EXT`).
const MAX_LOG_UNIQUE_FN_EXT: u64 = 0x7FFF_FFFF;
/// The `what` of every error from this module.
const WHAT: &str = "BinlogFileName";

/// A validated binlog file name: `basename.NNNNNN`.
///
/// Ordered by basename, then by sequence number (so `x.999999 < x.1000000`),
/// then by the text itself.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BinlogFileName(String);

impl BinlogFileName {
    /// Validates `name` (bytes or text).
    ///
    /// # Errors
    ///
    /// [`DecodeError::Invalid`] (`what = "BinlogFileName"`) when the name is
    /// empty or longer than 255 bytes (`value` = length), contains a byte
    /// outside `[A-Za-z0-9_.-]` (`value` = that byte), or lacks a non-empty
    /// basename or an all-digit sequence number that fits in a u64
    /// (`value` = length).
    pub fn new(name: impl AsRef<[u8]>) -> Result<Self, DecodeError> {
        let bytes = name.as_ref();
        let invalid = |value: u64| DecodeError::Invalid { what: WHAT, value };
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if bytes.is_empty() || bytes.len() > MAX_NAME_LEN {
            return Err(invalid(len));
        }
        if let Some(&bad) =
            bytes.iter().find(|&&b| !(b.is_ascii_alphanumeric() || b"_.-".contains(&b)))
        {
            return Err(invalid(bad.into()));
        }
        // Only ASCII is left, so this cannot fail; map the error anyway.
        let text = std::str::from_utf8(bytes).map_err(|_| invalid(len))?;
        let (base, ext) = text.rsplit_once('.').ok_or(invalid(len))?;
        if base.is_empty() || ext.is_empty() || !ext.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(len));
        }
        ext.parse::<u64>().map_err(|_| invalid(len))?;
        Ok(Self(text.to_owned()))
    }

    /// The whole name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the last dot, e.g. `mysql-bin`.
    pub fn basename(&self) -> &str {
        self.split().0
    }

    /// The number after the last dot, e.g. 42 for `mysql-bin.000042`.
    pub fn sequence(&self) -> u64 {
        self.split().1.parse().unwrap_or(0)
    }

    /// The next file name as a server would create it: sequence + 1, zero-padded
    /// to the same width (wider when it no longer fits, as with `%06lu`).
    ///
    /// `None` past `MAX_LOG_UNIQUE_FN_EXT` (2^31 - 1), where servers stop too,
    /// or when the name would exceed 255 bytes.
    pub fn next(&self) -> Option<Self> {
        let (base, ext) = self.split();
        let seq = self.sequence();
        if seq >= MAX_LOG_UNIQUE_FN_EXT {
            return None;
        }
        let next = format!("{base}.{:0width$}", seq + 1, width = ext.len());
        Self::new(next).ok()
    }

    /// (basename, digits) of a validated name.
    fn split(&self) -> (&str, &str) {
        self.0.rsplit_once('.').unwrap_or((&self.0, "0"))
    }
}

impl PartialOrd for BinlogFileName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BinlogFileName {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.basename(), self.sequence(), &self.0).cmp(&(
            other.basename(),
            other.sequence(),
            &other.0,
        ))
    }
}

impl FromStr for BinlogFileName {
    type Err = DecodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for BinlogFileName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BinlogFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BinlogFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BinlogFileName({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> BinlogFileName {
        BinlogFileName::new(s).unwrap()
    }

    #[test]
    fn accepts_server_generated_names() {
        let n = name("mysql-bin.000042");
        assert_eq!(n.as_str(), "mysql-bin.000042");
        assert_eq!(n.basename(), "mysql-bin");
        assert_eq!(n.sequence(), 42);
        assert_eq!(n.to_string(), "mysql-bin.000042");
        assert_eq!(name("my.host_1-bin.7").basename(), "my.host_1-bin");
        assert_eq!(
            BinlogFileName::new(b"mariadb-repl-bin.000006".as_slice()).unwrap().sequence(),
            6
        );
        assert_eq!("binlog.000001".parse::<BinlogFileName>().unwrap(), name("binlog.000001"));
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "binlog",
            "binlog.",
            ".000001",
            "binlog.00a1",
            "../x.000001",
            "dir/binlog.000001",
            "bin log.000001",
            "binlog.000001\0",
            "binlog.99999999999999999999999",
        ] {
            assert!(
                matches!(
                    BinlogFileName::new(bad),
                    Err(DecodeError::Invalid { what: "BinlogFileName", .. })
                ),
                "{bad:?}"
            );
        }
        let long = format!("{}.000001", "a".repeat(249));
        assert!(BinlogFileName::new(&long).is_err());
        assert!(BinlogFileName::new(&long[1..]).is_ok());
        assert!(BinlogFileName::new([b'a', b'.', 0xff]).is_err());
    }

    #[test]
    fn next_keeps_the_width_and_grows_past_it() {
        assert_eq!(name("mysql-bin.000009").next(), Some(name("mysql-bin.000010")));
        assert_eq!(name("mysql-bin.999999").next(), Some(name("mysql-bin.1000000")));
        assert_eq!(name("b.9").next(), Some(name("b.10")));
        assert_eq!(name("b.2147483646").next(), Some(name("b.2147483647")));
        assert_eq!(name("b.2147483647").next(), None);
    }

    #[test]
    fn orders_by_sequence_number_not_text() {
        assert!(name("x.999999") < name("x.1000000"));
        assert!(name("x.000001") < name("x.000002"));
        assert!(name("a.000009") < name("b.000001"));
        assert_eq!(name("x.01").cmp(&name("x.1")), "x.01".cmp("x.1"));
    }
}
