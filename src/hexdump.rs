//! The one hex dump of the crate, in the classic `hexdump -C` layout:
//! offset, 16 bytes in two groups of 8, and the printable ASCII between
//! bars. Used by the packet trace (`--trace-packets`), `events --hexdump`
//! and `proxy --hexdump`, so every dump reads the same and can be compared
//! with `hexdump -C` output. Pure: bytes in, text out.
//!
//! ```text
//! 00000000  fe 62 69 6e 5c 2f 6a 65  0f 01 00 00 00 78 00 00  |.bin\/je.....x..|
//! ```

use std::fmt::Write;

/// Bytes per line.
const WIDTH: usize = 16;

/// The lines of a hex dump of `bytes`, offsets counted from `base`.
pub fn hexdump_lines(bytes: &[u8], base: u64) -> Vec<String> {
    bytes
        .chunks(WIDTH)
        .enumerate()
        .map(|(i, chunk)| line(chunk, base + (i * WIDTH) as u64))
        .collect()
}

/// `bytes` as a hex dump, one line per 16 bytes, each ending in a newline;
/// offsets counted from `base` (0 for a packet, the file offset for an event).
pub fn hexdump(bytes: &[u8], base: u64) -> String {
    let mut out = String::new();
    for l in hexdump_lines(bytes, base) {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn line(chunk: &[u8], offset: u64) -> String {
    let mut s = String::with_capacity(80);
    let _ = write!(s, "{offset:08x}  ");
    for i in 0..WIDTH {
        match chunk.get(i) {
            Some(b) => {
                let _ = write!(s, "{b:02x} ");
            }
            None => s.push_str("   "),
        }
        if i == 7 {
            s.push(' ');
        }
    }
    s.push(' ');
    s.push('|');
    s.extend(
        chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { char::from(b) } else { '.' }),
    );
    s.push('|');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_partial_lines_match_hexdump_c() {
        let bytes: Vec<u8> = b"\xfebin\x00ABCDEFGHIJKLMNOPQRSTU".to_vec();
        let lines = hexdump_lines(&bytes, 0x10);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "00000010  fe 62 69 6e 00 41 42 43  44 45 46 47 48 49 4a 4b  |.bin.ABCDEFGHIJK|"
        );
        assert_eq!(
            lines[1],
            "00000020  4c 4d 4e 4f 50 51 52 53  54 55                    |LMNOPQRSTU|"
        );
        assert!(hexdump(&[], 0).is_empty());
        assert_eq!(
            hexdump(b"\xfebin0123456789abcdef", 0),
            "00000000  fe 62 69 6e 30 31 32 33  34 35 36 37 38 39 61 62  |.bin0123456789ab|\n\
             00000010  63 64 65 66                                       |cdef|\n"
        );
        assert_eq!(
            hexdump(b"\n", 0),
            "00000000  0a                                                |.|\n"
        );
    }
}
