//! Commands a replica sends: `COM_QUERY`, `COM_REGISTER_SLAVE`,
//! `COM_BINLOG_DUMP`, `COM_BINLOG_DUMP_GTID`, and the semi-sync ACK.
//!
//! docs/protocol.md §4 and §5.4.

use super::error::DecodeError;
use super::reader::Reader;
use super::writer::{put_lenenc_bytes, put_u16, put_u32, put_u64};

/// `COM_QUIT`.
pub const COM_QUIT: u8 = 0x01;
/// `COM_QUERY`.
pub const COM_QUERY: u8 = 0x03;
/// `COM_PING`.
pub const COM_PING: u8 = 0x0e;
/// `COM_BINLOG_DUMP`.
pub const COM_BINLOG_DUMP: u8 = 0x12;
/// `COM_REGISTER_SLAVE`.
pub const COM_REGISTER_SLAVE: u8 = 0x15;
/// `COM_BINLOG_DUMP_GTID` (MySQL only).
pub const COM_BINLOG_DUMP_GTID: u8 = 0x1e;

/// Dump flag: end with EOF at the end of the last binlog instead of waiting.
pub const BINLOG_DUMP_NON_BLOCK: u16 = 0x0001;
/// Dump flag 0x02: MariaDB sends ANNOTATE_ROWS events; MySQL sends HEARTBEAT_V2.
pub const BINLOG_SEND_ANNOTATE_ROWS_EVENT: u16 = 0x0002;

/// Encodes `COM_QUERY`.
pub fn encode_query(sql: &str, out: &mut Vec<u8>) {
    out.push(COM_QUERY);
    out.extend_from_slice(sql.as_bytes());
}

/// `COM_REGISTER_SLAVE`.
///
/// `0x15 | u32 server_id | lenenc host | lenenc user | lenenc password | u16 port |`
/// `u32 rank | u32 master_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComRegisterSlave {
    /// The replica's server id.
    pub server_id: u32,
    /// `report_host`.
    pub host: Vec<u8>,
    /// `report_user`.
    pub user: Vec<u8>,
    /// `report_password`.
    pub password: Vec<u8>,
    /// `report_port`.
    pub port: u16,
    /// Unused rank.
    pub rank: u32,
    /// Unused master id.
    pub master_id: u32,
}

impl ComRegisterSlave {
    /// Encodes the command (command byte included).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(COM_REGISTER_SLAVE);
        put_u32(out, self.server_id);
        put_lenenc_bytes(out, &self.host);
        put_lenenc_bytes(out, &self.user);
        put_lenenc_bytes(out, &self.password);
        put_u16(out, self.port);
        put_u32(out, self.rank);
        put_u32(out, self.master_id);
    }

    /// Decodes the command body (after the command byte).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let server_id = r.u32_le("ComRegisterSlave.server_id")?;
        let host = r.lenenc_bytes("ComRegisterSlave.host")?.to_vec();
        let user = r.lenenc_bytes("ComRegisterSlave.user")?.to_vec();
        let password = r.lenenc_bytes("ComRegisterSlave.password")?.to_vec();
        let port = r.u16_le("ComRegisterSlave.port")?;
        let rank = r.u32_le("ComRegisterSlave.rank")?;
        let master_id = r.u32_le("ComRegisterSlave.master_id")?;
        Ok(ComRegisterSlave { server_id, host, user, password, port, rank, master_id })
    }
}

/// `COM_BINLOG_DUMP`: `0x12 | u32 pos | u16 flags | u32 server_id | file name (rest)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComBinlogDump {
    /// Start position (low 32 bits).
    pub position: u32,
    /// Dump flags.
    pub flags: u16,
    /// The replica's server id (0 = non-blocking).
    pub server_id: u32,
    /// File name; empty = the first file in the index.
    pub file: Vec<u8>,
}

impl ComBinlogDump {
    /// Encodes the command (command byte included).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(COM_BINLOG_DUMP);
        put_u32(out, self.position);
        put_u16(out, self.flags);
        put_u32(out, self.server_id);
        out.extend_from_slice(&self.file);
    }

    /// Decodes the command body (after the command byte).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let position = r.u32_le("ComBinlogDump.binlog_pos")?;
        let flags = r.u16_le("ComBinlogDump.flags")?;
        let server_id = r.u32_le("ComBinlogDump.server_id")?;
        let file = r.rest().to_vec();
        Ok(ComBinlogDump { position, flags, server_id, file })
    }
}

/// `COM_BINLOG_DUMP_GTID` (MySQL):
/// `0x1e | u16 flags | u32 server_id | u32 name_len | name | u64 pos | u32 data_len | data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComBinlogDumpGtid {
    /// Dump flags.
    pub flags: u16,
    /// The replica's server id.
    pub server_id: u32,
    /// File name (usually empty).
    pub file: Vec<u8>,
    /// Position (usually 4).
    pub position: u64,
    /// Encoded GTID set (docs/protocol.md §4.6).
    pub gtid_set: Vec<u8>,
}

