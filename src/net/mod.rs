//! Sockets: the thin layer that moves protocol packets over a byte stream.

pub mod packet_stream;

pub use packet_stream::{NetError, PacketStream};
