//! The binlog file and event format.
//!
//! No I/O here: events are byte slices; only what the server acts on is decoded.
