//! What a binlog client must receive, computed from the stored files, and
//! the comparison of what it did receive (read by python-mysql-replication)
//! with that.
//!
//! A server that streams stored binlogs sends, besides the stored events,
//! events it makes up: artificial ROTATEs and GTID_LISTs (flag
//! LOG_EVENT_ARTIFICIAL_F), a FORMAT_DESCRIPTION with `log_pos` 0 when it
//! starts in the middle of a file, and HEARTBEATs. Those are left out; every
//! other event received must be the stored event at the same place, in the
//! same order, with the same size, `log_pos` and CRC32 footer, and no stored
//! event may be missing.
//!
//! Where the client starts by GTID, the server starts with the newest file
//! whose starting GTID state (MariaDB GTID_LIST, MySQL PREVIOUS_GTIDS) the
//! client already has, and leaves out every transaction the client has.

use super::binlogs::{binlog_events, event_type_name, EventInfo};
use super::python::{PyEvent, PyRead};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::Path;

const HEADER_LEN: usize = 19;
const ROTATE: u8 = 4;
const STOP: u8 = 3;
const FORMAT_DESCRIPTION: u8 = 15;
const HEARTBEAT: u8 = 27;
const MYSQL_GTID: u8 = 33;
const MYSQL_ANONYMOUS_GTID: u8 = 34;
const MYSQL_PREVIOUS_GTIDS: u8 = 35;
const MYSQL_GTID_TAGGED: u8 = 42;
const ANNOTATE_ROWS: u8 = 160;
const BINLOG_CHECKPOINT: u8 = 161;
const MARIA_GTID: u8 = 162;
const MARIA_GTID_LIST: u8 = 163;
const ARTIFICIAL: u16 = 0x20;

/// A GTID found in a binlog file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Gtid {
    /// MariaDB `domain-server-seq`.
    Maria {
        /// Domain id.
        domain: u32,
        /// Server id.
        server: u32,
        /// Sequence number.
        seq: u64,
    },
    /// MySQL `uuid:gno`.
    Mysql {
        /// The source UUID, lower case with dashes.
        uuid: String,
        /// The transaction number.
        gno: u64,
    },
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gtid::Maria { domain, server, seq } => write!(f, "{domain}-{server}-{seq}"),
            Gtid::Mysql { uuid, gno } => write!(f, "{uuid}:{gno}"),
        }
    }
}

/// A GTID state or set as a client sends it: a MariaDB position
/// (`0-1-42,1-5-7`: per domain, everything up to that sequence number) or a
/// MySQL GTID set (`uuid:1-5:7,uuid2:3`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GtidState {
    /// MariaDB: domain -> highest sequence number included.
    maria: BTreeMap<u32, u64>,
    /// MySQL: uuid -> inclusive intervals.
    mysql: BTreeMap<String, Vec<(u64, u64)>>,
}

impl GtidState {
    /// Parses a MariaDB position or a MySQL GTID set (empty: nothing).
    ///
    /// # Panics
    /// On a malformed string.
    pub(crate) fn parse(text: &str) -> GtidState {
        let mut state = GtidState::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some((uuid, ranges)) = part.split_once(':') {
                let list = state.mysql.entry(uuid.to_ascii_lowercase()).or_default();
                for r in ranges.split(':') {
                    let (a, b) = r.split_once('-').unwrap_or((r, r));
                    let parse = |s: &str| {
                        s.parse::<u64>()
                            .unwrap_or_else(|_| panic!("bad GTID interval {r:?} in {text:?}"))
                    };
                    list.push((parse(a), parse(b)));
                }
            } else {
                let nums: Vec<u64> = part
                    .split('-')
                    .map(|n| {
                        n.parse()
                            .unwrap_or_else(|_| panic!("bad MariaDB GTID {part:?} in {text:?}"))
                    })
                    .collect();
                let [domain, _server, seq] = nums[..] else {
                    panic!("bad MariaDB GTID {part:?} in {text:?}");
                };
                let domain = u32::try_from(domain).expect("domain id fits u32");
                let e = state.maria.entry(domain).or_insert(0);
                *e = (*e).max(seq);
            }
        }
        state
    }

    /// True when the state includes `gtid`.
    pub(crate) fn contains(&self, gtid: &Gtid) -> bool {
        match gtid {
            Gtid::Maria { domain, seq, .. } => self.maria.get(domain).is_some_and(|s| seq <= s),
            Gtid::Mysql { uuid, gno } => {
                self.mysql.get(uuid).is_some_and(|l| l.iter().any(|&(a, b)| a <= *gno && *gno <= b))
            }
        }
    }

    /// True when every GTID of `other` is in `self`.
    pub(crate) fn includes(&self, other: &GtidState) -> bool {
        other.maria.iter().all(|(d, s)| self.maria.get(d).is_some_and(|mine| s <= mine))
            && other.mysql.iter().all(|(uuid, list)| {
                list.iter().all(|&(a, b)| {
                    // Every number of [a, b] is in one of our intervals.
                    let mut n = a;
                    while n <= b {
                        let Some(&(_, end)) = self
                            .mysql
                            .get(uuid)
                            .and_then(|l| l.iter().find(|&&(x, y)| x <= n && n <= y))
                        else {
                            return false;
                        };
                        n = end + 1;
                    }
                    true
                })
            })
    }
}

