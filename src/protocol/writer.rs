//! Encoders for the protocol's variable-length fields, appending to a `Vec<u8>`.

use byteorder::{ByteOrder, LittleEndian};

/// Appends a little-endian u16.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    let mut b = [0u8; 2];
    LittleEndian::write_u16(&mut b, v);
    out.extend_from_slice(&b);
}

/// Appends a little-endian u24 (the top byte of `v` is dropped).
pub fn put_u24(out: &mut Vec<u8>, v: u32) {
    let mut b = [0u8; 3];
    LittleEndian::write_u24(&mut b, v & 0x00ff_ffff);
    out.extend_from_slice(&b);
}

/// Appends a little-endian u32.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    let mut b = [0u8; 4];
    LittleEndian::write_u32(&mut b, v);
    out.extend_from_slice(&b);
}

/// Appends a little-endian u64.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    let mut b = [0u8; 8];
    LittleEndian::write_u64(&mut b, v);
    out.extend_from_slice(&b);
}

/// Appends a length-encoded integer.
#[allow(clippy::cast_possible_truncation, reason = "each arm's range fits its width")]
pub fn put_lenenc_int(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0xfa => out.push(v as u8),
        0xfb..=0xffff => {
            out.push(0xfc);
            put_u16(out, v as u16);
        }
        0x1_0000..=0xff_ffff => {
            out.push(0xfd);
            put_u24(out, v as u32);
        }
        _ => {
            out.push(0xfe);
            put_u64(out, v);
        }
    }
}

/// Appends a length-encoded string.
pub fn put_lenenc_bytes(out: &mut Vec<u8>, s: &[u8]) {
    put_lenenc_int(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends a NUL-terminated string.
pub fn put_nul_terminated(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::reader::Reader;

    #[test]
    fn lenenc_ints_round_trip_at_every_boundary() {
        for v in [0, 250, 251, 0xffff, 0x1_0000, 0xff_ffff, 0x100_0000, u64::MAX] {
            let mut out = Vec::new();
            put_lenenc_int(&mut out, v);
            let mut r = Reader::new(&out);
            assert_eq!(r.lenenc_int("v").unwrap(), v);
            r.finish("v").unwrap();
        }
    }
}
