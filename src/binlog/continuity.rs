//! The continuity check of a failover switch: may binlogserver continue its
//! stored sequence of files with a file of a new primary? Pure functions
//! over file names and GTID states; the caller reads them (our files' end
//! state, the new file's GTID_LIST or PREVIOUS_GTIDS). No I/O.
//!
//! The new file must have our basename and a number above our last file's
//! (gaps are fine: readers move to the next file the index lists), and the
//! GTID state it starts with must equal the state at the end of our files
//! (docs/protocol.md §9.3):
//!
//! * MariaDB: the last GTID of every domain. A GTID_LIST also keeps older
//!   (domain, server id) pairs, which need not match; it lists each
//!   domain's last GTID after the others, so the state is the list read in
//!   order, a later GTID of a domain replacing an earlier one
//!   ([`GtidPos`]'s `FromIterator`).
//! * MySQL: the executed GTID set (PREVIOUS_GTIDS).
//!
//! If the new primary's state is behind ours it lacks transactions a client
//! may have seen committed (it was not caught up); if it is ahead it wrote
//! transactions binlogserver never received (our files would have a hole).
//! Either way the switch is refused, naming the GTIDs.

use std::fmt;

use super::file_name::BinlogFileName;
use super::gtid::GtidTriple;
use super::gtid_pos::GtidPos;
use super::gtid_set::GtidSet;

/// GTIDs of one MariaDB domain and server id, `first..=last` by seq_no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    /// Domain id.
    pub domain_id: u32,
    /// Server id of the last GTID of the range.
    pub server_id: u32,
    /// First seq_no of the range.
    pub first: u64,
    /// Last seq_no of the range.
    pub last: u64,
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SeqRange { domain_id: d, server_id: s, first, last } = *self;
        if first == last {
            write!(f, "{d}-{s}-{last}")
        } else {
            write!(f, "{d}-{s}-{first}..{d}-{s}-{last}")
        }
    }
}

/// Why a new primary's file cannot continue our files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discontinuity {
    /// The new file has another basename than ours.
    Basename {
        /// Our last file.
        ours: BinlogFileName,
        /// The new primary's file.
        theirs: BinlogFileName,
    },
    /// The new file's number is not above our last file's.
    NotAbove {
        /// Our last file.
        ours: BinlogFileName,
        /// The new primary's file.
        theirs: BinlogFileName,
    },
    /// MariaDB GTID states differ.
    Mariadb {
        /// GTIDs we hold that the new primary lacks.
        lacks: Vec<SeqRange>,
        /// GTIDs the new primary holds that we lack.
        extra: Vec<SeqRange>,
        /// Domains whose last GTIDs have the same seq_no but another server
        /// id: `(ours, theirs)`; the histories diverged.
        diverged: Vec<(GtidTriple, GtidTriple)>,
    },
    /// MySQL executed GTID sets differ.
    Mysql {
        /// GTIDs we hold that the new primary lacks.
        lacks: GtidSet,
        /// GTIDs the new primary holds that we lack.
        extra: GtidSet,
    },
}

impl Discontinuity {
    /// True when the new primary lacks transactions binlogserver holds.
    pub fn lacks_any(&self) -> bool {
        match self {
            Discontinuity::Mariadb { lacks, .. } => !lacks.is_empty(),
            Discontinuity::Mysql { lacks, .. } => !lacks.is_empty(),
            _ => false,
        }
    }

    /// True when the new primary holds transactions binlogserver lacks.
    pub fn has_extra(&self) -> bool {
        match self {
            Discontinuity::Mariadb { extra, .. } => !extra.is_empty(),
            Discontinuity::Mysql { extra, .. } => !extra.is_empty(),
            _ => false,
        }
    }
}

/// Checks that `theirs` may follow `ours`: same basename, higher number.
///
/// # Errors
/// [`Discontinuity::Basename`] or [`Discontinuity::NotAbove`].
pub fn check_next_file(
    ours: &BinlogFileName,
    theirs: &BinlogFileName,
) -> Result<(), Discontinuity> {
    let pair = || (ours.clone(), theirs.clone());
    if ours.basename() != theirs.basename() {
        let (ours, theirs) = pair();
        return Err(Discontinuity::Basename { ours, theirs });
    }
    if theirs.sequence() <= ours.sequence() {
        let (ours, theirs) = pair();
        return Err(Discontinuity::NotAbove { ours, theirs });
    }
    Ok(())
}

