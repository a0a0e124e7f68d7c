//! What to do with each event of the primary's stream: the decisions of
//! the dump thread, kept free of I/O so they can be tested event by event.
//!
//! The stream of a file/position dump is: an artificial ROTATE naming the
//! file and start position, the file's FORMAT_DESCRIPTION (re-sent with
//! `log_pos` 0 when starting mid-file), then the file's events; at the end
//! of a file its real ROTATE, then the same prologue for the next file.
//! Heartbeats may come at any time. Only events that are in the primary's
//! file are stored, so the stored files stay byte-identical.
//!
//! Every connection resumes at the start of the last stored event, not at
//! its end: the primary must send that event again, unchanged, before
//! anything is appended. This proves that the primary's history still is
//! ours (no RESET MASTER, no other server behind the address) however
//! quickly a same-named file was recreated.
//!
//! A switch to a promoted primary ([`StreamState::switch_to`]) is the one
//! exception: the new primary does not have our files, so the connection
//! asks for its new file at 4 without the overlap, once the switch was
//! checked ([`super::switch`]), and the new file may follow a last file
//! that ends without a ROTATE (the old primary crashed) or whose ROTATE
//! names a file the old primary never sent.

use super::UpstreamError;
use crate::binlog::{
    verify_event, BinlogFileName, ChecksumAlg, EventHeader, EventType, FormatDescription, Rotate,
};
use crate::storage::recovery::{EventSample, Tail};

/// Decodes an artificial ROTATE: its CRC is present when the session's
/// checksum (`negotiated`) says so, and MariaDB adds one at later file
/// switches even for 'NONE' sessions, so a valid CRC is taken as present.
pub fn decode_fake_rotate(
    event: &[u8],
    negotiated: ChecksumAlg,
) -> Result<(Rotate, BinlogFileName), UpstreamError> {
    let alg = if verify_event(event, ChecksumAlg::CRC32).is_ok() {
        ChecksumAlg::CRC32
    } else if negotiated.has_crc() {
        verify_event(event, ChecksumAlg::CRC32)?;
        ChecksumAlg::CRC32
    } else {
        ChecksumAlg::OFF
    };
    let rotate = Rotate::decode_event(event, alg)?;
    let name = BinlogFileName::new(&rotate.next_file)?;
    Ok((rotate, name))
}

/// The decision for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Not part of the file (heartbeat, artificial event, re-sent FD).
    Skip,
    /// Switch the writer to `file` (creating it when `create`), then skip this event.
    Open {
        /// The file.
        file: BinlogFileName,
        /// Whether it is new.
        create: bool,
    },
    /// Append the event; the file then ends at `end`.
    Store {
        /// File offset after the event.
        end: u64,
    },
}

/// Where we are in the primary's binlogs.
#[derive(Debug, Clone)]
pub struct StreamState {
    file: Option<BinlogFileName>,
    pos: u64,
    fd: Option<Vec<u8>>,
    alg: ChecksumAlg,
    rotated_to: Option<BinlogFileName>,
    negotiated: ChecksumAlg,
    start_file: Option<BinlogFileName>,
    /// The last stored event, re-requested on every connection.
    last: Option<EventSample>,
    /// The event the primary must send again before we append.
    overlap: Option<EventSample>,
    /// A checked switch to this file of a new primary, until it begins.
    switch: Option<BinlogFileName>,
}

impl StreamState {
    /// State for resuming after `tail` (or from nothing).
    pub fn resume(tail: Option<&Tail>) -> Self {
        let mut state = StreamState {
            file: None,
            pos: 0,
            fd: None,
            alg: ChecksumAlg::OFF,
            rotated_to: None,
            negotiated: ChecksumAlg::OFF,
            start_file: None,
            last: None,
            overlap: None,
            switch: None,
        };
        if let Some(t) = tail {
            state.file = Some(t.file.clone());
            state.pos = t.len;
            state.rotated_to = t.rotated_to.clone();
            state.last = t.last_event.clone();
            if let Some(fd) = &t.fd {
                state.alg = FormatDescription::decode_event(fd)
                    .map(|f| f.checksum_alg)
                    .unwrap_or(ChecksumAlg::OFF);
                state.fd = Some(fd.clone());
            }
        }
        state
    }

    /// For an empty data directory: start with this file instead of the oldest.
    pub fn set_start_file(&mut self, file: BinlogFileName) {
        self.start_file = Some(file);
    }

