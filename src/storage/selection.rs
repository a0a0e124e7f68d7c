//! Retention: which stored binlog files a purge removes. Pure functions
//! over facts gathered by [`super::purge`]; no I/O.
//!
//! A purge always removes a prefix of the index (the oldest files), and
//! stops at the first file that must stay:
//!
//! * the active file (the last one: the file being written, or the newest
//!   file of a served directory), never purged, like MariaDB's active log;
//! * the oldest file a connected downstream client is reading, and with it
//!   every later file (the client goes on to read them).
//!
//! What a purge wants is one [`Criterion`]: `PURGE BINARY LOGS TO`
//! (files before the named one), `BEFORE` a time or `--expire-logs-days`
//! (files closed before it), or `--max-total-size` (oldest files while the
//! total is above the limit).
//!
//! The age of a file is the time the primary closed it: the timestamp of
//! the first event (the format description) of the next file, which the
//! primary wrote when it rotated. MariaDB uses the file's mtime, but here
//! the mtime is only when binlogserver stored the file (a catch-up after a
//! week offline would make week-old files look new).

use crate::binlog::BinlogFileName;

/// What is known of one stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// The file.
    pub name: BinlogFileName,
    /// Its size in bytes.
    pub size: u64,
    /// When the primary closed it (seconds since the epoch); `None` when
    /// unknown (the active file, or a next file without a format description yet).
    pub closed_at: Option<u64>,
}

/// What a purge asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criterion {
    /// `PURGE BINARY LOGS TO 'file'`: every file before `file`.
    To(BinlogFileName),
    /// `PURGE BINARY LOGS BEFORE t`, `--expire-logs-days`: files closed before `t` (epoch seconds).
    Before(u64),
    /// `--max-total-size`: the oldest files while the total size is above this many bytes.
    MaxTotalSize(u64),
}

/// Why a purge stopped short of what it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// The file is the active (last) file.
    Active(BinlogFileName),
    /// The file is being read by `readers` connected clients.
    InUse {
        /// The file.
        file: BinlogFileName,
        /// How many clients read it.
        readers: usize,
    },
}

/// The outcome of a selection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// The files to remove, oldest first (a prefix of the index).
    pub purge: Vec<BinlogFileName>,
    /// Set when the criterion wanted more files than may go.
    pub blocked: Option<Blocked>,
    /// How many files the criterion wanted.
    pub wanted: usize,
}

/// `PURGE BINARY LOGS TO` a file that is not in the index (MariaDB's
/// `ER_UNKNOWN_TARGET_BINLOG`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTarget(pub BinlogFileName);

/// Selects the files to purge from `files` (the index, oldest first) for
/// `criterion`, never the active file nor a file at or after the oldest
/// one in `reading` (one entry per connected client reading a file).
pub fn select(
    files: &[FileFacts],
    criterion: &Criterion,
    reading: &[BinlogFileName],
) -> Result<Selection, UnknownTarget> {
    let wanted = wanted(files, criterion)?;
    let oldest_read = reading.iter().min();
    let last = files.len().saturating_sub(1);
    let mut selection = Selection { wanted, ..Selection::default() };
    for (i, f) in files.iter().take(wanted).enumerate() {
        if i >= last {
            selection.blocked = Some(Blocked::Active(f.name.clone()));
            break;
        }
        if let Some(read) = oldest_read.filter(|r| f.name >= **r) {
            let readers = reading.iter().filter(|r| *r == read).count();
            selection.blocked = Some(Blocked::InUse { file: read.clone(), readers });
            break;
        }
        selection.purge.push(f.name.clone());
    }
    Ok(selection)
}

