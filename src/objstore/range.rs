//! Reading objects back: [`ExactBody`], one ranged GET's body that fails
//! rather than end early, and [`RangeReader`], a `Read + Seek` over a whole
//! object that streams it as a sequence of ranged GETs of one chunk each,
//! the next one requested ahead (in a short-lived thread) while the current
//! one is being read. Memory is the HTTP buffers and the kernel's socket
//! buffers, never a chunk.

use std::io::{self, Read, Seek, SeekFrom};
use std::thread::{self, JoinHandle};

use super::client::S3Client;
use super::error::S3Error;

/// A response body of exactly `remaining` bytes: an early end is an
/// `UnexpectedEof` error and a longer body an `InvalidData` error, so a
/// reader never takes a cut transfer for the end of the data.
pub(crate) struct ExactBody<R> {
    inner: R,
    remaining: u64,
    object: String,
    range: String,
}

impl<R: Read> ExactBody<R> {
    pub(crate) fn new(inner: R, remaining: u64, object: String, range: String) -> Self {
        ExactBody { inner, remaining, object, range }
    }

    /// After the last announced byte: the body must end here. Reading the
    /// end also hands the connection back to the pool.
    fn check_end(&mut self) -> io::Result<()> {
        let mut probe = [0u8; 1];
        loop {
            return match self.inner.read(&mut probe) {
                Ok(0) => Ok(()),
                Ok(_) => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("s3 GetObject of {}: body longer than {}", self.object, self.range),
                )),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
        }
    }
}

impl<R: Read> Read for ExactBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let cap = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(buf.get_mut(..cap).unwrap_or(&mut [])).map_err(|e| {
            let what = format!("s3 GetObject of {} ({}): {e}", self.object, self.range);
            io::Error::new(e.kind(), what)
        })?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "s3 GetObject of {}: body of {} ended {} bytes early",
                    self.object, self.range, self.remaining
                ),
            ));
        }
        self.remaining -= n as u64;
        if self.remaining == 0 {
            self.check_end()?;
        }
        Ok(n)
    }
}

/// An open ranged GET: its body is at `pos` and ends at `end`.
struct Open {
    body: Box<dyn Read + Send>,
    pos: u64,
    end: u64,
}

/// A GET for `start..end` being opened in the background.
struct Pending {
    start: u64,
    end: u64,
    handle: JoinHandle<Result<Box<dyn Read + Send>, S3Error>>,
}

/// `Read + Seek` over one object of known size, fetched `chunk` bytes per
/// ranged GET. Bytes come straight from the socket; when half of a chunk is
/// read, the GET of the next chunk is sent from a helper thread, so its
/// round trip overlaps the reading (see [`RangeReader::prefetch`]). A seek
/// elsewhere drops the open GETs. A body shorter than its range is an error,
/// never fewer bytes.
pub struct RangeReader {
    client: S3Client,
    key: String,
    size: u64,
    chunk: u64,
    pos: u64,
    prefetch: bool,
    current: Option<Open>,
    next: Option<Pending>,
}

impl RangeReader {
    /// A reader over `key` of `size` bytes (from [`S3Client::head`] or the
    /// caller's own record), `chunk` bytes per GET (at least 1).
    pub fn new(client: S3Client, key: String, size: u64, chunk: usize) -> RangeReader {
        let chunk = (chunk as u64).max(1);
        RangeReader { client, key, size, chunk, pos: 0, prefetch: true, current: None, next: None }
    }

    /// Turns the read-ahead of the next chunk's GET on (the default) or off.
    pub fn prefetch(mut self, on: bool) -> RangeReader {
        self.prefetch = on;
        self
    }

    /// The object's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The range of the chunk starting at `start`.
    fn chunk_end(&self, start: u64) -> u64 {
        start.saturating_add(self.chunk).min(self.size)
    }

    /// The GET for the bytes at `self.pos`: the prefetched one when it
    /// starts there, else a new one.
    fn open(&mut self) -> io::Result<Open> {
        let start = self.pos;
        if let Some(pending) = self.next.take() {
            if pending.start == start {
                let body = pending
                    .handle
                    .join()
                    .map_err(|_| io::Error::other("s3 prefetch thread panicked"))?
                    .map_err(to_io)?;
                return Ok(Open { body, pos: start, end: pending.end });
            }
        }
        let end = self.chunk_end(start);
        let body = self.client.get_range(&self.key, start, end).map_err(to_io)?;
        Ok(Open { body, pos: start, end })
    }

    /// Sends the next chunk's GET in the background once half of the
    /// current chunk is read.
    fn maybe_prefetch(&mut self) {
        let Some(current) = &self.current else { return };
        let start = current.end;
        let half_read = current.end - current.pos <= self.chunk / 2;
        if !self.prefetch || self.next.is_some() || start >= self.size || !half_read {
            return;
        }
        let end = self.chunk_end(start);
        let (client, key) = (self.client.clone(), self.key.clone());
        let spawned = thread::Builder::new()
            .name("s3-prefetch".to_owned())
            .spawn(move || client.get_range(&key, start, end));
        // Without a thread the next chunk is simply fetched when reached.
        if let Ok(handle) = spawned {
            self.next = Some(Pending { start, end, handle });
        }
    }
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        if self.current.is_none() {
            self.current = Some(self.open()?);
        }
        let Some(current) = self.current.as_mut() else { return Ok(0) };
        let cap = usize::try_from(current.end - current.pos).unwrap_or(usize::MAX).min(buf.len());
        let n = current.body.read(buf.get_mut(..cap).unwrap_or(&mut []))?;
        if n == 0 {
            // ExactBody never ends early; another reader would be a bug.
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "s3 body ended early"));
        }
        current.pos += n as u64;
        self.pos = current.pos;
        if current.pos == current.end {
            self.current = None;
        }
        self.maybe_prefetch();
        Ok(n)
    }
}

impl Seek for RangeReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the object")
        })?;
        if target != self.pos {
            self.current = None;
            if self.next.as_ref().is_some_and(|n| n.start != target) {
                // The thread ends by itself; its response is dropped unread.
                self.next = None;
            }
            self.pos = target;
        }
        Ok(target)
    }
}

/// An [`S3Error`] as the `io::Error` a `Read` returns: `NotFound` stays
/// `NotFound`, and the `S3Error` is the inner error (downcast to get it).
fn to_io(e: S3Error) -> io::Error {
    let kind = match e.kind() {
        super::S3ErrorKind::NotFound => io::ErrorKind::NotFound,
        super::S3ErrorKind::Transport => io::ErrorKind::ConnectionAborted,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, ErrorKind, Read};

    use super::ExactBody;

    fn body(bytes: &[u8], announced: u64) -> ExactBody<Cursor<Vec<u8>>> {
        ExactBody::new(Cursor::new(bytes.to_vec()), announced, "s3://b/k".into(), "r".into())
    }

    #[test]
    fn exact_body_yields_exactly_the_announced_bytes() {
        let mut out = Vec::new();
        body(b"0123456789", 10).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"0123456789");
    }

    #[test]
    fn exact_body_fails_on_a_short_body_instead_of_ending() {
        let mut out = Vec::new();
        let err = body(b"01234", 10).read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("ended 5 bytes early"), "{err}");
        assert_eq!(out, b"01234");
    }

    #[test]
    fn exact_body_fails_on_a_long_body() {
        let mut out = Vec::new();
        let err = body(b"0123456789x", 10).read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(err.to_string().contains("longer than"), "{err}");
    }
}
