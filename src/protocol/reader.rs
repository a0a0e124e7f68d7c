//! `Reader`: the one checked cursor over a byte slice.
//!
//! Every decode in `protocol` and `binlog` goes through it, so no other code
//! indexes into bytes that came from the network or the disk. Each method
//! names the field it reads; running out of bytes is a
//! [`DecodeError::Truncated`], never a panic.

use byteorder::{ByteOrder, LittleEndian};

use super::error::DecodeError;

/// A checked, forward-only cursor over a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let have = self.remaining();
        let end = self.pos.checked_add(n).filter(|_| n <= have);
        match end.and_then(|end| self.buf.get(self.pos..end)) {
            Some(out) => {
                self.pos += n;
                Ok(out)
            }
            None => Err(DecodeError::Truncated { what, need: n, have }),
        }
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        self.bytes(n, what).map(|_| ())
    }

    /// A sub-reader over the next `n` bytes.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, DecodeError> {
        self.bytes(n, what).map(Reader::new)
    }

    /// Everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        out
    }

    /// The next byte without consuming it.
    pub fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Fails if bytes remain.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::Trailing { what, extra }),
        }
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.bytes(1, what).map(|b| b.first().copied().unwrap_or_default())
    }

    /// Little-endian u16.
    pub fn u16_le(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.bytes(2, what).map(LittleEndian::read_u16)
    }

    /// Little-endian u24 (widened).
    pub fn u24_le(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.bytes(3, what).map(LittleEndian::read_u24)
    }

    /// Little-endian u32.
    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.bytes(4, what).map(LittleEndian::read_u32)
    }

    /// Little-endian u48 (widened), as in table ids.
    pub fn u48_le(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.bytes(6, what).map(LittleEndian::read_u48)
    }

    /// Little-endian u64.
    pub fn u64_le(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.bytes(8, what).map(LittleEndian::read_u64)
    }

    /// A length-encoded integer; `None` for the NULL marker `0xFB`.
    pub fn lenenc_int_or_null(&mut self, what: &'static str) -> Result<Option<u64>, DecodeError> {
        match self.u8(what)? {
            0xfb => Ok(None),
            0xfc => self.u16_le(what).map(|v| Some(u64::from(v))),
            0xfd => self.u24_le(what).map(|v| Some(u64::from(v))),
            0xfe => self.u64_le(what).map(Some),
            0xff => Err(DecodeError::Invalid { what, value: 0xff }),
            small => Ok(Some(u64::from(small))),
        }
    }

    /// A length-encoded integer (NULL is an error here).
    pub fn lenenc_int(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.lenenc_int_or_null(what)?.ok_or(DecodeError::Invalid { what, value: 0xfb })
    }

    /// A length-encoded string; `None` for NULL.
    pub fn lenenc_bytes_or_null(
        &mut self,
        what: &'static str,
    ) -> Result<Option<&'a [u8]>, DecodeError> {
        match self.lenenc_int_or_null(what)? {
            None => Ok(None),
            Some(len) => {
                let n = usize::try_from(len).map_err(|_| DecodeError::TooLarge {
                    what,
                    len,
                    max: usize::MAX as u64,
                })?;
                self.bytes(n, what).map(Some)
            }
        }
    }

    /// A length-encoded string (NULL is an error here).
    pub fn lenenc_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        self.lenenc_bytes_or_null(what)?.ok_or(DecodeError::Invalid { what, value: 0xfb })
    }

    /// A NUL-terminated string (the NUL is consumed, not returned).
    pub fn nul_terminated(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match rest.iter().position(|&b| b == 0) {
            Some(n) => {
                let out = self.bytes(n, what)?;
                self.pos += 1;
                Ok(out)
            }
            None => Err(DecodeError::Truncated { what, need: rest.len() + 1, have: rest.len() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_width_integers_little_endian() {
        let bytes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16_le("b").unwrap(), 0x0302);
        assert_eq!(r.u24_le("c").unwrap(), 0x060504);
        assert_eq!(r.u32_le("d").unwrap(), 0x0a090807);
        assert!(r.is_empty());
        r.finish("x").unwrap();
    }

    #[test]
    fn reads_every_lenenc_int_form() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (&[0xfa], Some(250)),
            (&[0xfb], None),
            (&[0xfc, 0x34, 0x12], Some(0x1234)),
            (&[0xfd, 0x56, 0x34, 0x12], Some(0x123456)),
            (&[0xfe, 1, 0, 0, 0, 0, 0, 0, 0x80], Some(0x8000_0000_0000_0001)),
        ];
        for (bytes, want) in cases {
            let mut r = Reader::new(bytes);
            assert_eq!(r.lenenc_int_or_null("n").unwrap(), *want);
            r.finish("n").unwrap();
        }
    }

    #[test]
    fn rejects_every_truncation_of_a_lenenc_string() {
        let bytes = [0xfc, 3, 0, b'a', b'b', b'c'];
        for cut in 0..bytes.len() {
            let err = Reader::new(&bytes[..cut]).lenenc_bytes("s").unwrap_err();
            assert!(matches!(err, DecodeError::Truncated { what: "s", .. }), "{cut}: {err:?}");
        }
        assert_eq!(Reader::new(&bytes).lenenc_bytes("s").unwrap(), b"abc");
    }

    #[test]
    fn rejects_the_0xff_lenenc_marker() {
        assert!(matches!(
            Reader::new(&[0xff]).lenenc_int("n"),
            Err(DecodeError::Invalid { value: 0xff, .. })
        ));
    }

    #[test]
    fn reads_nul_terminated_strings_and_reports_missing_nul() {
        let mut r = Reader::new(b"abc\0de");
        assert_eq!(r.nul_terminated("s").unwrap(), b"abc");
        assert!(matches!(r.nul_terminated("t"), Err(DecodeError::Truncated { what: "t", .. })));
        assert_eq!(r.rest(), b"de");
    }

    #[test]
    fn finish_reports_trailing_bytes() {
        let r = Reader::new(b"xy");
        assert_eq!(r.finish("m"), Err(DecodeError::Trailing { what: "m", extra: 2 }));
    }

    #[test]
    fn huge_lengths_are_truncation_errors_not_panics() {
        let mut r = Reader::new(&[1, 2]);
        assert!(r.bytes(usize::MAX, "big").is_err());
        assert_eq!(r.remaining(), 2);
    }
}