    /// Continue with `file` of a new primary: after our last file (the
    /// switch, to be checked first: [`StreamState::pending_switch`]), or,
    /// in an empty data directory, as the start file.
    pub fn switch_to(&mut self, file: BinlogFileName) {
        if self.file.is_some() {
            self.switch = Some(file);
        } else {
            self.start_file = Some(file);
        }
    }

    /// Forgets a switch or start file not begun yet (`RESET SLAVE`, or a
    /// new upstream without `MASTER_LOG_FILE`).
    pub fn clear_switch(&mut self) {
        self.switch = None;
        self.start_file = None;
    }

    /// The switch not begun yet: the new primary's file, and our last file
    /// and its end, which it must continue.
    pub fn pending_switch(&self) -> Option<(&BinlogFileName, (&BinlogFileName, u64))> {
        Some((self.switch.as_ref()?, (self.file.as_ref()?, self.pos)))
    }

    /// The file and position to ask the primary for (empty name = its oldest file).
    pub fn dump_request(&self) -> (Vec<u8>, u64) {
        if let Some(f) = &self.switch {
            return (f.as_str().as_bytes().to_vec(), 4);
        }
        match (&self.file, &self.start_file) {
            (Some(f), _) => (
                f.as_str().as_bytes().to_vec(),
                self.overlap.as_ref().map_or(self.pos, |o| o.offset),
            ),
            (None, Some(f)) => (f.as_str().as_bytes().to_vec(), 4),
            (None, None) => (Vec::new(), 4),
        }
    }

    /// Current file and end position (everything stored or queued for storage).
    pub fn position(&self) -> Option<(&BinlogFileName, u64)> {
        self.file.as_ref().map(|f| (f, self.pos))
    }

    /// Starts a new connection whose negotiated checksum is `alg`.
    pub fn start_connection(&mut self, alg: ChecksumAlg) {
        self.negotiated = alg;
        // The new primary of a switch does not have our last event.
        self.overlap = if self.switch.is_some() { None } else { self.last.clone() };
    }

    /// Decides what to do with one event (the bytes after the status byte and semi-sync header).
    pub fn on_event(&mut self, event: &[u8]) -> Result<Action, UpstreamError> {
        let header = EventHeader::parse(event)?;
        if header.event_len as usize != event.len() {
            return Err(UpstreamError::Decode(crate::protocol::DecodeError::Invalid {
                what: "event_len",
                value: u64::from(header.event_len),
            }));
        }
        let t = header.event_type;
        if t == EventType::ROTATE && (header.is_artificial() || header.log_pos == 0) {
            return self.on_fake_rotate(event);
        }
        if t == EventType::HEARTBEAT || t == EventType::HEARTBEAT_V2 || header.is_artificial() {
            return Ok(Action::Skip);
        }
        if let Some(overlap) = self.overlap.take() {
            return self.on_overlap(event, overlap);
        }
        if t == EventType::FORMAT_DESCRIPTION {
            return self.on_format_description(event);
        }
        if t == EventType::START_ENCRYPTION {
            // The primary decrypts before sending, so the stored file could
            // never equal its file.
            return Err(UpstreamError::Unsupported(
                "the primary encrypts its binlogs (encrypt_binlog=ON); binlogserver stores \
                 byte-identical copies and cannot do so for encrypted binlogs"
                    .into(),
            ));
        }
        let Some(file) = &self.file else {
            return Err(UpstreamError::Unexpected {
                expected: "an artificial ROTATE first",
                got: t.0,
            });
        };
        if self.fd.is_none() {
            return Err(UpstreamError::HistoryMismatch(format!(
                "{file} has no format description before event {t}"
            )));
        }
        verify_event(event, self.alg)?;
        let end = self.pos + event.len() as u64;
        if header.log_pos != 0 && u64::from(header.log_pos) != end & 0xffff_ffff {
            return Err(UpstreamError::HistoryMismatch(format!(
                "event {t} in {file} ends at {} on the primary but at {end} here",
                header.log_pos
            )));
        }
        if t == EventType::ROTATE {
            let rotate = Rotate::decode_event(event, self.alg)?;
            self.rotated_to = Some(BinlogFileName::new(&rotate.next_file)?);
        }
        self.last = EventSample::of(self.pos, event);
        self.pos = end;
        Ok(Action::Store { end })
    }

