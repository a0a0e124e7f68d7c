//! The connection phase: `HandshakeV10`, `HandshakeResponse41` and
//! `AuthSwitchRequest`.
//!
//! Layouts: docs/protocol.md §3 (MySQL `send_server_handshake_packet`, MariaDB
//! `sql_acl.cc`), <https://mariadb.com/kb/en/connection/>.

use super::error::DecodeError;
use super::flags::CapabilityFlags;
use super::reader::Reader;
use super::writer::{put_lenenc_bytes, put_lenenc_int, put_nul_terminated, put_u16, put_u32};

/// The largest first packet a server sends: a greeting (about 100 bytes)
/// or the ERR it sends instead (`Too many connections`, a blocked host).
const MAX_FIRST_PACKET: u32 = 16 << 10;

/// False when `first` (the first bytes a server sent, any number) cannot be
/// the start of a MySQL/MariaDB connection: a packet header with sequence
/// id 0 and a modest length, then protocol version 10 or an ERR (0xff).
/// Another service's opening (`SSH-2.0-…`, `HTTP/1.1 400 …`) reads as a
/// multi-megabyte packet with a letter for its sequence id. Fewer than five
/// bytes cannot tell: true.
pub fn could_start_greeting(first: &[u8]) -> bool {
    let mut r = Reader::new(first);
    let (Ok(len), Ok(seq), Ok(kind)) = (
        r.u24_le("packet length"),
        r.u8("packet sequence id"),
        r.u8("HandshakeV10.protocol_version"),
    ) else {
        return true;
    };
    seq == 0 && (1..=MAX_FIRST_PACKET).contains(&len) && (kind == 10 || kind == 0xff)
}

/// The server greeting, protocol version 10.
///
/// ```text
/// u8 protocol_version (10) | server_version NUL | u32 connection_id
/// 8 bytes auth_plugin_data_part_1 | 0x00 | u16 capabilities (low)
/// u8 character_set | u16 status_flags | u16 capabilities (high)
/// u8 auth_plugin_data_len | 6 x 0x00 | u32 MariaDB extended capabilities
/// auth_plugin_data_part_2 (max(13, len - 8) bytes, NUL-terminated) | auth_plugin_name NUL
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeV10 {
    /// Server version string, e.g. `5.5.5-10.11.19-MariaDB-log` or `8.0.41`.
    pub server_version: Vec<u8>,
    /// The connection id (the target of `KILL`).
    pub connection_id: u32,
    /// The scramble (nonce) without its terminating NUL, normally 20 bytes.
    pub scramble: Vec<u8>,
    /// Server capabilities.
    pub capabilities: CapabilityFlags,
    /// Default collation id.
    pub character_set: u8,
    /// Server status flags.
    pub status_flags: u16,
    /// MariaDB extended capabilities (bits 32-63), 0 for MySQL.
    pub mariadb_capabilities: u32,
    /// Default authentication plugin.
    pub auth_plugin_name: Vec<u8>,
}

impl HandshakeV10 {
    /// True for a MariaDB server (by its version string).
    pub fn is_mariadb(&self) -> bool {
        self.server_version.windows(7).any(|w| w == b"MariaDB")
    }

    /// The version without MariaDB's `5.5.5-` replication prefix.
    pub fn version(&self) -> &[u8] {
        self.server_version.strip_prefix(b"5.5.5-").unwrap_or(&self.server_version)
    }

