//! Comparing binlogserver's files with the primary's: byte identity,
//! catching up, the index file, and "nothing changed" snapshots.
//!
//! Failures name the file, the first differing offset and the event that
//! holds it, so a report says what differed rather than just "not equal".

use super::mariadb::MariaDb;
use super::wait_until_ok;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// Offset of the FORMAT_DESCRIPTION event's flags byte in a binlog file
/// (4-byte magic + 17 header bytes). Bit 0x01 is LOG_EVENT_BINLOG_IN_USE_F:
/// set on the primary's live file, clear in the stream and so in our copy.
pub(crate) const FD_FLAGS_OFFSET: usize = 21;
const IN_USE_FLAG: u8 = 0x01;
const MAGIC: &[u8] = b"\xfebin";
const HEADER_LEN: usize = 19;

/// One event header found by walking a binlog file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventInfo {
    /// Where the event starts in the file.
    pub(crate) offset: usize,
    /// The event type code.
    pub(crate) type_code: u8,
    /// Total event size, header and checksum included.
    pub(crate) size: u32,
    /// The header's `log_pos` (end of this event in the primary's file).
    pub(crate) log_pos: u32,
    /// The header's flags.
    pub(crate) flags: u16,
}

/// Walks the event headers of a binlog file image from offset 4. Stops at
/// the first header that does not fit or claims an impossible size.
pub(crate) fn binlog_events(bytes: &[u8]) -> Vec<EventInfo> {
    let mut events = Vec::new();
    if !bytes.starts_with(MAGIC) {
        return events;
    }
    let mut offset = MAGIC.len();
    while let Some(h) = bytes.get(offset..offset + HEADER_LEN) {
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let size = u32_at(9);
        let ev = EventInfo {
            offset,
            type_code: h[4],
            size,
            log_pos: u32_at(13),
            flags: u16::from_le_bytes([h[17], h[18]]),
        };
        if (size as usize) < HEADER_LEN {
            break;
        }
        events.push(ev);
        offset += size as usize;
    }
    events
}

/// The largest event in the binlog file at `path`.
pub(crate) fn largest_event(path: &Path) -> Option<EventInfo> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    binlog_events(&bytes).into_iter().max_by_key(|e| e.size)
}

/// A readable name for the event types that show up in our tests.
pub(crate) fn event_type_name(code: u8) -> &'static str {
    match code {
        2 => "QUERY",
        4 => "ROTATE",
        15 => "FORMAT_DESCRIPTION",
        16 => "XID",
        19 => "TABLE_MAP",
        23 => "WRITE_ROWS_V1",
        24 => "UPDATE_ROWS_V1",
        25 => "DELETE_ROWS_V1",
        27 => "HEARTBEAT",
        160 => "ANNOTATE_ROWS",
        161 => "BINLOG_CHECKPOINT",
        162 => "GTID",
        163 => "GTID_LIST",
        164 => "START_ENCRYPTION",
        _ => "other",
    }
}

/// "event GTID (162) at 1234, 42 bytes" for the event holding `offset`.
fn describe_offset(bytes: &[u8], offset: usize) -> String {
    let events = binlog_events(bytes);
    let holding = events.iter().find(|e| e.offset <= offset && offset < e.offset + e.size as usize);
    match holding {
        Some(e) => format!(
            "in event {} ({}) at {}, {} bytes, byte {} of it",
            event_type_name(e.type_code),
            e.type_code,
            e.offset,
            e.size,
            offset - e.offset
        ),
        None if offset < MAGIC.len() => "in the magic number".to_owned(),
        None => "outside any whole event of the primary's file".to_owned(),
    }
}

