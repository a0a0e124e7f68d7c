//! A scripted peer for unit tests (compiled only for them): reads come
//! from a fixed byte script, writes are kept for the test to inspect.
//! Packet streams over it exercise the login and query exchanges without
//! a socket.

use std::io::{Cursor, Read, Write};

/// Reads `input`, keeps what is written in `sent`.
pub(crate) struct Scripted {
    pub(crate) input: Cursor<Vec<u8>>,
    pub(crate) sent: Vec<u8>,
}

impl Scripted {
    /// A peer that will send `wire`, then end of file.
    pub(crate) fn new(wire: Vec<u8>) -> Scripted {
        Scripted { input: Cursor::new(wire), sent: Vec::new() }
    }
}

impl Read for Scripted {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(b)
    }
}

impl Write for Scripted {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.sent.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