    /// Decodes a greeting.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let protocol = r.u8("HandshakeV10.protocol_version")?;
        if protocol != 10 {
            return Err(DecodeError::Invalid {
                what: "HandshakeV10.protocol_version",
                value: u64::from(protocol),
            });
        }
        let server_version = r.nul_terminated("HandshakeV10.server_version")?.to_vec();
        let connection_id = r.u32_le("HandshakeV10.connection_id")?;
        let mut scramble = r.bytes(8, "HandshakeV10.auth_plugin_data_part_1")?.to_vec();
        r.skip(1, "HandshakeV10.filler")?;
        let caps_low = r.u16_le("HandshakeV10.capability_flags_1")?;
        let character_set = r.u8("HandshakeV10.character_set")?;
        let status_flags = r.u16_le("HandshakeV10.status_flags")?;
        let caps_high = r.u16_le("HandshakeV10.capability_flags_2")?;
        let capabilities = CapabilityFlags(u32::from(caps_low) | u32::from(caps_high) << 16);
        let data_len = r.u8("HandshakeV10.auth_plugin_data_len")?;
        r.skip(6, "HandshakeV10.reserved")?;
        let mariadb_capabilities = r.u32_le("HandshakeV10.mariadb_capabilities")?;
        let part2_len = usize::from(data_len).saturating_sub(8).max(13);
        let part2 = r.bytes(part2_len, "HandshakeV10.auth_plugin_data_part_2")?;
        // The last byte of part 2 is the scramble's terminating NUL.
        scramble.extend_from_slice(part2.strip_suffix(&[0]).unwrap_or(part2));
        let auth_plugin_name =
            if capabilities.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) && !r.is_empty() {
                let rest = r.rest();
                rest.strip_suffix(&[0]).unwrap_or(rest).to_vec()
            } else {
                b"mysql_native_password".to_vec()
            };
        Ok(HandshakeV10 {
            server_version,
            connection_id,
            scramble,
            capabilities,
            character_set,
            status_flags,
            mariadb_capabilities,
            auth_plugin_name,
        })
    }

    /// Encodes a greeting (the scramble must be 20 bytes).
    #[allow(
        clippy::cast_possible_truncation,
        reason = "splitting the 32-bit flags; the scramble is 20 bytes"
    )]
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(10);
        put_nul_terminated(out, &self.server_version);
        put_u32(out, self.connection_id);
        let (part1, part2) = self.scramble.split_at(self.scramble.len().min(8));
        out.extend_from_slice(part1);
        out.push(0);
        put_u16(out, self.capabilities.0 as u16);
        out.push(self.character_set);
        put_u16(out, self.status_flags);
        put_u16(out, (self.capabilities.0 >> 16) as u16);
        out.push((self.scramble.len() + 1) as u8);
        out.extend_from_slice(&[0; 6]);
        put_u32(out, self.mariadb_capabilities);
        out.extend_from_slice(part2);
        out.resize(out.len() + 13usize.saturating_sub(part2.len()), 0);
        put_nul_terminated(out, &self.auth_plugin_name);
    }
}