/// Compares one file; `live` allows the in-use flag to differ.
pub(super) fn compare_file(
    name: &str,
    primary: &[u8],
    local: &[u8],
    live: bool,
) -> Result<(), String> {
    let mut problems = Vec::new();
    let diff = primary.iter().zip(local).enumerate().find(|&(i, (p, l))| {
        let allowed = live && i == FD_FLAGS_OFFSET && (p ^ l) == IN_USE_FLAG;
        p != l && !allowed
    });
    if let Some((i, (p, l))) = diff {
        problems.push(format!(
            "first differing byte at offset {i}: primary 0x{p:02x}, local 0x{l:02x} ({})",
            describe_offset(primary, i)
        ));
    }
    if primary.len() != local.len() {
        let common = primary.len().min(local.len());
        let side = if local.len() < primary.len() {
            "local copy is short"
        } else {
            "local copy has extra bytes"
        };
        problems.push(format!(
            "length differs: primary {} bytes, local {} bytes ({side}; from offset {common}: {})",
            primary.len(),
            local.len(),
            if local.len() < primary.len() {
                describe_offset(primary, common)
            } else {
                describe_offset(local, common)
            }
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{name}{}: {}", if live { " (live file)" } else { "" }, problems.join("; ")))
    }
}

/// `name` in `dir` is byte-identical to the file of that name in `server`'s
/// datadir (a running or a stopped server), except for the in-use flag of
/// its format description when `live` (the server's live file, or the last
/// file of a server that was killed).
pub(crate) fn compare_server_file(
    server: &MariaDb,
    name: &str,
    dir: &Path,
    live: bool,
) -> Result<(), String> {
    let theirs =
        fs::read(server.binlog_path(name)).map_err(|e| format!("read the server's {name}: {e}"))?;
    let ours = fs::read(dir.join(name)).map_err(|e| format!("{name}: missing here ({e})"))?;
    compare_file(name, &theirs, &ours, live)
}

/// For every file in `SHOW BINARY LOGS`: the file in `dir` exists and is
/// byte-identical to the primary's, except that in the last (live) file the
/// FD flags byte at offset 21 may differ in bit 0x01. Call it only after
/// writes have stopped and [`wait_caught_up`] returned.
#[track_caller]
pub(crate) fn assert_same_binlogs(primary: &MariaDb, dir: &Path) {
    if let Err(e) = compare_binlogs(primary, dir) {
        panic!("{e}");
    }
}

/// [`assert_same_binlogs`] for a primary that was killed and restarted:
/// MariaDB's recovery leaves the in-use flag set in the file it crashed in,
/// and the stream (so our copy) has it clear, so the flag may differ in
/// every file.
#[track_caller]
pub(crate) fn assert_same_binlogs_after_crashes(primary: &MariaDb, dir: &Path) {
    if let Err(e) = compare_binlogs_with(primary, dir, true) {
        panic!("{e}");
    }
}

/// The check of [`assert_same_binlogs`], returning the report instead of
/// panicking (so the harness can test that it notices differences).
pub(crate) fn compare_binlogs(primary: &MariaDb, dir: &Path) -> Result<(), String> {
    compare_binlogs_with(primary, dir, false)
}

/// The comparison; with `crashed` the in-use flag may differ in any file.
fn compare_binlogs_with(primary: &MariaDb, dir: &Path, crashed: bool) -> Result<(), String> {
    let files = primary.binlog_files();
    assert!(!files.is_empty(), "SHOW BINARY LOGS is empty");
    let mut problems = Vec::new();
    for (i, (name, size)) in files.iter().enumerate() {
        let live = crashed || i + 1 == files.len();
        let theirs = fs::read(primary.binlog_path(name))
            .unwrap_or_else(|e| panic!("read the primary's {name}: {e}"));
        assert_eq!(
            theirs.len() as u64,
            *size,
            "the primary's {name} changed while comparing: writes must stop before \
             assert_same_binlogs"
        );
        match fs::read(dir.join(name)) {
            Ok(ours) => {
                if let Err(p) = compare_file(name, &theirs, &ours, live) {
                    problems.push(p);
                }
            }
            Err(e) => problems.push(format!("{name}: missing in {} ({e})", dir.display())),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "binlogs in {} differ from the primary's (files {:?}, local files {:?}):\n{}",
        dir.display(),
        files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        local_binlog_files(dir),
        problems.join("\n")
    ))
}

/// Names of the binlog files (`<base>.<digits>`) in `dir`, sorted.
pub(crate) fn local_binlog_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.rsplit_once('.')
                .is_some_and(|(_, ext)| ext.len() >= 6 && ext.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    names.sort();
    names
}

/// The binlog files in `dir` are exactly those in `SHOW BINARY LOGS`.
#[track_caller]
pub(crate) fn assert_same_binlog_set(primary: &MariaDb, dir: &Path) {
    let theirs: Vec<String> = primary.binlog_files().into_iter().map(|f| f.0).collect();
    assert_eq!(
        local_binlog_files(dir),
        theirs,
        "binlog files in {} vs SHOW BINARY LOGS",
        dir.display()
    );
}

/// File names listed in an index file (`./mysql-bin.000001` or a path).
pub(crate) fn read_index(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            Path::new(l.trim())
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| l.to_owned())
        })
        .collect()
}

/// `dir/mysql-bin.index` names the same files as `SHOW BINARY LOGS` (and as
/// the primary's own index, read as a cross-check of the harness).
#[track_caller]
pub(crate) fn assert_index_matches(primary: &MariaDb, dir: &Path) {
    let theirs: Vec<String> = primary.binlog_files().into_iter().map(|f| f.0).collect();
    assert_eq!(
        read_index(&primary.binlog_path("mysql-bin.index")),
        theirs,
        "the primary's own index"
    );
    let index = dir.join("mysql-bin.index");
    assert_eq!(
        read_index(&index),
        theirs,
        "{} vs SHOW BINARY LOGS; raw index:\n{}",
        index.display(),
        fs::read_to_string(&index).unwrap_or_default()
    );
}

