//! Local trimming (`--archive-keep-local SIZE`): the newest files stay on
//! local disk up to SIZE bytes; older ones lose their local copy, oldest
//! first, but only a file whose archived copy was verified (named in the
//! record with the same size), and never the file being written.
//!
//! The index still names a trimmed file: it is read from the archive from
//! then on ([`crate::storage::reader`]). A client already reading the local
//! copy keeps its open file; the unlink only frees the space when it is
//! done.

use std::path::Path;

use log::{info, warn};

use super::{Archive, ArchiveStats};
use crate::binlog::BinlogFileName;
use crate::storage::datadir::sync_dir;
use crate::storage::fs::BinlogStore;
use crate::storage::listing::regular_size;
use crate::storage::StorageError;

/// The files of `files` (the index, oldest first) with a local copy, and
/// their sizes.
fn local_files(dir: &Path, files: &[BinlogFileName]) -> Vec<(BinlogFileName, u64)> {
    files
        .iter()
        .filter_map(|f| regular_size(&dir.join(f.as_str())).ok().map(|n| (f.clone(), n)))
        .collect()
}

/// Removes local copies until the local files of `files` hold at most
/// `keep_local` bytes, as the module doc says; returns how many went.
///
/// # Errors
/// A failed unlink or directory fsync (the caller stops: a local disk error).
pub fn trim(
    archive: &Archive,
    fs: &dyn BinlogStore,
    files: &[BinlogFileName],
    keep_local: u64,
) -> Result<usize, StorageError> {
    let Some(active) = files.last() else { return Ok(0) };
    let dir = archive.dir();
    let local = local_files(dir, files);
    let mut total: u64 = local.iter().map(|(_, n)| n).sum();
    let mut removed = 0;
    for (name, size) in local {
        if total <= keep_local || &name == active {
            break;
        }
        match archive.entry(&name) {
            Some(e) if e.size == size => {}
            Some(e) => {
                warn!(
                    "not removing local binlog: its archived copy has another size file={name} \
                     local_bytes={size} archived_bytes={}",
                    e.size
                );
                break;
            }
            // Not verified yet: it stays, and so does every newer file.
            None => break,
        }
        let path = dir.join(name.as_str());
        match fs.remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StorageError::io("remove", &path)(e)),
        }
        sync_dir(fs, dir)?;
        total -= size;
        removed += 1;
        ArchiveStats::add(&archive.stats.trimmed_files, 1);
        info!(
            "removed local copy of archived binlog file={name} bytes={size} local_bytes={total} \
             keep_local={keep_local} archive={}",
            archive.location()
        );
    }
    Ok(removed)
}