/// One stored event, with what the stream comparison needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredEvent {
    /// The file it is in.
    pub(crate) file: String,
    /// Header fields.
    pub(crate) info: EventInfo,
    /// Its last 4 bytes (the CRC32 footer when checksums are on).
    pub(crate) footer: u32,
    /// For GTID events, the GTID.
    pub(crate) gtid: Option<Gtid>,
}

/// The events of one stored binlog file, and the GTID state it starts with.
#[derive(Clone, Debug)]
pub(crate) struct StoredFile {
    /// File name.
    pub(crate) name: String,
    /// Its events in order.
    pub(crate) events: Vec<StoredEvent>,
    /// Its GTID_LIST or PREVIOUS_GTIDS as a state (empty if none).
    pub(crate) start_state: GtidState,
    /// Its length.
    pub(crate) len: usize,
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

fn uuid_at(b: &[u8], i: usize) -> String {
    let h: String = b[i..i + 16].iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Reads and walks one stored binlog file.
///
/// # Panics
/// If the file cannot be read or its events do not cover it exactly.
pub(crate) fn stored_file(dir: &Path, name: &str) -> StoredFile {
    let path = dir.join(name);
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let infos = binlog_events(&bytes);
    let end = infos.last().map_or(4, |e| e.offset + e.size as usize);
    assert_eq!(
        end,
        bytes.len(),
        "{}: the events end at {end}, the file has {} bytes",
        path.display(),
        bytes.len()
    );
    let mut start_state = GtidState::default();
    let mut events = Vec::new();
    for info in infos {
        let ev = &bytes[info.offset..info.offset + info.size as usize];
        let body = HEADER_LEN;
        let gtid = match info.type_code {
            MARIA_GTID => Some(Gtid::Maria {
                seq: u64_at(ev, body),
                domain: u32_at(ev, body + 8),
                server: u32_at(ev, 5),
            }),
            MYSQL_GTID => {
                Some(Gtid::Mysql { uuid: uuid_at(ev, body + 1), gno: u64_at(ev, body + 17) })
            }
            _ => None,
        };
        match info.type_code {
            MARIA_GTID_LIST => {
                let count = u32_at(ev, body) & 0x0fff_ffff;
                for k in 0..count as usize {
                    let at = body + 4 + 16 * k;
                    let e = start_state.maria.entry(u32_at(ev, at)).or_insert(0);
                    *e = (*e).max(u64_at(ev, at + 8));
                }
            }
            MYSQL_PREVIOUS_GTIDS => {
                // Untagged format: n_sids, then per sid uuid, n_intervals,
                // [start, end) pairs. MySQL 9's tagged format (a format byte
                // in the top byte of n_sids) is not read.
                let n_sids = u64_at(ev, body);
                if n_sids >> 56 == 0 && n_sids < 1 << 20 {
                    let mut at = body + 8;
                    for _ in 0..n_sids {
                        let uuid = uuid_at(ev, at);
                        let n = usize::try_from(u64_at(ev, at + 16))
                            .expect("interval count fits usize");
                        at += 24;
                        let list = start_state.mysql.entry(uuid).or_default();
                        for _ in 0..n {
                            list.push((u64_at(ev, at), u64_at(ev, at + 8) - 1));
                            at += 16;
                        }
                    }
                }
            }
            _ => {}
        }
        events.push(StoredEvent {
            file: name.to_owned(),
            info,
            footer: u32_at(ev, ev.len() - 4),
            gtid,
        });
    }
    StoredFile { name: name.to_owned(), events, start_state, len: bytes.len() }
}

/// Where a client starts reading.
#[derive(Clone, Debug)]
pub(crate) enum Start {
    /// At `pos` in `file` (which must be an event boundary, or 4).
    Position(String, u64),
    /// From a GTID state / set.
    Gtid(GtidState),
}

/// The stored events a client starting at `start` must receive, in order,
/// from the files `files` (in index order) in `dir`; events of the types
/// in `left_out` are not expected (e.g. ANNOTATE_ROWS for a MariaDB client
/// that did not ask for them).
///
/// # Panics
/// If `start` names a file that is not in `files` or a position inside an
/// event.
pub(crate) fn expected_events(
    dir: &Path,
    files: &[String],
    start: &Start,
    left_out: &[u8],
) -> Vec<StoredEvent> {
    let stored: Vec<StoredFile> = files.iter().map(|f| stored_file(dir, f)).collect();
    let mut out = Vec::new();
    match start {
        Start::Position(file, pos) => {
            let first = stored
                .iter()
                .position(|f| &f.name == file)
                .unwrap_or_else(|| panic!("start file {file} is not among {files:?}"));
            let pos = usize::try_from(*pos).expect("position fits usize").max(4);
            let f = &stored[first];
            assert!(
                pos == f.len || f.events.iter().any(|e| e.info.offset == pos),
                "start position {pos} is not an event boundary of {file}"
            );
            out.extend(f.events.iter().filter(|e| e.info.offset >= pos).cloned());
            for f in &stored[first + 1..] {
                out.extend(f.events.iter().cloned());
            }
        }
        Start::Gtid(state) => {
            let first = start_file_for(&stored, state);
            for f in &stored[first..] {
                let mut skipping = false;
                for e in &f.events {
                    if let Some(g) = &e.gtid {
                        skipping = state.contains(g);
                    } else if ends_group(e.info.type_code) {
                        skipping = false;
                    }
                    if !skipping {
                        out.push(e.clone());
                    }
                }
            }
        }
    }
    out.retain(|e| !left_out.contains(&e.info.type_code));
    out
}

/// Index in `stored` of the file a GTID start begins with: the newest one
/// whose starting state the client already has (the first one if none).
pub(crate) fn start_file_for(stored: &[StoredFile], state: &GtidState) -> usize {
    stored.iter().rposition(|f| state.includes(&f.start_state)).unwrap_or(0)
}

/// Event types that are never part of a transaction: one of them ends the
/// group that a GTID event started.
fn ends_group(type_code: u8) -> bool {
    matches!(
        type_code,
        ROTATE
            | STOP
            | FORMAT_DESCRIPTION
            | MYSQL_ANONYMOUS_GTID
            | MYSQL_PREVIOUS_GTIDS
            | MYSQL_GTID_TAGGED
            | BINLOG_CHECKPOINT
            | MARIA_GTID_LIST
    )
}

/// Events a server makes up rather than reads from its files.
pub(crate) fn is_made_up(e: &PyEvent) -> bool {
    e.type_code == HEARTBEAT
        || e.flags & ARTIFICIAL != 0
        || (e.type_code == FORMAT_DESCRIPTION && e.log_pos == 0)
}

fn describe_py(e: &PyEvent) -> String {
    format!(
        "{} ({}) log_pos {} size {} flags 0x{:x}{}",
        e.class,
        e.type_code,
        e.log_pos,
        e.size,
        e.flags,
        e.gtid.as_deref().map(|g| format!(" gtid {g}")).unwrap_or_default()
    )
}

fn describe_stored(e: &StoredEvent) -> String {
    format!(
        "{} ({}) at {}:{} log_pos {} size {}{}",
        event_type_name(e.info.type_code),
        e.info.type_code,
        e.file,
        e.info.offset,
        e.info.log_pos,
        e.info.size,
        e.gtid.as_ref().map(|g| format!(" gtid {g}")).unwrap_or_default()
    )
}

fn counts<I: Iterator<Item = u8>>(types: I) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for t in types {
        *m.entry(format!("{}({t})", event_type_name(t))).or_insert(0) += 1;
    }
    m
}

/// Compares a received stream with the stored events it must hold
/// ([`expected_events`]). Checks, with a report naming the first
/// difference:
/// - the first event is an artificial ROTATE naming `first_file`;
/// - every event arrived whole (its size) and, with `checksums`, with a
///   CRC32 footer that matches its bytes;
/// - leaving out the made-up events ([`is_made_up`]), the events are
///   exactly `expected`: same order, type, size, `log_pos`, and (with
///   `checksums`) the same footer as the stored event.
pub(crate) fn compare_stream(
    received: &[PyEvent],
    expected: &[StoredEvent],
    first_file: &str,
    checksums: bool,
) -> Result<(), String> {
    let mut problems = Vec::new();
    match received.first() {
        Some(e) if e.type_code == ROTATE && e.is_artificial() => {
            if e.next_file.as_deref() != Some(first_file) {
                problems.push(format!(
                    "the first event, an artificial ROTATE, names {:?} (position {:?}), expected \
                     {first_file}",
                    e.next_file, e.position
                ));
            }
        }
        Some(e) => problems.push(format!(
            "the first event is {}, expected an artificial ROTATE to {first_file}",
            describe_py(e)
        )),
        None => problems.push("no event at all was received".to_owned()),
    }
    for (i, e) in received.iter().enumerate() {
        if e.received != e.size {
            problems.push(format!(
                "event #{i} {}: {} bytes received, its header says {}",
                describe_py(e),
                e.received,
                e.size
            ));
        }
        match (checksums, e.crc_ok) {
            (true, Some(true)) | (false, None) => {}
            (true, Some(false)) => problems.push(format!(
                "event #{i} {}: its CRC32 footer does not match its bytes",
                describe_py(e)
            )),
            (true, None) => problems.push(format!(
                "event #{i} {}: the client expected no checksums (the server's \
                 BINLOG_CHECKSUM said NONE?) but the files have CRC32",
                describe_py(e)
            )),
            (false, Some(_)) => problems.push(format!(
                "event #{i} {}: the client expected checksums (the server's BINLOG_CHECKSUM \
                 said CRC32?) but the files have none",
                describe_py(e)
            )),
        }
    }
    let stored_like: Vec<(usize, &PyEvent)> =
        received.iter().enumerate().filter(|(_, e)| !is_made_up(e)).collect();
    let n = stored_like.len().max(expected.len());
    for k in 0..n {
        match (stored_like.get(k), expected.get(k)) {
            (Some((i, got)), Some(want)) => {
                let same = got.type_code == want.info.type_code
                    && got.size == u64::from(want.info.size)
                    && got.log_pos == u64::from(want.info.log_pos)
                    && (!checksums || got.footer == Some(want.footer));
                if !same {
                    problems.push(format!(
                        "stored event #{k} (received #{i}) differs: received {}{}; stored {} \
                         footer {:08x}",
                        describe_py(got),
                        got.footer.map(|f| format!(" footer {f:08x}")).unwrap_or_default(),
                        describe_stored(want),
                        want.footer
                    ));
                    break;
                }
            }
            (Some((i, got)), None) => {
                problems.push(format!(
                    "{} more events than stored, from received #{i}: {}",
                    stored_like.len() - expected.len(),
                    describe_py(got)
                ));
                break;
            }
            (None, Some(want)) => {
                problems.push(format!(
                    "{} stored events missing, from {}",
                    expected.len() - stored_like.len(),
                    describe_stored(want)
                ));
                break;
            }
            (None, None) => unreachable!(),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}\nreceived by type (made-up events left out): {:?}\nexpected by type: {:?}\n\
         made-up events received: {:?}",
        problems.join("\n"),
        counts(stored_like.iter().map(|(_, e)| e.type_code)),
        counts(expected.iter().map(|e| e.info.type_code)),
        received.iter().filter(|e| is_made_up(e)).map(describe_py).collect::<Vec<_>>()
    ))
}

