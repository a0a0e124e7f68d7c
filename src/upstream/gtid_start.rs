//! Where `--start-gtid` starts an empty data directory: a GTID dump's
//! first event, the artificial ROTATE, names the primary's file that holds
//! the first transaction after the position; binlogserver then fetches
//! that file whole, from 4 (files are stored whole).

use log::info;

use super::connection::Connection;
use super::dump::{explain_dump_error, set_read_timeout, split_event};
use super::session;
use super::stream::decode_fake_rotate;
use super::{SemiSyncMode, UpstreamConfig, UpstreamError};
use crate::binlog::{BinlogFileName, EventHeader, EventType};
use crate::protocol::response::is_err;
use crate::protocol::{ErrPacket, Reader};

/// Asks the primary `cfg` names where the GTID position `gtid` starts and
/// returns that file.
///
/// # Errors
/// What the connection or the primary says (an unknown position: 1236).
pub(super) fn discover_gtid_start(
    cfg: &UpstreamConfig,
    gtid: &str,
) -> Result<BinlogFileName, UpstreamError> {
    // Not semi-sync: this dump is dropped after its first event, and a
    // semi-sync dump dropped so leaves MariaDB's ACK receiver waiting on it
    // when the real dump (same server id) replaces it.
    let probe = UpstreamConfig { semi_sync: SemiSyncMode::Off, ..cfg.clone() };
    let conn = Connection::connect(&probe)?;
    let mut session = session::prepare(conn, &probe, true)?;
    session.request_gtid_dump(gtid, &probe)?;
    let session_checksum = session.checksum;
    let mut ps = session.conn.into_stream();
    set_read_timeout(ps.get_ref().tcp(), cfg.dead_link_after())?;
    ps.expect_seq(1);
    let mut packet = Vec::new();
    let read = ps.read_packet(&mut packet);
    let _ = ps.get_ref().tcp().shutdown(std::net::Shutdown::Both);
    read?;
    if is_err(&packet) {
        return Err(explain_dump_error(ErrPacket::decode(&mut Reader::new(&packet))?));
    }
    let (event, _) = split_event(&packet, false)?;
    let header = EventHeader::parse(event)?;
    if header.event_type != EventType::ROTATE {
        return Err(UpstreamError::Unexpected {
            expected: "an artificial ROTATE",
            got: header.event_type.0,
        });
    }
    let (_, file) = decode_fake_rotate(event, session_checksum)?;
    info!("gtid position {gtid} starts in file={file}; fetching that file whole");
    Ok(file)
}