/// The client's answer to the greeting.
///
/// ```text
/// u32 client_flag | u32 max_packet_size | u8 charset | 23 x 0x00 | username NUL
/// auth_response (lenenc with PLUGIN_AUTH_LENENC_CLIENT_DATA, else u8 length)
/// [database NUL if CONNECT_WITH_DB] [plugin name NUL if PLUGIN_AUTH]
/// [lenenc attrs length, (lenenc key, lenenc value)* if CONNECT_ATTRS]
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse41 {
    /// Client capabilities.
    pub capabilities: CapabilityFlags,
    /// Largest packet the client accepts.
    pub max_packet_size: u32,
    /// Client collation id.
    pub character_set: u8,
    /// User name.
    pub username: Vec<u8>,
    /// Scrambled password.
    pub auth_response: Vec<u8>,
    /// Initial schema, if any.
    pub database: Option<Vec<u8>>,
    /// Client authentication plugin.
    pub auth_plugin_name: Option<Vec<u8>>,
    /// Connection attributes.
    pub connect_attrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl HandshakeResponse41 {
    /// Encodes the response.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "without LENENC_CLIENT_DATA the reply is a 20 or 32 byte scramble"
    )]
    pub fn encode(&self, out: &mut Vec<u8>) {
        let caps = self.capabilities;
        put_u32(out, caps.0);
        put_u32(out, self.max_packet_size);
        out.push(self.character_set);
        out.extend_from_slice(&[0; 23]);
        put_nul_terminated(out, &self.username);
        if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
            put_lenenc_bytes(out, &self.auth_response);
        } else {
            out.push(self.auth_response.len() as u8);
            out.extend_from_slice(&self.auth_response);
        }
        if caps.contains(CapabilityFlags::CLIENT_CONNECT_WITH_DB) {
            put_nul_terminated(out, self.database.as_deref().unwrap_or_default());
        }
        if caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) {
            put_nul_terminated(out, self.auth_plugin_name.as_deref().unwrap_or_default());
        }
        if caps.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS) {
            let mut attrs = Vec::new();
            for (k, v) in &self.connect_attrs {
                put_lenenc_bytes(&mut attrs, k);
                put_lenenc_bytes(&mut attrs, v);
            }
            put_lenenc_int(out, attrs.len() as u64);
            out.extend_from_slice(&attrs);
        }
    }

    /// Decodes a response.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let capabilities = CapabilityFlags(r.u32_le("HandshakeResponse41.client_flag")?);
        if !capabilities.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
            return Err(DecodeError::Invalid {
                what: "HandshakeResponse41.client_flag",
                value: u64::from(capabilities.0),
            });
        }
        let max_packet_size = r.u32_le("HandshakeResponse41.max_packet_size")?;
        let character_set = r.u8("HandshakeResponse41.character_set")?;
        r.skip(23, "HandshakeResponse41.filler")?;
        let username = r.nul_terminated("HandshakeResponse41.username")?.to_vec();
        let auth_response =
            if capabilities.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
                r.lenenc_bytes("HandshakeResponse41.auth_response")?
            } else {
                let n = r.u8("HandshakeResponse41.auth_response_length")?;
                r.bytes(usize::from(n), "HandshakeResponse41.auth_response")?
            }
            .to_vec();
        let mut database = None;
        if capabilities.contains(CapabilityFlags::CLIENT_CONNECT_WITH_DB) && !r.is_empty() {
            database = Some(r.nul_terminated("HandshakeResponse41.database")?.to_vec());
        }
        let mut auth_plugin_name = None;
        if capabilities.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) && !r.is_empty() {
            auth_plugin_name =
                Some(r.nul_terminated("HandshakeResponse41.client_plugin_name")?.to_vec());
        }
        let mut connect_attrs = Vec::new();
        if capabilities.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS) && !r.is_empty() {
            let len = r.lenenc_int("HandshakeResponse41.attrs_length")?;
            let len = usize::try_from(len).map_err(|_| DecodeError::TooLarge {
                what: "HandshakeResponse41.attrs_length",
                len,
                max: u64::from(u32::MAX),
            })?;
            let mut attrs = r.sub(len, "HandshakeResponse41.attrs")?;
            while !attrs.is_empty() {
                let k = attrs.lenenc_bytes("HandshakeResponse41.attr_key")?.to_vec();
                let v = attrs.lenenc_bytes("HandshakeResponse41.attr_value")?.to_vec();
                connect_attrs.push((k, v));
            }
        }
        Ok(HandshakeResponse41 {
            capabilities,
            max_packet_size,
            character_set,
            username,
            auth_response,
            database,
            auth_plugin_name,
            connect_attrs,
        })
    }
}

/// `0xFE | plugin_name NUL | plugin_data`: the server asks for another plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSwitchRequest {
    /// Plugin to switch to.
    pub plugin_name: Vec<u8>,
    /// Its data: for the password plugins the 20-byte scramble plus NUL.
    pub plugin_data: Vec<u8>,
}