/// The MariaDB type code of ANNOTATE_ROWS (left out unless asked for).
pub(crate) const ANNOTATE_ROWS_TYPE: u8 = ANNOTATE_ROWS;
/// The type code of MariaDB GTID events.
pub(crate) const MARIA_GTID_TYPE: u8 = MARIA_GTID;
/// The type code of MySQL GTID events.
pub(crate) const MYSQL_GTID_TYPE: u8 = MYSQL_GTID;

/// Asserts that a python read that started at `start` received exactly the
/// stored events of `files` in `dir` from there ([`expected_events`],
/// [`compare_stream`]) and ended with the server's EOF. On failure the
/// message holds the report, the command, the library's stderr and
/// `context()` (e.g. the server's log).
#[track_caller]
pub(crate) fn assert_received(
    read: &PyRead,
    dir: &Path,
    files: &[String],
    start: &Start,
    left_out: &[u8],
    checksums: bool,
    context: &dyn Fn() -> String,
) {
    let expected = expected_events(dir, files, start, left_out);
    let first_file = match start {
        Start::Position(file, _) => file.clone(),
        Start::Gtid(state) => {
            let stored: Vec<StoredFile> = files.iter().map(|f| stored_file(dir, f)).collect();
            files[start_file_for(&stored, state)].clone()
        }
    };
    let result = if read.end == "eof" {
        compare_stream(&read.events, &expected, &first_file, checksums)
    } else {
        Err(format!("the read ended with {:?}, not the server's EOF", read.end))
    };
    if let Err(report) = result {
        panic!(
            "python-mysql-replication did not receive the stored events ({start:?}):\n{report}\n\
             command: {}\nlibrary stderr:\n{}\n{}",
            read.command,
            super::tail(&read.stderr, 10),
            context()
        );
    }
    eprintln!(
        "python read {} events ({} stored ones expected) from {first_file} ({start:?})",
        read.events.len(),
        expected.len()
    );
}
