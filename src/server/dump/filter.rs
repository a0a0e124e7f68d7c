//! Which stored events a dump sends, one event at a time: groups skipped
//! for a GTID start (MariaDB `@slave_connect_state`, MySQL
//! COM_BINLOG_DUMP_GTID) and the artificial GTID_LIST after them, events
//! flagged `LOG_EVENT_SKIP_REPLICATION_F` for `SET skip_replication=1`
//! clients, and MariaDB events rewritten or left out for clients below
//! capability 4 ([`super::compat`]).

use super::compat::{for_capability, Compat};
use super::start::{self, Skip};
use super::{DumpError, Stream};
use crate::binlog::{
    ChecksumAlg, EventHeader, EventType, MariaGtid, MariaGtidList, MysqlGtid, TrxBoundary,
    LOG_EVENT_ARTIFICIAL_F,
};
use crate::net::{NetStream, PacketStream};
use crate::protocol::ErrPacket;

/// `LOG_EVENT_SKIP_REPLICATION_F`: filtered for `SET skip_replication=1` clients.
const LOG_EVENT_SKIP_REPLICATION_F: u16 = 0x8000;

impl Stream<'_> {
    pub(super) fn on_event(
        &mut self,
        ps: &mut PacketStream<NetStream>,
        event: &[u8],
        end: u64,
    ) -> Result<(), DumpError> {
        let header = EventHeader::parse(event).map_err(|e| self.refuse(e))?;
        match self.group_start(event, &header)? {
            Some(true) => self.skipping = Some(TrxBoundary::new()),
            Some(false) => {
                self.skipping = None;
                self.after_skipping(ps, end - event.len() as u64)?;
            }
            None => {}
        }
        if let Some(boundary) = self.skipping.as_mut() {
            let fd = self.fd.as_ref().ok_or_else(|| {
                DumpError::Refuse(ErrPacket::new(1236, b"HY000", "event before FD"))
            })?;
            let done = boundary.feed(event, fd);
            if done.map_err(|e| self.refuse(e))? {
                self.skipping = None;
            }
            self.skipped = true;
            return Ok(());
        }
        if header.flags & LOG_EVENT_SKIP_REPLICATION_F != 0 && self.sender.vars.skip_replication() {
            return Ok(());
        }
        let alg = self.alg.unwrap_or(ChecksumAlg::OFF);
        match for_capability(event, header.event_type, self.capability, self.annotate, alg)
            .map_err(|e| self.refuse(e))?
        {
            Compat::AsIs => self.send(ps, event),
            Compat::Rewritten(replacement) => self.send(ps, &replacement),
            Compat::LeftOut => Ok(()),
        }
    }

    /// For GTID positioning: `Some(skip?)` when `event` starts a group.
    fn group_start(
        &mut self,
        event: &[u8],
        header: &EventHeader,
    ) -> Result<Option<bool>, DumpError> {
        let shared = self.sender.shared;
        match (&self.skip, header.event_type) {
            (Skip::Mariadb { .. }, EventType::MARIADB_GTID) => {
                let g = MariaGtid::decode_event(event).map_err(|e| self.refuse(e))?;
                let Skip::Mariadb { start, .. } = &mut self.skip else { return Ok(None) };
                Ok(Some(
                    start
                        .on_group(g.triple(), || start::binlog_state(shared))
                        .map_err(DumpError::Refuse)?,
                ))
            }
            (Skip::Mysql(set), EventType::GTID) => {
                let g = MysqlGtid::decode_event(event).map_err(|e| self.refuse(e))?;
                Ok(Some(set.contains(&g.sid, "", g.gno)))
            }
            _ => Ok(None),
        }
    }

    /// After skipped groups a MariaDB client gets an artificial GTID_LIST
    /// telling its position (as MariaDB's `send_fake_gtid_list`).
    pub(super) fn after_skipping(
        &mut self,
        ps: &mut PacketStream<NetStream>,
        pos: u64,
    ) -> Result<(), DumpError> {
        if !std::mem::take(&mut self.skipped) {
            return Ok(());
        }
        if let Skip::Mariadb { requested, .. } = &self.skip {
            let list = MariaGtidList { gtids: requested.iter().collect(), flags: 0 };
            let alg = self.alg.unwrap_or(ChecksumAlg::OFF);
            let log_pos = u32::try_from(pos).unwrap_or(0);
            let event = list.encode_event(0, self.server_id, log_pos, LOG_EVENT_ARTIFICIAL_F, alg);
            self.send(ps, &event)?;
        }
        Ok(())
    }
}
