//! Sockets: the thin layer that moves protocol packets over a byte stream,
//! plain TCP or TLS ([`NetStream`], with its settings in [`tls`]).

pub mod accept;
pub mod budget;
pub mod packet_stream;
pub mod packet_writer;
#[cfg(test)]
pub(crate) mod scripted;
pub mod stream;
pub mod tls;

pub use budget::{Lease, MemoryBudget};
pub use packet_stream::{NetError, PacketStream};
pub use packet_writer::PacketWriter;
pub use stream::NetStream;
