//! The SSL request (docs/protocol.md §3.4): the first 32 bytes of a
//! HandshakeResponse41 with `CLIENT_SSL` set, sent in place of the
//! response; the TLS handshake follows at once, then the full response
//! inside TLS with the next sequence id.

use super::{CapabilityFlags, DecodeError, Reader};

/// The length of an SSL request payload.
pub const LEN: usize = 32;

/// An SSL request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SslRequest {
    /// The client's capabilities (with `CLIENT_SSL`).
    pub capabilities: CapabilityFlags,
    /// Largest packet the client accepts.
    pub max_packet_size: u32,
    /// The connection's character set id.
    pub character_set: u8,
}

impl SslRequest {
    /// True when `payload` is an SSL request rather than a full handshake
    /// response: 32 bytes exactly with `CLIENT_SSL` set (a full response
    /// is longer: it carries at least a user name's NUL after the filler).
    pub fn is_ssl_request(payload: &[u8]) -> bool {
        payload.len() == LEN
            && SslRequest::decode(&mut Reader::new(payload))
                .is_ok_and(|r| r.capabilities.contains(CapabilityFlags::CLIENT_SSL))
    }

    /// Appends the 32-byte payload (`CLIENT_SSL` is set whatever `capabilities` hold).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let caps = self.capabilities.with(CapabilityFlags::CLIENT_SSL);
        out.extend_from_slice(&caps.0.to_le_bytes());
        out.extend_from_slice(&self.max_packet_size.to_le_bytes());
        out.push(self.character_set);
        out.extend_from_slice(&[0u8; 23]);
    }

    /// Reads the 32-byte payload.
    ///
    /// # Errors
    /// A payload of another length.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let capabilities = CapabilityFlags(r.u32_le("SslRequest.capabilities")?);
        let max_packet_size = r.u32_le("SslRequest.max_packet_size")?;
        let character_set = r.u8("SslRequest.character_set")?;
        r.skip(23, "SslRequest.filler")?;
        r.finish("SslRequest")?;
        Ok(SslRequest { capabilities, max_packet_size, character_set })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::handshake::HandshakeResponse41;

    #[test]
    fn round_trips_and_is_told_from_a_full_response() {
        let req = SslRequest {
            capabilities: CapabilityFlags::CLIENT_PROTOCOL_41,
            max_packet_size: 1 << 24,
            character_set: 45,
        };
        let mut out = Vec::new();
        req.encode(&mut out);
        assert_eq!(out.len(), LEN);
        assert_eq!(out[..4], (0x0200u32 | 0x0800).to_le_bytes());
        let back = SslRequest::decode(&mut Reader::new(&out)).unwrap();
        assert!(back.capabilities.contains(CapabilityFlags::CLIENT_SSL));
        assert_eq!((back.max_packet_size, back.character_set), (1 << 24, 45));
        assert!(SslRequest::is_ssl_request(&out));
        let full = HandshakeResponse41 {
            capabilities: back.capabilities,
            max_packet_size: 1 << 24,
            character_set: 45,
            username: b"u".to_vec(),
            auth_response: Vec::new(),
            database: None,
            auth_plugin_name: None,
            connect_attrs: Vec::new(),
        };
        let mut longer = Vec::new();
        full.encode(&mut longer);
        assert!(!SslRequest::is_ssl_request(&longer));
        let mut plain = out.clone();
        plain[1] = 0; // CLIENT_SSL cleared
        assert!(!SslRequest::is_ssl_request(&plain));
        assert!(SslRequest::decode(&mut Reader::new(&out[..31])).is_err());
    }
}
