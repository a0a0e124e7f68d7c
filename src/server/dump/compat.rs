//! What a binlog dump sends a client of a lower `@mariadb_slave_capability`
//! (0 for every MySQL client) in place of MariaDB's own events, as
//! MariaDB's `send_event_to_slave` decides it; the rewriting itself is the
//! codec's ([`crate::binlog::compat`]).

use crate::binlog::compat::{
    self, CAPABILITY_ANNOTATE, CAPABILITY_BINLOG_CHECKPOINT, CAPABILITY_GTID,
    CAPABILITY_TOLERATE_HOLES,
};
use crate::binlog::{ChecksumAlg, EventType};
use crate::protocol::DecodeError;

/// What the client gets for an event.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Compat {
    /// The event as stored.
    AsIs,
    /// A same-sized replacement.
    Rewritten(Vec<u8>),
    /// Nothing: the client tolerates holes.
    LeftOut,
}

/// `event` (of `event_type`) for a client of `capability` that did or did
/// not ask for ANNOTATE_ROWS (`annotate`).
pub(super) fn for_capability(
    event: &[u8],
    event_type: EventType,
    capability: u8,
    annotate: bool,
    alg: ChecksumAlg,
) -> Result<Compat, DecodeError> {
    let dummy = || compat::dummy_event(event, alg).map(Compat::Rewritten);
    // An event type the client does not know: as is, left out, or a dummy.
    let unknown_below = |needed: u8| {
        if capability >= needed {
            Ok(Compat::AsIs)
        } else if capability >= CAPABILITY_TOLERATE_HOLES {
            Ok(Compat::LeftOut)
        } else {
            dummy()
        }
    };
    match event_type {
        EventType::ANNOTATE_ROWS if !annotate => {
            if capability >= CAPABILITY_TOLERATE_HOLES {
                Ok(Compat::LeftOut)
            } else if capability >= CAPABILITY_ANNOTATE {
                Ok(Compat::AsIs)
            } else {
                dummy()
            }
        }
        EventType::MARIADB_GTID if capability < CAPABILITY_GTID => {
            Ok(compat::gtid_for_old_client(event, capability, alg)?
                .map_or(Compat::LeftOut, Compat::Rewritten))
        }
        EventType::BINLOG_CHECKPOINT => unknown_below(CAPABILITY_BINLOG_CHECKPOINT),
        EventType::GTID_LIST => unknown_below(CAPABILITY_GTID),
        _ => Ok(Compat::AsIs),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_mariadb() {
        let event = vec![0u8; 60];
        let alg = ChecksumAlg::OFF;
        let f = |t, cap, annotate| for_capability(&event, t, cap, annotate, alg).unwrap();
        assert_eq!(f(EventType::ANNOTATE_ROWS, 4, true), Compat::AsIs);
        assert_eq!(f(EventType::ANNOTATE_ROWS, 4, false), Compat::LeftOut);
        assert_eq!(f(EventType::ANNOTATE_ROWS, 1, false), Compat::AsIs);
        assert!(matches!(f(EventType::ANNOTATE_ROWS, 0, false), Compat::Rewritten(_)));
        assert_eq!(f(EventType::BINLOG_CHECKPOINT, 3, false), Compat::AsIs);
        assert_eq!(f(EventType::BINLOG_CHECKPOINT, 2, false), Compat::LeftOut);
        assert!(matches!(f(EventType::GTID_LIST, 1, false), Compat::Rewritten(_)));
        assert_eq!(f(EventType::GTID_LIST, 4, false), Compat::AsIs);
        assert_eq!(f(EventType::QUERY, 0, false), Compat::AsIs);
    }
}
