//! Multipart uploads: the four S3 steps (create, upload a part, complete,
//! abort), the listing of unfinished uploads (for the clean-up after a
//! crash), and [`S3Client::upload`], which streams a reader of any length
//! into one object holding at most one part in memory.

use std::io::{ErrorKind, Read};

use rusty_s3::Method;

use super::client::{finish, Payload, S3Client};
use super::error::S3Error;
use super::xml;

/// S3's limit on the number of parts of one upload.
pub const MAX_PARTS: u16 = 10_000;

impl S3Client {
    /// Starts a multipart upload of `key` with user metadata `meta`; returns
    /// its upload id.
    ///
    /// # Errors
    ///
    /// Any store or transport failure, or an answer without an upload id.
    pub fn create_multipart(&self, key: &str, meta: &[(&str, &str)]) -> Result<String, S3Error> {
        const OP: &str = "CreateMultipartUpload";
        let headers = self.meta_headers(OP, key, meta)?;
        let headers: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let query = [("uploads", "")];
        let body =
            self.send_for_xml(OP, Some(key), Method::Post, &query, &headers, Payload::None)?;
        xml::required(&body, "UploadId").map_err(|e| self.bad(OP, key, &e))
    }

    /// Uploads part `part_number` (1 to [`MAX_PARTS`]) of upload `upload_id`;
    /// returns its ETag as the store sent it (quoted), for
    /// [`S3Client::complete_multipart`]. Every part but the last must be at
    /// least 5 MiB.
    ///
    /// # Errors
    ///
    /// Any store or transport failure, `NotFound` when the upload is gone,
    /// `BadResponse` when the answer has no ETag.
    pub fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u16,
        data: &[u8],
    ) -> Result<String, S3Error> {
        const OP: &str = "UploadPart";
        if part_number == 0 || part_number > MAX_PARTS {
            let what = format!("part number {part_number} is not within 1..={MAX_PARTS}");
            return Err(self.local(OP, key, what));
        }
        let number = part_number.to_string();
        let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
        let resp = self.send(OP, Some(key), Method::Put, &query, &[], Payload::Bytes(data))?;
        let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        finish(resp);
        etag.ok_or_else(|| self.bad(OP, key, "no ETag for the part"))
    }

    /// Completes upload `upload_id` from its `(part number, ETag)` list, in
    /// part order.
    ///
    /// # Errors
    ///
    /// Any store or transport failure, including an `<Error>` the store sends
    /// with status 200 (as S3 may when the assembly fails late).
    pub fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u16, String)],
    ) -> Result<(), S3Error> {
        const OP: &str = "CompleteMultipartUpload";
        let mut body = String::from("<CompleteMultipartUpload>");
        for (number, etag) in parts {
            body.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
                xml::escape(etag)
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let query = [("uploadId", upload_id)];
        let payload = Payload::Bytes(body.as_bytes());
        self.send_for_xml(OP, Some(key), Method::Post, &query, &[], payload)?;
        Ok(())
    }

    /// Aborts upload `upload_id`, freeing its parts.
    ///
    /// # Errors
    ///
    /// Any store or transport failure; `NotFound` when the upload is already
    /// gone (completed or aborted).
    pub fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), S3Error> {
        let query = [("uploadId", upload_id)];
        let op = "AbortMultipartUpload";
        finish(self.send(op, Some(key), Method::Delete, &query, &[], Payload::None)?);
        Ok(())
    }

    /// Every multipart upload under the prefix that was started and neither
    /// completed nor aborted, as (key without the prefix, upload id), all
    /// pages.
    ///
    /// # Errors
    ///
    /// Any store or transport failure, or an unreadable listing.
    pub fn list_multipart_uploads(&self) -> Result<Vec<(String, String)>, S3Error> {
        const OP: &str = "ListMultipartUploads";
        let prefix = self.config().url.prefix.clone();
        let mut out = Vec::new();
        let mut marker: Option<(String, String)> = None;
        loop {
            let mut query = vec![("uploads", ""), ("prefix", prefix.as_str())];
            if let Some((key, id)) = &marker {
                query.push(("key-marker", key));
                query.push(("upload-id-marker", id));
            }
            let body = self.send_for_xml(OP, None, Method::Get, &query, &[], Payload::None)?;
            let page = xml::uploads_page(&body).map_err(|e| self.bad(OP, "", &e))?;
            for (key, id) in page.uploads {
                if let Some(rel) = key.strip_prefix(prefix.as_str()) {
                    out.push((rel.to_owned(), id));
                }
            }
            match page.next {
                Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
                Some(_) => return Err(self.bad(OP, "", "the listing repeats its marker")),
                None => return Ok(out),
            }
        }
    }

    /// Stores everything `src` yields under `key` and returns the byte
    /// count: one PUT when it fits in one part of `part_size` bytes,
    /// otherwise a multipart upload of `part_size` parts (at least 5 MiB
    /// each for S3). Holds one part in memory. On any failure after the
    /// multipart upload was created it aborts it (best effort: an upload left
    /// behind shows in [`S3Client::list_multipart_uploads`]).
    ///
    /// # Errors
    ///
    /// `Local` when `src` fails or `part_size` is 0 or would need more than
    /// [`MAX_PARTS`] parts; otherwise the failing step's error.
    pub fn upload(
        &self,
        key: &str,
        src: &mut dyn Read,
        part_size: usize,
        meta: &[(&str, &str)],
    ) -> Result<u64, S3Error> {
        if part_size == 0 {
            return Err(self.local("PutObject", key, "part size 0".to_owned()));
        }
        let mut buf = vec![0u8; part_size];
        let n = self.fill(key, src, &mut buf)?;
        if n < part_size {
            self.put(key, buf.get(..n).unwrap_or(&[]), meta)?;
            return Ok(n as u64);
        }
        let id = self.create_multipart(key, meta)?;
        let done = self.upload_parts(key, &id, src, &mut buf);
        if done.is_err() {
            if let Err(e) = self.abort_multipart(key, &id) {
                log::warn!("abort after a failed upload failed: key={key} upload_id={id} err={e}");
            }
        }
        done
    }

    /// The parts of [`S3Client::upload`]: `buf` is full with part 1.
    fn upload_parts(
        &self,
        key: &str,
        id: &str,
        src: &mut dyn Read,
        buf: &mut [u8],
    ) -> Result<u64, S3Error> {
        let mut parts: Vec<(u16, String)> = Vec::new();
        let mut total = 0u64;
        let mut n = buf.len();
        while n > 0 {
            let number = u16::try_from(parts.len() + 1).unwrap_or(u16::MAX);
            if number > MAX_PARTS {
                let what = format!("more than {MAX_PARTS} parts of {} bytes", buf.len());
                return Err(self.local("UploadPart", key, what));
            }
            let etag = self.upload_part(key, id, number, buf.get(..n).unwrap_or(&[]))?;
            parts.push((number, etag));
            total += n as u64;
            n = self.fill(key, src, buf)?;
        }
        self.complete_multipart(key, id, &parts)?;
        Ok(total)
    }

    /// Reads from `src` until `buf` is full or `src` ends; returns the count.
    fn fill(&self, key: &str, src: &mut dyn Read, buf: &mut [u8]) -> Result<usize, S3Error> {
        let mut n = 0;
        while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
            match src.read(rest) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(self.local("UploadPart", key, format!("reading the source: {e}")))
                }
            }
        }
        Ok(n)
    }
}