    /// The first events after a resume: the re-sent FD (mid-file), then the
    /// last stored event, which must come back unchanged.
    fn on_overlap(&mut self, event: &[u8], overlap: EventSample) -> Result<Action, UpstreamError> {
        let file = self.file.as_ref().map(BinlogFileName::as_str).unwrap_or_default().to_owned();
        let header = EventHeader::parse(event)?;
        if header.event_type == EventType::FORMAT_DESCRIPTION && overlap.offset != 4 {
            self.overlap = Some(overlap);
            return self.on_format_description(event);
        }
        if !overlap.matches(event) {
            return Err(UpstreamError::HistoryMismatch(format!(
                "the primary's {file} holds another event at {} ({} of {} bytes, created {}) than \
                 the stored one ({} bytes); was RESET MASTER run or is another server behind the \
                 address?",
                overlap.offset,
                header.event_type,
                event.len(),
                header.timestamp,
                overlap.len
            )));
        }
        Ok(Action::Skip)
    }

    fn on_fake_rotate(&mut self, event: &[u8]) -> Result<Action, UpstreamError> {
        let (rotate, name) = decode_fake_rotate(event, self.negotiated)?;
        if let Some(switch) = &self.switch {
            if *switch != name || rotate.position != 4 {
                return Err(UpstreamError::HistoryMismatch(format!(
                    "the new primary sends {name} at {} where binlogserver asked for {switch} at 4",
                    rotate.position
                )));
            }
            self.switch = None;
            self.begin_file(name.clone());
            return Ok(Action::Open { file: name, create: true });
        }
        match &self.file {
            Some(cur) if *cur == name => {
                let expected = self.overlap.as_ref().map_or(self.pos, |o| o.offset);
                if rotate.position != expected {
                    return Err(UpstreamError::HistoryMismatch(format!(
                        "primary resumes {name} at {} but binlogserver asked for {expected}",
                        rotate.position
                    )));
                }
                Ok(Action::Open { file: name, create: false })
            }
            Some(cur) => {
                let expected_next = self
                    .rotated_to
                    .as_ref()
                    .map_or(name.sequence() > cur.sequence(), |n| *n == name);
                if rotate.position != 4 || !expected_next || name.basename() != cur.basename() {
                    return Err(UpstreamError::HistoryMismatch(format!(
                        "primary continues with {name} at {} after {cur}, which ends at {}{}",
                        rotate.position,
                        self.pos,
                        self.rotated_to
                            .as_ref()
                            .map(|n| format!(" and rotates to {n}"))
                            .unwrap_or_default()
                    )));
                }
                self.begin_file(name.clone());
                Ok(Action::Open { file: name, create: true })
            }
            None => {
                if rotate.position != 4 {
                    return Err(UpstreamError::Unsupported(format!(
                        "primary starts {name} at {}; binlogserver stores whole files from \
                         position 4",
                        rotate.position
                    )));
                }
                self.begin_file(name.clone());
                Ok(Action::Open { file: name, create: true })
            }
        }
    }

    fn begin_file(&mut self, name: BinlogFileName) {
        self.file = Some(name);
        self.pos = 4;
        self.fd = None;
        self.rotated_to = None;
        // Nothing of the new file is stored yet: a reconnect before its
        // format description asks for it at 4, without an overlap.
        self.last = None;
    }

