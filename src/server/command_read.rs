//! Reading one command after login under its limits: the whole command
//! within `@@net_read_timeout` of its first byte, however it trickles in,
//! and the `max_allowed_packet` of its kind, told from the command byte
//! before any payload is read. The commands replicas send may be large;
//! every other one stays small, so it never draws on the shared budget of
//! half-received commands ([`crate::net::MemoryBudget`]).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::net::{NetError, PacketStream};
use crate::protocol::command::{
    COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID, COM_QUERY, COM_REGISTER_SLAVE,
};
use crate::protocol::packet::PacketHeader;

/// Largest command a client may send (`@@max_allowed_packet`): one of
/// those replicas send (`COM_QUERY`, `COM_REGISTER_SLAVE`,
/// `COM_BINLOG_DUMP`, `COM_BINLOG_DUMP_GTID`).
pub const MAX_COMMAND: usize = 16 << 20;
/// The `max_allowed_packet` of every other command (`COM_PING`,
/// `COM_INIT_DB`, and the ones refused as unknown).
pub const MAX_OTHER_COMMAND: usize = 64 << 10;

/// True for the commands replicas send, which may be as large as
/// [`MAX_COMMAND`].
pub fn is_replica_command(command: u8) -> bool {
    matches!(command, COM_QUERY | COM_REGISTER_SLAVE | COM_BINLOG_DUMP | COM_BINLOG_DUMP_GTID)
}

/// Reads the command that has started arriving on `ps` into `packet`,
/// whole within `timeout` (the caller sets the socket's own read timeout
/// to it too), under the cap of its kind; a command over it fails with
/// [`crate::protocol::DecodeError::TooLarge`] before its payload is read.
pub fn read_command<S: Read + Write>(
    ps: &mut PacketStream<S>,
    packet: &mut Vec<u8>,
    timeout: Duration,
) -> Result<(), NetError> {
    ps.set_read_deadline(Some(Instant::now() + timeout));
    let result = read_capped(ps, packet);
    ps.set_read_deadline(None);
    result
}

fn read_capped<S: Read + Write>(
    ps: &mut PacketStream<S>,
    packet: &mut Vec<u8>,
) -> Result<(), NetError> {
    let empty = ps.peek(PacketHeader::LEN)?.get(..3) == Some(&[0, 0, 0]);
    let command =
        if empty { None } else { ps.peek(PacketHeader::LEN + 1)?.get(PacketHeader::LEN).copied() };
    ps.set_max_payload(match command {
        Some(c) if is_replica_command(c) => MAX_COMMAND,
        _ => MAX_OTHER_COMMAND,
    });
    ps.read_packet(packet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::packet::encode_packets;
    use crate::protocol::DecodeError;
    use std::io::{self, Cursor};

    /// Reads from a buffer; writes go nowhere.
    struct Input(Cursor<Vec<u8>>);

    impl Read for Input {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for Input {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn read(payload: &[u8]) -> Result<Vec<u8>, NetError> {
        let mut wire = Vec::new();
        encode_packets(payload, &mut 0, &mut wire);
        let mut ps = PacketStream::new(Input(Cursor::new(wire)), 1);
        let mut out = Vec::new();
        read_command(&mut ps, &mut out, Duration::from_secs(5)).map(|()| out)
    }

    #[test]
    fn replica_commands_may_be_large_and_others_stay_small() {
        let mut query = vec![COM_QUERY];
        query.resize(1 << 20, b' ');
        assert_eq!(read(&query).unwrap().len(), 1 << 20);
        let mut ping = vec![0x0e];
        ping.resize(MAX_OTHER_COMMAND, 0);
        assert_eq!(read(&ping).unwrap().len(), MAX_OTHER_COMMAND);
        ping.push(0);
        let err = read(&ping).unwrap_err();
        assert!(matches!(err, NetError::Decode(DecodeError::TooLarge { .. })), "{err:?}");
        assert_eq!(read(&[]).unwrap(), b"", "an empty packet has no command byte");
        for c in [COM_QUERY, COM_REGISTER_SLAVE, COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID] {
            assert!(is_replica_command(c));
        }
        assert!(!is_replica_command(0x02) && !is_replica_command(0x0e));
    }

    #[test]
    fn a_passed_deadline_fails_the_read_and_is_lifted_after_it() {
        let mut wire = Vec::new();
        encode_packets(b"\x03SELECT 1", &mut 0, &mut wire);
        let mut ps = PacketStream::new(Input(Cursor::new(wire)), 1);
        let mut out = Vec::new();
        let err = read_command(&mut ps, &mut out, Duration::ZERO).unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
    }
}