/// Compares MariaDB GTID states domain by domain.
///
/// # Errors
/// [`Discontinuity::Mariadb`] naming every difference.
pub fn check_mariadb(ours: &GtidPos, theirs: &GtidPos) -> Result<(), Discontinuity> {
    let (mut lacks, mut extra, mut diverged) = (Vec::new(), Vec::new(), Vec::new());
    let mut domains: Vec<u32> = ours.domains().chain(theirs.domains()).collect();
    domains.sort_unstable();
    domains.dedup();
    for domain_id in domains {
        match (ours.domain(domain_id), theirs.domain(domain_id)) {
            (Some(o), Some(t)) if o == t => {}
            (Some(o), Some(t)) if o.seq_no == t.seq_no => diverged.push((o, t)),
            (Some(o), t) if t.is_none_or(|t| t.seq_no < o.seq_no) => {
                let first = t.map_or(1, |t| t.seq_no + 1);
                lacks.push(SeqRange { domain_id, server_id: o.server_id, first, last: o.seq_no });
            }
            (o, Some(t)) => {
                let first = o.map_or(1, |o| o.seq_no + 1);
                extra.push(SeqRange { domain_id, server_id: t.server_id, first, last: t.seq_no });
            }
            (_, None) => {}
        }
    }
    if lacks.is_empty() && extra.is_empty() && diverged.is_empty() {
        Ok(())
    } else {
        Err(Discontinuity::Mariadb { lacks, extra, diverged })
    }
}

/// Compares MySQL executed GTID sets.
///
/// # Errors
/// [`Discontinuity::Mysql`] with both differences.
pub fn check_mysql(ours: &GtidSet, theirs: &GtidSet) -> Result<(), Discontinuity> {
    let lacks = ours.difference(theirs);
    let extra = theirs.difference(ours);
    if lacks.is_empty() && extra.is_empty() {
        Ok(())
    } else {
        Err(Discontinuity::Mysql { lacks, extra })
    }
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

const LACKS_FIX: &str = "let it catch up from binlogserver first (its @@gtid_slave_pos must \
                         reach binlogserver's @@gtid_binlog_pos), then FLUSH BINARY LOGS on it";
const EXTRA_FIX: &str = "it wrote transactions before binlogserver was pointed at it, and \
                         binlogserver's files would have a hole; point binlogserver at a primary \
                         whose new file starts where binlogserver's files end";

impl fmt::Display for Discontinuity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Discontinuity::Basename { ours, theirs } => write!(
                f,
                "{theirs} has another basename than binlogserver's files ({}); set the new \
                 primary's log_bin basename to {} so its files continue ours",
                ours.basename(),
                ours.basename()
            ),
            Discontinuity::NotAbove { ours, theirs } => write!(
                f,
                "{theirs} is not above binlogserver's last file {ours}; run FLUSH BINARY LOGS on \
                 the new primary until its current file is {} or later, and name that file in \
                 MASTER_LOG_FILE",
                ours.next().map_or_else(|| "numbered higher".to_owned(), |n| n.to_string())
            ),
            Discontinuity::Mariadb { lacks, extra, diverged } => {
                let mut parts = Vec::new();
                if !lacks.is_empty() {
                    parts.push(format!(
                        "the new primary lacks transactions binlogserver holds: {}; {LACKS_FIX}",
                        list(lacks)
                    ));
                }
                if !extra.is_empty() {
                    parts.push(format!(
                        "the new primary holds transactions binlogserver does not: {}; {EXTRA_FIX}",
                        list(extra)
                    ));
                }
                for (o, t) in diverged {
                    parts.push(format!(
                        "domain {}: the new primary's last GTID is {t} where binlogserver's is \
                         {o}: the histories diverged",
                        o.domain_id
                    ));
                }
                f.write_str(&parts.join("; and "))
            }
            Discontinuity::Mysql { lacks, extra } => {
                let mut parts = Vec::new();
                if !lacks.is_empty() {
                    parts.push(format!(
                        "the new primary lacks transactions binlogserver holds: {lacks}; \
                         let it catch up from binlogserver first (its @@gtid_executed must \
                         contain binlogserver's), then FLUSH BINARY LOGS on it"
                    ));
                }
                if !extra.is_empty() {
                    parts.push(format!(
                        "the new primary holds transactions binlogserver does not: {extra}; \
                         {EXTRA_FIX}"
                    ));
                }
                f.write_str(&parts.join("; and "))
            }
        }
    }
}

