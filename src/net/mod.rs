//! Sockets: the thin layer that moves protocol packets over a byte stream.

pub mod accept;
pub mod budget;
pub mod packet_stream;
pub mod packet_writer;

pub use budget::{Lease, MemoryBudget};
pub use packet_stream::{NetError, PacketStream};
pub use packet_writer::PacketWriter;