/// How many leading files `criterion` asks for.
fn wanted(files: &[FileFacts], criterion: &Criterion) -> Result<usize, UnknownTarget> {
    Ok(match criterion {
        Criterion::To(target) => files
            .iter()
            .position(|f| f.name == *target)
            .ok_or_else(|| UnknownTarget(target.clone()))?,
        Criterion::Before(t) => {
            files.iter().take_while(|f| f.closed_at.is_some_and(|c| c < *t)).count()
        }
        Criterion::MaxTotalSize(limit) => {
            let mut total: u64 = files.iter().map(|f| f.size).sum();
            let mut n = 0;
            for f in files {
                if total <= *limit {
                    break;
                }
                total = total.saturating_sub(f.size);
                n += 1;
            }
            n
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: u64) -> BinlogFileName {
        BinlogFileName::new(format!("mysql-bin.{n:06}")).unwrap()
    }

    /// Files 1..=n of 100 bytes each, file i closed at 1000 + i (the last one open).
    fn files(n: u64) -> Vec<FileFacts> {
        (1..=n)
            .map(|i| FileFacts { name: name(i), size: 100, closed_at: (i < n).then_some(1000 + i) })
            .collect()
    }

    fn names(range: std::ops::RangeInclusive<u64>) -> Vec<BinlogFileName> {
        range.map(name).collect()
    }

    #[test]
    fn purge_to_removes_the_files_before_the_target() {
        let s = select(&files(5), &Criterion::To(name(3)), &[]).unwrap();
        assert_eq!(s.purge, names(1..=2));
        assert_eq!(s.blocked, None);
        assert_eq!(s.wanted, 2);
        let s = select(&files(5), &Criterion::To(name(1)), &[]).unwrap();
        assert!(s.purge.is_empty() && s.blocked.is_none());
    }

    #[test]
    fn purge_to_the_active_file_keeps_it() {
        let s = select(&files(5), &Criterion::To(name(5)), &[]).unwrap();
        assert_eq!(s.purge, names(1..=4));
        assert_eq!(s.blocked, None);
    }

    #[test]
    fn purge_to_an_unknown_file_is_an_error() {
        assert_eq!(select(&files(5), &Criterion::To(name(9)), &[]), Err(UnknownTarget(name(9))));
        let other = BinlogFileName::new("other.000001").unwrap();
        assert!(select(&files(5), &Criterion::To(other), &[]).is_err());
    }

    #[test]
    fn a_reader_protects_its_file_and_every_later_one() {
        let reading = [name(4), name(2), name(2)];
        let s = select(&files(5), &Criterion::To(name(5)), &reading).unwrap();
        assert_eq!(s.purge, names(1..=1));
        assert_eq!(s.blocked, Some(Blocked::InUse { file: name(2), readers: 2 }));
        assert_eq!(s.wanted, 4);
        // A reader past the target does not matter.
        let s = select(&files(5), &Criterion::To(name(3)), &[name(4)]).unwrap();
        assert_eq!(s.purge, names(1..=2));
        assert_eq!(s.blocked, None);
    }

    #[test]
    fn before_uses_the_close_time_and_stops_at_the_first_younger_file() {
        let s = select(&files(5), &Criterion::Before(1003), &[]).unwrap();
        assert_eq!(s.purge, names(1..=2));
        // File 3 closed at 1003 is not before 1003; file 4 is unknown anyway.
        let mut f = files(5);
        f[1].closed_at = Some(5000);
        let s = select(&f, &Criterion::Before(1004), &[]).unwrap();
        assert_eq!(s.purge, names(1..=1));
        // An unknown close time stops the purge.
        f[0].closed_at = None;
        assert!(select(&f, &Criterion::Before(9999), &[]).unwrap().purge.is_empty());
    }

    #[test]
    fn before_never_takes_the_active_file() {
        let mut f = files(3);
        f[2].closed_at = Some(1);
        let s = select(&f, &Criterion::Before(u64::MAX), &[]).unwrap();
        assert_eq!(s.purge, names(1..=2));
        assert_eq!(s.blocked, Some(Blocked::Active(name(3))));
    }

    #[test]
    fn max_total_size_removes_the_oldest_until_the_total_fits() {
        let s = select(&files(5), &Criterion::MaxTotalSize(300), &[]).unwrap();
        assert_eq!(s.purge, names(1..=2));
        let s = select(&files(5), &Criterion::MaxTotalSize(299), &[]).unwrap();
        assert_eq!(s.purge, names(1..=3));
        assert!(select(&files(5), &Criterion::MaxTotalSize(500), &[]).unwrap().purge.is_empty());
    }

    #[test]
    fn max_total_size_below_the_active_file_keeps_the_active_file() {
        let s = select(&files(3), &Criterion::MaxTotalSize(0), &[]).unwrap();
        assert_eq!(s.purge, names(1..=2));
        assert_eq!(s.blocked, Some(Blocked::Active(name(3))));
        let s = select(&files(3), &Criterion::MaxTotalSize(0), &[name(2)]).unwrap();
        assert_eq!(s.purge, names(1..=1));
        assert_eq!(s.blocked, Some(Blocked::InUse { file: name(2), readers: 1 }));
    }

    #[test]
    fn nothing_stored_nothing_purged() {
        let s = select(&[], &Criterion::MaxTotalSize(0), &[]).unwrap();
        assert_eq!(s, Selection::default());
        let s = select(&files(1), &Criterion::Before(u64::MAX), &[]).unwrap();
        assert!(s.purge.is_empty());
    }
}
