//! [`ObjectStore`] over S3 ([`crate::objstore::S3Client`]): objects are
//! named `PREFIX` + the binlog file name; uploads go in
//! [`PART_SIZE`] parts with the file's SHA-256 as user metadata
//! (`x-amz-meta-sha256`, for whoever reads the bucket without us); reads
//! are ranged GETs of [`READ_CHUNK`] bytes with the next one prefetched.

use std::io::Read;

use super::{ObjectStore, ReadSeek, StoreError};
use crate::objstore::{RangeReader, S3Client, S3Error, S3ErrorKind};

/// Bytes per multipart part: one part is held in memory per upload.
pub const PART_SIZE: usize = 16 << 20;
/// Bytes per ranged GET when reading an archived file back.
pub const READ_CHUNK: usize = 8 << 20;

/// The archive's S3 bucket and prefix.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: S3Client,
}

impl S3Store {
    /// The store `client` points at.
    pub fn new(client: S3Client) -> S3Store {
        S3Store { client }
    }
}

fn store_error(e: &S3Error) -> StoreError {
    StoreError { not_found: e.kind() == S3ErrorKind::NotFound, message: e.to_string() }
}

impl ObjectStore for S3Store {
    fn location(&self) -> String {
        self.client.config().url.to_string()
    }

    fn upload(&self, key: &str, src: &mut dyn Read, sha256: &str) -> Result<u64, StoreError> {
        self.client.upload(key, src, PART_SIZE, &[("sha256", sha256)]).map_err(|e| store_error(&e))
    }

    fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.client.head(key).map_err(|e| store_error(&e))?.map(|o| o.size))
    }

    fn open(&self, key: &str, size: u64) -> Result<Box<dyn ReadSeek>, StoreError> {
        // The first GET happens at the first read; a missing object shows there.
        Ok(Box::new(RangeReader::new(self.client.clone(), key.to_owned(), size, READ_CHUNK)))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client.delete(key).map_err(|e| store_error(&e))
    }

    fn abort_incomplete(&self) -> Result<usize, StoreError> {
        let uploads = self.client.list_multipart_uploads().map_err(|e| store_error(&e))?;
        for (key, id) in &uploads {
            self.client.abort_multipart(key, id).map_err(|e| store_error(&e))?;
        }
        Ok(uploads.len())
    }
}
