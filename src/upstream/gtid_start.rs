//! Where `--start-gtid` starts an empty data directory: a GTID dump's
//! first event, the artificial ROTATE, names the primary's file that holds
//! the first transaction after the position; binlogserver then fetches
//! that file whole, from 4 (files are stored whole).

use log::info;

use super::connection::Connection;
use super::dump::{explain_dump_error, set_read_timeout, split_event};
use super::session;
use super::stream::decode_fake_rotate;
use super::{UpstreamConfig, UpstreamError};
use crate::binlog::{BinlogFileName, EventHeader, EventType};
use crate::protocol::command::SEMI_SYNC_MAGIC;
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
    let conn = Connection::connect(cfg)?;
    let mut session = session::prepare(conn, cfg, true)?;
    session.request_gtid_dump(gtid, cfg)?;
    let semi = session.semi_sync;
    let session_checksum = session.checksum;
    let mut ps = session.conn.into_stream();
    set_read_timeout(ps.get_ref(), cfg.dead_link_after())?;
    ps.expect_seq(1);
    let mut packet = Vec::new();
    ps.read_packet(&mut packet)?;
    if is_err(&packet) {
        return Err(explain_dump_error(ErrPacket::decode(&mut Reader::new(&packet))?));
    }
    let headers = semi && packet.get(1) == Some(&SEMI_SYNC_MAGIC);
    let (event, _) = split_event(&packet, headers)?;
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