impl AuthSwitchRequest {
    /// Decodes the packet (header byte included).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8("AuthSwitchRequest.status")?;
        if tag != 0xfe {
            return Err(DecodeError::Invalid {
                what: "AuthSwitchRequest.status",
                value: u64::from(tag),
            });
        }
        let plugin_name = r.nul_terminated("AuthSwitchRequest.plugin_name")?.to_vec();
        let plugin_data = r.rest().to_vec();
        Ok(AuthSwitchRequest { plugin_name, plugin_data })
    }

    /// Encodes the packet.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(0xfe);
        put_nul_terminated(out, &self.plugin_name);
        out.extend_from_slice(&self.plugin_data);
    }

    /// The scramble without a trailing NUL.
    pub fn scramble(&self) -> &[u8] {
        self.plugin_data.strip_suffix(&[0]).unwrap_or(&self.plugin_data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_a_greeting_from_other_services_openings() {
        let mut greeting = Vec::new();
        crate::protocol::packet::encode_packets(&[10, b'8', 0], &mut 0, &mut greeting);
        let mut err = Vec::new();
        crate::protocol::packet::encode_packets(&[0xff, 0x10, 0x04], &mut 0, &mut err);
        // Too short to tell: the packet reader decides.
        for first in [&greeting[..], &err[..], &greeting[..4], b"SSH-", b""] {
            assert!(could_start_greeting(first), "{first:?}");
        }
        for first in [
            &b"SSH-2.0-OpenSSH_9.2\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\n",
            b"220 smtp ESMTP\r\n",
        ] {
            assert!(!could_start_greeting(first), "{}", first.escape_ascii());
        }
        let mut second = greeting.clone();
        second[3] = 1;
        assert!(!could_start_greeting(&second), "sequence id 1");
    }

    fn greeting() -> HandshakeV10 {
        HandshakeV10 {
            server_version: b"5.5.5-10.11.19-MariaDB-0+deb12u1-log".to_vec(),
            connection_id: 32,
            scramble: b"ABCDEFGHIJKLMNOPQRST".to_vec(),
            capabilities: CapabilityFlags(0xf7fe_fffe),
            character_set: 8,
            status_flags: 2,
            mariadb_capabilities: 0x1d,
            auth_plugin_name: b"mysql_native_password".to_vec(),
        }
    }

    #[test]
    fn greeting_round_trips_and_knows_mariadb() {
        let mut out = Vec::new();
        greeting().encode(&mut out);
        let mut r = Reader::new(&out);
        let back = HandshakeV10::decode(&mut r).unwrap();
        r.finish("g").unwrap();
        assert_eq!(back, greeting());
        assert!(back.is_mariadb());
        assert_eq!(back.version(), b"10.11.19-MariaDB-0+deb12u1-log");
        // auth_plugin_data_len must be 21.
        assert_eq!(out.get(1 + 37 + 4 + 8 + 1 + 2 + 1 + 2 + 2), Some(&21));
    }

    #[test]
    fn greeting_rejects_every_truncation() {
        let mut out = Vec::new();
        greeting().encode(&mut out);
        // Every cut before the plugin name is an error; a cut inside the plugin
        // name still decodes (the name runs to the end of the packet).
        let plugin_start = out.len() - b"mysql_native_password\0".len();
        for cut in 0..plugin_start {
            assert!(HandshakeV10::decode(&mut Reader::new(&out[..cut])).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn response_round_trips_with_attrs() {
        let resp = HandshakeResponse41 {
            capabilities: CapabilityFlags(0x003a_a205)
                .with(CapabilityFlags::CLIENT_CONNECT_WITH_DB),
            max_packet_size: 1 << 30,
            character_set: 45,
            username: b"repl".to_vec(),
            auth_response: vec![1; 20],
            database: Some(b"db".to_vec()),
            auth_plugin_name: Some(b"mysql_native_password".to_vec()),
            connect_attrs: vec![(b"program_name".to_vec(), b"binlogserver".to_vec())],
        };
        let mut out = Vec::new();
        resp.encode(&mut out);
        let mut r = Reader::new(&out);
        assert_eq!(HandshakeResponse41::decode(&mut r).unwrap(), resp);
        r.finish("resp").unwrap();
        for cut in 0..out.len() {
            // Optional trailing parts may be absent, but no cut may panic and a
            // cut inside a field is an error.
            let _ = HandshakeResponse41::decode(&mut Reader::new(&out[..cut]));
        }
        for cut in 0..(4 + 4 + 1 + 23 + 5 + 21) {
            assert!(
                HandshakeResponse41::decode(&mut Reader::new(&out[..cut])).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn auth_switch_round_trips() {
        let req = AuthSwitchRequest {
            plugin_name: b"mysql_native_password".to_vec(),
            plugin_data: b"ABCDEFGHIJKLMNOPQRST\0".to_vec(),
        };
        let mut out = Vec::new();
        req.encode(&mut out);
        let back = AuthSwitchRequest::decode(&mut Reader::new(&out)).unwrap();
        assert_eq!(back, req);
        assert_eq!(back.scramble(), b"ABCDEFGHIJKLMNOPQRST");
        for cut in 0..(1 + 22) {
            assert!(AuthSwitchRequest::decode(&mut Reader::new(&out[..cut])).is_err());
        }
    }
}
