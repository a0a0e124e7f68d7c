//! The exporter: the one list of samples built at read time from the
//! [`crate::status::Counters`], the upstream status, the server's
//! connections and the data directory ([`collect`]), its two renderings
//! (Prometheus text and `SHOW STATUS` rows, [`text`]) and the HTTP endpoint
//! behind `--metrics` ([`http`]).
//!
//! It sits above `server` and `upstream` and only reads from them: the
//! server gets its `SHOW STATUS` rows through [`crate::server::StatusRows`],
//! which [`http::Source`] implements.

pub mod collect;
pub mod http;
pub mod slots;
pub mod text;