    fn on_format_description(&mut self, event: &[u8]) -> Result<Action, UpstreamError> {
        let fd = FormatDescription::decode_event(event)?;
        let Some(file) = &self.file else {
            return Err(UpstreamError::Unexpected {
                expected: "an artificial ROTATE first",
                got: 15,
            });
        };
        if self.pos == 4 {
            verify_event(event, fd.checksum_alg)?;
            self.alg = fd.checksum_alg;
            self.fd = Some(event.to_vec());
            self.last = EventSample::of(4, event);
            self.pos += event.len() as u64;
            return Ok(Action::Store { end: self.pos });
        }
        // Re-sent for a mid-file start: it must be the one stored.
        match &self.fd {
            Some(stored) if FormatDescription::same_origin(stored, event) => Ok(Action::Skip),
            _ => Err(UpstreamError::HistoryMismatch(format!(
                "the primary's {file} has another format description (created {}, server {}) than \
                 the stored one; was RESET MASTER run or is another server behind the address?",
                EventHeader::parse(event).map(|h| h.timestamp).unwrap_or_default(),
                fd.server_version
            ))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::binlog::checksum::compute_event_crc;
    use crate::binlog::scan::walk;
    use crate::binlog::LOG_EVENT_ARTIFICIAL_F;

    const FIXTURE: &[u8] =
        include_bytes!("../../tests/fixtures/binlogs/mysql_common/mariadb-bin.000001");

    fn name(s: &str) -> BinlogFileName {
        BinlogFileName::new(s).unwrap()
    }

    fn fake_rotate(file: &str, position: u64) -> Vec<u8> {
        Rotate { position, next_file: file.as_bytes().to_vec() }.encode_event(
            0,
            1,
            0,
            LOG_EVENT_ARTIFICIAL_F,
            ChecksumAlg::CRC32,
        )
    }

    fn events() -> Vec<(u64, Vec<u8>, bool)> {
        walk(FIXTURE).map(|e| (e.offset, e.bytes.to_vec(), e.at_boundary)).collect()
    }

    fn set_crc(event: &mut [u8]) {
        let crc = compute_event_crc(event).unwrap();
        let n = event.len();
        event[n - 4..].copy_from_slice(&crc.to_le_bytes());
    }

    /// The FD as a primary re-sends it for a mid-file start: log_pos 0, created 0.
    fn resent_fd(fd: &[u8]) -> Vec<u8> {
        let mut fd = fd.to_vec();
        fd[13..17].copy_from_slice(&[0; 4]);
        fd[19 + 52..19 + 56].copy_from_slice(&[0; 4]);
        set_crc(&mut fd);
        fd
    }

    #[test]
    fn stores_every_event_of_a_fresh_file_at_its_offset() {
        let mut s = StreamState::resume(None);
        s.start_connection(ChecksumAlg::CRC32);
        assert_eq!(s.dump_request(), (Vec::new(), 4));
        let open = s.on_event(&fake_rotate("mariadb-bin.000001", 4)).unwrap();
        assert_eq!(open, Action::Open { file: name("mariadb-bin.000001"), create: true });
        for (offset, ev, _) in events() {
            let want = Action::Store { end: offset + ev.len() as u64 };
            assert_eq!(s.on_event(&ev).unwrap(), want, "event at {offset}");
        }
        assert_eq!(s.position().map(|(_, p)| p), Some(FIXTURE.len() as u64));
    }

    /// A tail ending after the last complete transaction of the fixture but one.
    #[allow(clippy::type_complexity)]
    fn tail_at_a_boundary() -> (Tail, Vec<(u64, Vec<u8>, bool)>, usize) {
        let all = events();
        let idx =
            all.iter().rposition(|(o, _, b)| *b && (*o as usize) < FIXTURE.len() - 200).unwrap();
        let (offset, ev, _) = &all[idx];
        let tail = Tail {
            file: name("mariadb-bin.000001"),
            len: offset + ev.len() as u64,
            fd: Some(all[0].1.clone()),
            rotated_to: None,
            last_event: EventSample::of(*offset, ev),
        };
        (tail, all, idx)
    }

    #[test]
    fn resumes_at_the_last_stored_event_and_checks_it_comes_again() {
        let (tail, all, idx) = tail_at_a_boundary();
        let mut s = StreamState::resume(Some(&tail));
        s.start_connection(ChecksumAlg::CRC32);
        let last_offset = all[idx].0;
        assert_eq!(s.dump_request(), (b"mariadb-bin.000001".to_vec(), last_offset));
        let open = s.on_event(&fake_rotate("mariadb-bin.000001", last_offset)).unwrap();
        assert_eq!(open, Action::Open { file: name("mariadb-bin.000001"), create: false });
        assert_eq!(s.on_event(&resent_fd(&all[0].1)).unwrap(), Action::Skip);
        assert_eq!(
            s.on_event(&all[idx].1).unwrap(),
            Action::Skip,
            "the overlap event is not stored twice"
        );
        for (offset, ev, _) in &all[idx + 1..] {
            assert_eq!(s.on_event(ev).unwrap(), Action::Store { end: offset + ev.len() as u64 });
        }
        // A reconnect asks for the new last event.
        s.start_connection(ChecksumAlg::CRC32);
        assert_eq!(s.dump_request().1, all.last().unwrap().0);
    }

    #[test]
    fn refuses_a_primary_whose_history_differs() {
        let (tail, all, idx) = tail_at_a_boundary();
        let last_offset = all[idx].0;
        // The primary resumes at another position than asked.
        let mut s = StreamState::resume(Some(&tail));
        s.start_connection(ChecksumAlg::CRC32);
        let err = s.on_event(&fake_rotate("mariadb-bin.000001", last_offset + 1)).unwrap_err();
        assert!(matches!(err, UpstreamError::HistoryMismatch(_)), "{err}");
        // Same position, but a format description of another file (RESET MASTER).
        let mut s = StreamState::resume(Some(&tail));
        s.start_connection(ChecksumAlg::CRC32);
        s.on_event(&fake_rotate("mariadb-bin.000001", last_offset)).unwrap();
        let mut other = resent_fd(&all[0].1);
        other[0] ^= 1;
        set_crc(&mut other);
        assert!(matches!(s.on_event(&other), Err(UpstreamError::HistoryMismatch(_))));
        // Same FD, but another event where our last one was (a same-second reset).
        let mut s = StreamState::resume(Some(&tail));
        s.start_connection(ChecksumAlg::CRC32);
        s.on_event(&fake_rotate("mariadb-bin.000001", last_offset)).unwrap();
        s.on_event(&resent_fd(&all[0].1)).unwrap();
        let mut changed = all[idx].1.clone();
        changed[19] ^= 1;
        set_crc(&mut changed);
        let err = s.on_event(&changed).unwrap_err();
        assert!(err.to_string().contains("another event"), "{err}");
        // A different file without a rotation to it, mid-file.
        let mut s = StreamState::resume(Some(&tail));
        s.start_connection(ChecksumAlg::CRC32);
        assert!(matches!(
            s.on_event(&fake_rotate("mariadb-bin.000007", 300)),
            Err(UpstreamError::HistoryMismatch(_))
        ));
    }

    #[test]
    fn rejects_a_corrupt_event_and_a_broken_position_chain() {
        let all = events();
        let mut s = StreamState::resume(None);
        s.on_event(&fake_rotate("mariadb-bin.000001", 4)).unwrap();
        s.on_event(&all[0].1).unwrap();
        let mut bad = all[1].1.clone();
        bad[20] ^= 0xff;
        assert!(matches!(s.on_event(&bad), Err(UpstreamError::Decode(_))));
        let mut moved = all[1].1.clone();
        moved[13] = moved[13].wrapping_add(1);
        set_crc(&mut moved);
        assert!(matches!(s.on_event(&moved), Err(UpstreamError::HistoryMismatch(_))));
    }

    #[test]
    fn skips_heartbeats_and_artificial_events() {
        let mut s = StreamState::resume(None);
        s.on_event(&fake_rotate("mariadb-bin.000001", 4)).unwrap();
        s.on_event(&events()[0].1).unwrap();
        let mut hb = Vec::new();
        EventHeader {
            timestamp: 0,
            event_type: EventType::HEARTBEAT,
            server_id: 1,
            event_len: 19 + 18 + 4,
            log_pos: 256,
            flags: 0,
        }
        .encode(&mut hb);
        hb.extend_from_slice(b"mariadb-bin.000001");
        hb.extend_from_slice(&crate::binlog::crc32(&hb).to_le_bytes());
        assert_eq!(s.on_event(&hb).unwrap(), Action::Skip);
        assert_eq!(s.position().map(|(_, p)| p), Some(256));
    }

    #[test]
    fn follows_a_rotation_to_the_named_file_only() {
        let mut s = StreamState::resume(None);
        s.on_event(&fake_rotate("mariadb-bin.000001", 4)).unwrap();
        s.on_event(&events()[0].1).unwrap();
        let pos = s.position().unwrap().1;
        let real = Rotate { position: 4, next_file: b"mariadb-bin.000002".to_vec() }.encode_event(
            1_700_000_000,
            1,
            (pos + 19 + 8 + 18 + 4) as u32,
            0,
            ChecksumAlg::CRC32,
        );
        assert!(matches!(s.on_event(&real).unwrap(), Action::Store { .. }));
        let mut wrong = s.clone();
        assert!(wrong.on_event(&fake_rotate("mariadb-bin.000003", 4)).is_err());
        let open = s.on_event(&fake_rotate("mariadb-bin.000002", 4)).unwrap();
        assert_eq!(open, Action::Open { file: name("mariadb-bin.000002"), create: true });
    }
}