impl std::error::Error for Discontinuity {}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> BinlogFileName {
        BinlogFileName::new(s).unwrap()
    }

    fn pos(s: &str) -> GtidPos {
        s.parse().unwrap()
    }

    /// A GTID_LIST as the new primary writes it: older pairs first, each
    /// domain's last GTID after them.
    fn gtid_list(s: &str) -> GtidPos {
        s.split(',').map(|g| g.trim().parse::<GtidTriple>().unwrap()).collect()
    }

    #[test]
    fn the_next_file_must_share_the_basename_and_be_numbered_higher() {
        let ours = name("mysql-bin.000123");
        assert_eq!(check_next_file(&ours, &name("mysql-bin.000124")), Ok(()));
        assert_eq!(check_next_file(&ours, &name("mysql-bin.000130")), Ok(()), "gaps are fine");
        let same = check_next_file(&ours, &name("mysql-bin.000123")).unwrap_err();
        assert!(matches!(same, Discontinuity::NotAbove { .. }));
        assert!(same.to_string().contains("FLUSH BINARY LOGS"), "{same}");
        assert!(same.to_string().contains("mysql-bin.000124 or later"), "{same}");
        let lower = check_next_file(&ours, &name("mysql-bin.000007")).unwrap_err();
        assert!(matches!(lower, Discontinuity::NotAbove { .. }));
        let other = check_next_file(&ours, &name("db2-bin.000124")).unwrap_err();
        assert!(matches!(other, Discontinuity::Basename { .. }));
        assert!(other.to_string().contains("log_bin basename to mysql-bin"), "{other}");
    }

    #[test]
    fn a_promoted_replica_that_is_caught_up_continues() {
        // The replica's list keeps its own older pair of domain 0 first.
        let theirs = gtid_list("0-2-40, 0-1-105, 1-7-3");
        assert_eq!(check_mariadb(&pos("0-1-105,1-7-3"), &theirs), Ok(()));
        assert_eq!(check_mariadb(&GtidPos::new(), &GtidPos::new()), Ok(()));
    }

    #[test]
    fn a_primary_one_gtid_short_is_refused_naming_it() {
        let err = check_mariadb(&pos("0-1-105"), &pos("0-1-104")).unwrap_err();
        assert!(err.lacks_any() && !err.has_extra());
        assert!(
            err.to_string().contains("lacks transactions binlogserver holds: 0-1-105;"),
            "{err}"
        );
        let err = check_mariadb(&pos("0-1-105,1-1-9"), &pos("0-1-100")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("0-1-101..0-1-105, 1-1-1..1-1-9"), "{text}");
    }

    #[test]
    fn a_primary_one_gtid_ahead_is_refused_naming_it() {
        let err = check_mariadb(&pos("0-1-105"), &pos("0-2-106")).unwrap_err();
        assert!(err.has_extra() && !err.lacks_any());
        assert!(err.to_string().contains("holds transactions binlogserver does not: 0-2-106;"));
        let err = check_mariadb(&pos("0-1-105"), &pos("0-1-105,5-2-1")).unwrap_err();
        assert!(err.to_string().contains("does not: 5-2-1;"), "{err}");
    }

    #[test]
    fn the_same_seq_no_from_another_server_is_a_divergence() {
        let err = check_mariadb(&pos("0-1-105"), &pos("0-2-105")).unwrap_err();
        assert!(!err.lacks_any() && !err.has_extra());
        assert!(err.to_string().contains("0-2-105 where binlogserver's is 0-1-105"), "{err}");
    }

    #[test]
    fn mysql_sets_must_be_equal() {
        const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let set = |t: &str| GtidSet::parse(t).unwrap();
        let ours = set(&format!("{A}:1-10"));
        assert_eq!(check_mysql(&ours, &ours.clone()), Ok(()));
        let err = check_mysql(&ours, &set(&format!("{A}:1-8"))).unwrap_err();
        assert!(err.lacks_any() && !err.has_extra());
        assert!(err.to_string().contains(&format!("holds: {A}:9-10;")), "{err}");
        let err = check_mysql(&ours, &set(&format!("{A}:1-12"))).unwrap_err();
        assert!(err.has_extra() && err.to_string().contains(&format!("does not: {A}:11-12;")));
    }
}