impl ComBinlogDumpGtid {
    /// Encodes the command (command byte included).
    #[allow(
        clippy::cast_possible_truncation,
        reason = "file names and GTID sets are far below 4 GiB"
    )]
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(COM_BINLOG_DUMP_GTID);
        put_u16(out, self.flags);
        put_u32(out, self.server_id);
        put_u32(out, self.file.len() as u32);
        out.extend_from_slice(&self.file);
        put_u64(out, self.position);
        put_u32(out, self.gtid_set.len() as u32);
        out.extend_from_slice(&self.gtid_set);
    }

    /// Decodes the command body (after the command byte).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.u16_le("ComBinlogDumpGtid.flags")?;
        let server_id = r.u32_le("ComBinlogDumpGtid.server_id")?;
        let name_len = r.u32_le("ComBinlogDumpGtid.binlog_name_len")?;
        let file = r.bytes(name_len as usize, "ComBinlogDumpGtid.binlog_name")?.to_vec();
        let position = r.u64_le("ComBinlogDumpGtid.binlog_pos")?;
        let data_len = r.u32_le("ComBinlogDumpGtid.data_size")?;
        let gtid_set = r.bytes(data_len as usize, "ComBinlogDumpGtid.data")?.to_vec();
        r.finish("ComBinlogDumpGtid")?;
        Ok(ComBinlogDumpGtid { flags, server_id, file, position, gtid_set })
    }
}

/// The semi-sync magic byte that opens every event packet of a semi-sync dump and every ACK.
pub const SEMI_SYNC_MAGIC: u8 = 0xef;

/// The semi-sync ACK: `0xEF | u64 binlog_pos | file name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemiSyncAck {
    /// End position of the acknowledged event in the primary's file.
    pub position: u64,
    /// The primary's file name.
    pub file: Vec<u8>,
}

impl SemiSyncAck {
    /// Encodes the ACK payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(SEMI_SYNC_MAGIC);
        put_u64(out, self.position);
        out.extend_from_slice(&self.file);
    }

    /// Decodes an ACK payload.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let magic = r.u8("SemiSyncAck.magic")?;
        if magic != SEMI_SYNC_MAGIC {
            return Err(DecodeError::Invalid {
                what: "SemiSyncAck.magic",
                value: u64::from(magic),
            });
        }
        let position = r.u64_le("SemiSyncAck.binlog_pos")?;
        let file = r.rest().to_vec();
        Ok(SemiSyncAck { position, file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_slave_matches_the_kb_example() {
        let cmd = ComRegisterSlave {
            server_id: 10101,
            host: b"slave_n_1".to_vec(),
            port: 23241,
            ..Default::default()
        };
        let mut out = Vec::new();
        cmd.encode(&mut out);
        let want = [
            0x15, 0x75, 0x27, 0, 0, 9, b's', b'l', b'a', b'v', b'e', b'_', b'n', b'_', b'1', 0, 0,
            0xc9, 0x5a, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(out, want);
        let body = &out[1..];
        assert_eq!(ComRegisterSlave::decode(&mut Reader::new(body)).unwrap(), cmd);
        for cut in 0..body.len() {
            assert!(ComRegisterSlave::decode(&mut Reader::new(&body[..cut])).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn binlog_dump_matches_the_computed_example() {
        let cmd = ComBinlogDump {
            position: 4,
            flags: 2,
            server_id: 2,
            file: b"mysql-bin.000001".to_vec(),
        };
        let mut out = Vec::new();
        cmd.encode(&mut out);
        assert_eq!(&out[..11], &[0x12, 4, 0, 0, 0, 2, 0, 2, 0, 0, 0]);
        assert_eq!(ComBinlogDump::decode(&mut Reader::new(&out[1..])).unwrap(), cmd);
        for cut in 0..10 {
            assert!(ComBinlogDump::decode(&mut Reader::new(&out[1..1 + cut])).is_err());
        }
    }

    #[test]
    fn binlog_dump_gtid_round_trips_and_rejects_truncation() {
        let cmd = ComBinlogDumpGtid {
            flags: 2,
            server_id: 2,
            file: Vec::new(),
            position: 4,
            gtid_set: vec![0; 8],
        };
        let mut out = Vec::new();
        cmd.encode(&mut out);
        let body = &out[1..];
        assert_eq!(ComBinlogDumpGtid::decode(&mut Reader::new(body)).unwrap(), cmd);
        for cut in 0..body.len() {
            assert!(ComBinlogDumpGtid::decode(&mut Reader::new(&body[..cut])).is_err());
        }
    }

    #[test]
    fn semi_sync_ack_matches_the_computed_example() {
        let ack = SemiSyncAck { position: 1234, file: b"mysql-bin.000003".to_vec() };
        let mut out = Vec::new();
        ack.encode(&mut out);
        assert_eq!(&out[..9], &[0xef, 0xd2, 0x04, 0, 0, 0, 0, 0, 0]);
        assert_eq!(SemiSyncAck::decode(&mut Reader::new(&out)).unwrap(), ack);
        for cut in 0..9 {
            assert!(SemiSyncAck::decode(&mut Reader::new(&out[..cut])).is_err());
        }
    }
}