/// Polls until the local copy of the primary's live file (from `SHOW MASTER
/// STATUS`) has the primary's size and every earlier file exists with the
/// primary's size, and the primary has finished its rotation work (see
/// [`wait_binlog_checkpointed`]), so that its files no longer grow on their
/// own and can be compared. Panics at once if a closed file is longer than
/// the primary's.
#[track_caller]
pub(crate) fn wait_caught_up(primary: &MariaDb, dir: &Path, timeout: Duration) {
    wait_until_ok(timeout, &format!("{} to catch up with the primary", dir.display()), || {
        // Sizes first (cheap); then the checkpoint, which stops the live
        // file from growing by itself; then the sizes again, which it may
        // have changed in between.
        same_sizes(primary, dir)?;
        live_file_checkpointed(primary)?;
        same_sizes(primary, dir)
    });
}

/// The check of [`wait_caught_up`]: every file of `SHOW BINARY LOGS` is in
/// `dir` with the primary's size (the live one up to `SHOW MASTER STATUS`).
fn same_sizes(primary: &MariaDb, dir: &Path) -> Result<(), String> {
    let files = primary.binlog_files();
    let (live, live_pos) = primary.master_status();
    if files.last().map(|f| f.0.as_str()) != Some(live.as_str()) {
        return Err(format!("the primary rotated while checking ({live})"));
    }
    for (name, size) in &files {
        let expected = if *name == live { live_pos } else { *size };
        let local = fs::metadata(dir.join(name)).map(|m| m.len()).ok();
        match local {
            Some(len) if len == expected => {}
            Some(len) if len > expected && *name != live => {
                panic!("local {name} has {len} bytes but the primary's closed file has {expected}")
            }
            Some(len) => return Err(format!("local {name} has {len} of {expected} bytes")),
            None => return Err(format!("local {name} is missing (primary has {expected} bytes)")),
        }
    }
    Ok(())
}

/// Every file under a directory (relative path -> bytes).
pub(crate) type DirSnapshot = BTreeMap<String, Vec<u8>>;

/// Reads every file under `dir`, recursively.
pub(crate) fn snapshot_dir(dir: &Path) -> DirSnapshot {
    fn walk(base: &Path, dir: &Path, out: &mut DirSnapshot) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let entry = entry.expect("directory entry");
            let path = entry.path();
            if entry.file_type().expect("entry type").is_dir() {
                walk(base, &path, out);
            } else {
                let rel =
                    path.strip_prefix(base).expect("under base").to_string_lossy().into_owned();
                let bytes =
                    fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                out.insert(rel, bytes);
            }
        }
    }
    let mut out = DirSnapshot::new();
    walk(dir, dir, &mut out);
    out
}

/// The files under `dir` are exactly `before`: same names, same bytes.
#[track_caller]
pub(crate) fn assert_dir_unchanged(before: &DirSnapshot, dir: &Path) {
    let after = snapshot_dir(dir);
    let mut problems = Vec::new();
    for (name, old) in before {
        match after.get(name) {
            None => problems.push(format!("{name}: removed")),
            Some(new) if new != old => {
                let first = old.iter().zip(new).position(|(a, b)| a != b);
                problems.push(format!(
                    "{name}: changed (was {} bytes, now {}; first difference at {})",
                    old.len(),
                    new.len(),
                    first.map_or_else(|| "the end of the shorter".to_owned(), |i| i.to_string())
                ));
            }
            Some(_) => {}
        }
    }
    for (name, new) in &after {
        if !before.contains_key(name) {
            problems.push(format!("{name}: new file ({} bytes)", new.len()));
        }
    }
    assert!(problems.is_empty(), "{} was modified:\n{}", dir.display(), problems.join("\n"));
}

/// Waits until the primary's live binlog ends its rotation work: its last
/// BINLOG_CHECKPOINT event names the live file itself. After a rotation
/// MariaDB appends that event in the background once the previous file's
/// transactions are durable in InnoDB, so a file can grow by 43 bytes
/// after its copy looked complete ([`wait_caught_up`] waits for this too).
pub(crate) fn wait_binlog_checkpointed(primary: &MariaDb, timeout: Duration) {
    wait_until_ok(timeout, "the primary's BINLOG_CHECKPOINT to name its live file", || {
        live_file_checkpointed(primary)
    });
}

/// The check of [`wait_binlog_checkpointed`].
fn live_file_checkpointed(primary: &MariaDb) -> Result<(), String> {
    const BINLOG_CHECKPOINT: u8 = 161;
    let (live, _) = primary.master_status();
    let bytes = fs::read(primary.binlog_path(&live)).map_err(|e| e.to_string())?;
    let last = binlog_events(&bytes)
        .into_iter()
        .filter(|e| e.type_code == BINLOG_CHECKPOINT)
        .rfind(|e| e.offset + e.size as usize <= bytes.len())
        .ok_or_else(|| format!("{live} has no BINLOG_CHECKPOINT yet"))?;
    // Body: 4-byte name length, the name; then (maybe) the CRC.
    let body = &bytes[last.offset + HEADER_LEN..last.offset + last.size as usize];
    let len = u32::from_le_bytes([body[0], body[1], body[2], body[3]]) as usize;
    let named = body.get(4..4 + len).map(String::from_utf8_lossy).unwrap_or_default();
    if named == live {
        Ok(())
    } else {
        Err(format!("{live}'s last BINLOG_CHECKPOINT names {named}"))
    }
}
