//! Per-connection state that clients change with `SET`, `SET NAMES` and `USE`,
//! and the typed views of it that the binlog sender needs.
//!
//! Replicas configure their dump through *user* variables (docs/protocol.md §4.7):
//! `@master_binlog_checksum`, `@master_heartbeat_period`,
//! `@mariadb_slave_capability`, `@slave_connect_state`, `@rpl_semi_sync_slave`
//! and their MySQL 8 `@source_…`/`@replica_…` twins. The real servers read
//! them back with `val_int()`/`val_str()` when the dump starts; the accessors
//! here do the same. Session *system* variables (`sql_mode`, `autocommit`,
//! `skip_replication`, …) are kept as the evaluator validated them.
//!
//! No I/O here.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::binlog::ChecksumAlg;
use crate::server::privilege::Role;

/// `@@net_write_timeout` unless the session sets it (MariaDB's default): a
/// client that stops reading is dropped after this, releasing its thread,
/// its connection slot and the file its dump keeps from being purged.
pub const NET_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// `@@net_read_timeout` unless the session sets it (MariaDB's default).
pub const NET_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Most user variables one session may hold; `SET` of a new one beyond this fails.
pub const MAX_USER_VARIABLES: usize = 1024;

/// A `SET @new_var` on a session that already holds [`MAX_USER_VARIABLES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyUserVariables;

impl fmt::Display for TooManyUserVariables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "too many user variables (limit {MAX_USER_VARIABLES})")
    }
}

impl std::error::Error for TooManyUserVariables {}

/// The variables of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionVars {
    /// User variables by lowercase name (without `@`); `None` is SQL NULL.
    user_vars: BTreeMap<String, Option<String>>,
    /// Session values of system variables by lowercase name.
    system_vars: BTreeMap<String, String>,
    /// Login user.
    user: String,
    /// Client host.
    host: String,
    /// What the account may do (a replication account until told).
    role: Role,
    /// Current database (`USE`, `COM_INIT_DB`).
    database: Option<String>,
    /// Notes and warnings of the last statement (`SHOW WARNINGS`).
    warnings: Vec<Warning>,
    /// The TLS protocol and cipher of the connection (`Ssl_version`,
    /// `Ssl_cipher`); `None` for plain TCP.
    tls: Option<(String, String)>,
}

/// One row of `SHOW WARNINGS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// `Note`, `Warning` or `Error`.
    pub level: &'static str,
    /// The MySQL error code.
    pub code: u16,
    /// The message.
    pub message: String,
}

impl SessionVars {
    /// A fresh session: no user variables, every system variable at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the warnings of the last statement.
    pub fn set_warnings(&mut self, warnings: Vec<Warning>) {
        self.warnings = warnings;
    }

    /// The warnings of the last statement.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Records the authenticated account, for `USER()` and `CURRENT_USER()`.
    pub fn set_account(&mut self, user: &str, host: &str) {
        self.user = user.to_owned();
        self.host = host.to_owned();
    }

    /// Records the connection's TLS protocol and cipher (OpenSSL's names).
    pub fn set_tls(&mut self, tls: Option<(String, String)>) {
        self.tls = tls;
    }

    /// `(Ssl_version, Ssl_cipher)`: empty strings for plain TCP, as MariaDB shows them.
    pub fn tls(&self) -> (&str, &str) {
        self.tls.as_ref().map_or(("", ""), |(v, c)| (v.as_str(), c.as_str()))
    }

    /// Records the account's role, which decides the statements it may run.
    pub fn set_role(&mut self, role: Role) {
        self.role = role;
    }

    /// The account's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The login user name (empty before authentication).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The client host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Sets the current database (`USE db`, `COM_INIT_DB`).
    pub fn set_database(&mut self, db: Option<String>) {
        self.database = db;
    }

    /// The current database, for `DATABASE()`.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// Sets user variable `@name` (case-insensitive; `None` = NULL).
    ///
    /// # Errors
    ///
    /// [`TooManyUserVariables`] when `name` is new and the session is full.
    pub fn set_user_var(
        &mut self,
        name: &str,
        value: Option<String>,
    ) -> Result<(), TooManyUserVariables> {
        let key = name.to_ascii_lowercase();
        if !self.user_vars.contains_key(&key) && self.user_vars.len() >= MAX_USER_VARIABLES {
            return Err(TooManyUserVariables);
        }
        self.user_vars.insert(key, value);
        Ok(())
    }

    /// The value of `@name`; `None` when unset or NULL (SQL does not tell them apart).
    pub fn user_var(&self, name: &str) -> Option<&str> {
        self.user_vars.get(&name.to_ascii_lowercase()).and_then(|v| v.as_deref())
    }

    /// Sets the session value of a system variable (the caller validated it).
    pub fn set_system_var(&mut self, name: &str, value: impl Into<String>) {
        self.system_vars.insert(name.to_ascii_lowercase(), value.into());
    }

    /// Drops the session value of a system variable (`SET x = DEFAULT`).
    pub fn reset_system_var(&mut self, name: &str) {
        self.system_vars.remove(&name.to_ascii_lowercase());
    }

    /// The session value of a system variable, if the client set one.
    pub fn system_var(&self, name: &str) -> Option<&str> {
        self.system_vars.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// `@@autocommit` (on unless the client turned it off).
    pub fn autocommit(&self) -> bool {
        self.system_var("autocommit").is_none_or(is_nonzero)
    }

    /// `@@skip_replication`: drop events flagged `LOG_EVENT_SKIP_REPLICATION_F` (MariaDB).
    pub fn skip_replication(&self) -> bool {
        self.system_var("skip_replication").is_some_and(is_nonzero)
    }

    /// The client character set from `SET NAMES`, if set.
    pub fn charset(&self) -> Option<&str> {
        self.system_var("character_set_client")
    }

    /// The checksum the replica wants before the first FORMAT_DESCRIPTION:
    /// `@source_binlog_checksum`, else `@master_binlog_checksum` (MySQL
    /// `init_checksum_alg`). `None` when neither is set.
    ///
    /// Only `NONE` (any case, trailing spaces ignored) turns checksums off.
    /// MariaDB reads the value with `find_type(...) - 1`, which is -1 for
    /// anything it does not know (`ALL`, `''`, NULL, ` NONE`); -1 is
    /// neither OFF nor UNDEF, so the opening fake ROTATE gets a CRC. A
    /// variable set to NULL counts as set, as it does there. Checked against
    /// MariaDB 10.11 by `tests/it/serve_like_the_primary.rs`.
    pub fn checksum_alg(&self) -> Option<ChecksumAlg> {
        let value = ["source_binlog_checksum", "master_binlog_checksum"]
            .iter()
            .find_map(|name| self.user_vars.get(*name))?;
        let none =
            value.as_deref().is_some_and(|v| v.trim_end_matches(' ').eq_ignore_ascii_case("NONE"));
        Some(if none { ChecksumAlg::OFF } else { ChecksumAlg::CRC32 })
    }

    /// The heartbeat period: `@source_heartbeat_period`, else
    /// `@master_heartbeat_period`, in nanoseconds (float text accepted).
    /// `None` when unset, zero, negative or not a number (heartbeats off).
    pub fn heartbeat_period(&self) -> Option<Duration> {
        let value = self.first_of(&["source_heartbeat_period", "master_heartbeat_period"])?.trim();
        if let Ok(nanos) = value.parse::<u64>() {
            return (nanos > 0).then(|| Duration::from_nanos(nanos));
        }
        let nanos = value.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 1.0)?;
        Duration::try_from_secs_f64(nanos / 1e9).ok()
    }

    /// `@mariadb_slave_capability` (0 unknown … 4 GTID); 0 when unset or not a number.
    pub fn mariadb_capability(&self) -> u8 {
        let value = self.user_var("mariadb_slave_capability").map_or(0.0, leading_number).trunc();
        clamp_to_u8(value)
    }

    /// `@slave_connect_state`: present (even empty) means a MariaDB GTID start.
    pub fn slave_connect_state(&self) -> Option<String> {
        self.user_var("slave_connect_state").map(str::to_owned)
    }

    /// `@slave_gtid_strict_mode` is non-zero.
    pub fn gtid_strict_mode(&self) -> bool {
        self.user_var("slave_gtid_strict_mode").is_some_and(is_nonzero)
    }

    /// `@slave_gtid_ignore_duplicates` is non-zero.
    pub fn gtid_ignore_duplicates(&self) -> bool {
        self.user_var("slave_gtid_ignore_duplicates").is_some_and(is_nonzero)
    }

    /// `@slave_until_gtid` (`START SLAVE UNTIL master_gtid_pos=…`).
    pub fn slave_until_gtid(&self) -> Option<String> {
        self.user_var("slave_until_gtid").map(str::to_owned)
    }

    /// The replica asked for semi-sync: `@rpl_semi_sync_slave` or
    /// `@rpl_semi_sync_replica` is non-zero (docs/protocol.md §5.1).
    pub fn semi_sync_requested(&self) -> bool {
        ["rpl_semi_sync_slave", "rpl_semi_sync_replica"]
            .iter()
            .any(|name| self.user_var(name).is_some_and(is_nonzero))
    }

    /// `@replica_uuid`, else `@slave_uuid` (MySQL replicas, go-mysql).
    pub fn replica_uuid(&self) -> Option<String> {
        self.first_of(&["replica_uuid", "slave_uuid"]).map(str::to_owned)
    }

    /// `@@net_write_timeout` (whole seconds, at least 1 as in MariaDB), else
    /// [`NET_WRITE_TIMEOUT`].
    pub fn net_write_timeout(&self) -> Duration {
        self.system_var("net_write_timeout")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(NET_WRITE_TIMEOUT, |secs| Duration::from_secs(secs.max(1)))
    }

    /// `@@net_read_timeout` (whole seconds, at least 1), else
    /// [`NET_READ_TIMEOUT`]: a command must arrive whole within it once
    /// its first byte has.
    pub fn net_read_timeout(&self) -> Duration {
        self.system_var("net_read_timeout")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(NET_READ_TIMEOUT, |secs| Duration::from_secs(secs.max(1)))
    }

    /// The first of `names` that is set and not NULL.
    fn first_of(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|name| self.user_var(name))
    }
}

/// `value` (already whole) clamped to `0..=255`.
#[allow(clippy::cast_possible_truncation, reason = "clamped to the u8 range first")]
fn clamp_to_u8(value: f64) -> u8 {
    value.clamp(0.0, f64::from(u8::MAX)) as u8
}

/// True when the text's leading number is non-zero (`val_int()` truthiness:
/// `'1'`, `'1.5'`, `' 2abc'` are true; `'0'`, `''`, `'ON'` are false).
pub fn is_nonzero(value: &str) -> bool {
    leading_number(value) != 0.0
}

/// The number at the start of `value`, as MySQL converts a string to a
/// number: leading spaces skipped, then the longest numeric prefix; 0 if none.
pub fn leading_number(value: &str) -> f64 {
    let s = value.trim_start();
    let mut end = 0;
    let mut seen_digit = false;
    let mut seen_dot = false;
    for (i, c) in s.char_indices() {
        match c {
            '+' | '-' if i == 0 => {}
            '0'..='9' => seen_digit = true,
            '.' if !seen_dot => seen_dot = true,
            _ => break,
        }
        end = i + c.len_utf8();
    }
    if !seen_digit {
        return 0.0;
    }
    let number = s.get(..end).unwrap_or_default();
    // An exponent is rare here; the mantissa alone keeps the prefix rule simple.
    number.parse::<f64>().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, Option<&str>)]) -> SessionVars {
        let mut s = SessionVars::new();
        for (name, value) in vars {
            s.set_user_var(name, value.map(str::to_owned)).unwrap();
        }
        s
    }

    #[test]
    fn net_write_timeout_is_sixty_seconds_unless_the_session_sets_it() {
        let mut s = SessionVars::new();
        assert_eq!(s.net_write_timeout(), Duration::from_secs(60));
        s.set_system_var("NET_WRITE_TIMEOUT", "3");
        assert_eq!(s.net_write_timeout(), Duration::from_secs(3));
        s.set_system_var("net_write_timeout", "0");
        assert_eq!(s.net_write_timeout(), Duration::from_secs(1), "at least a second");
        s.reset_system_var("net_write_timeout");
        assert_eq!(s.net_write_timeout(), NET_WRITE_TIMEOUT);
        assert_eq!(s.net_read_timeout(), NET_READ_TIMEOUT);
        s.set_system_var("net_read_timeout", "4");
        assert_eq!(s.net_read_timeout(), Duration::from_secs(4));
    }

    #[test]
    fn user_variable_names_are_case_insensitive() {
        let s = with(&[("Master_Binlog_Checksum", Some("CRC32"))]);
        assert_eq!(s.user_var("master_binlog_checksum"), Some("CRC32"));
        assert_eq!(s.user_var("MASTER_BINLOG_CHECKSUM"), Some("CRC32"));
        assert_eq!(s.user_var("other"), None);
    }

    #[test]
    fn checksum_alg_prefers_the_source_name_and_ignores_case() {
        assert_eq!(SessionVars::new().checksum_alg(), None);
        assert_eq!(
            with(&[("master_binlog_checksum", Some("crc32"))]).checksum_alg(),
            Some(ChecksumAlg::CRC32)
        );
        assert_eq!(
            with(&[("master_binlog_checksum", Some("NONE"))]).checksum_alg(),
            Some(ChecksumAlg::OFF)
        );
        let both = with(&[
            ("master_binlog_checksum", Some("CRC32")),
            ("source_binlog_checksum", Some("NONE")),
        ]);
        assert_eq!(both.checksum_alg(), Some(ChecksumAlg::OFF));
        // Anything but NONE is "checksums on" to MariaDB, NULL included.
        for on in [Some("MD5"), Some("ALL"), Some(""), Some(" NONE"), None] {
            assert_eq!(
                with(&[("master_binlog_checksum", on)]).checksum_alg(),
                Some(ChecksumAlg::CRC32),
                "{on:?}"
            );
        }
        assert_eq!(
            with(&[("master_binlog_checksum", Some("none  "))]).checksum_alg(),
            Some(ChecksumAlg::OFF)
        );
    }

    #[test]
    fn heartbeat_period_reads_nanoseconds_as_integer_or_float() {
        let s = with(&[("master_heartbeat_period", Some("30000001024"))]);
        assert_eq!(s.heartbeat_period(), Some(Duration::from_nanos(30_000_001_024)));
        let s = with(&[("master_heartbeat_period", Some("1e9"))]);
        assert_eq!(s.heartbeat_period(), Some(Duration::from_secs(1)));
        let s = with(&[("source_heartbeat_period", Some("1500000000.0"))]);
        assert_eq!(s.heartbeat_period(), Some(Duration::from_millis(1500)));
        assert_eq!(with(&[("master_heartbeat_period", Some("0"))]).heartbeat_period(), None);
        assert_eq!(with(&[("master_heartbeat_period", Some("-5"))]).heartbeat_period(), None);
        assert_eq!(with(&[("master_heartbeat_period", Some("soon"))]).heartbeat_period(), None);
        assert_eq!(SessionVars::new().heartbeat_period(), None);
    }

    #[test]
    fn mariadb_capability_defaults_to_zero() {
        assert_eq!(SessionVars::new().mariadb_capability(), 0);
        assert_eq!(with(&[("mariadb_slave_capability", Some("4"))]).mariadb_capability(), 4);
        assert_eq!(with(&[("mariadb_slave_capability", Some("x"))]).mariadb_capability(), 0);
        assert_eq!(with(&[("mariadb_slave_capability", Some("3.9"))]).mariadb_capability(), 3);
        assert_eq!(with(&[("mariadb_slave_capability", Some("999"))]).mariadb_capability(), 255);
        assert_eq!(with(&[("mariadb_slave_capability", Some("-1"))]).mariadb_capability(), 0);
    }

    #[test]
    fn gtid_start_variables_are_read_back() {
        let s = with(&[
            ("slave_connect_state", Some("")),
            ("slave_gtid_strict_mode", Some("1")),
            ("slave_gtid_ignore_duplicates", Some("0")),
            ("slave_until_gtid", Some("0-1-5")),
        ]);
        assert_eq!(s.slave_connect_state().as_deref(), Some(""));
        assert!(s.gtid_strict_mode());
        assert!(!s.gtid_ignore_duplicates());
        assert_eq!(s.slave_until_gtid().as_deref(), Some("0-1-5"));
        assert_eq!(SessionVars::new().slave_connect_state(), None);
    }

    #[test]
    fn semi_sync_is_requested_by_either_name() {
        assert!(!SessionVars::new().semi_sync_requested());
        assert!(with(&[("rpl_semi_sync_slave", Some("1"))]).semi_sync_requested());
        assert!(with(&[("rpl_semi_sync_replica", Some("1"))]).semi_sync_requested());
        assert!(!with(&[("rpl_semi_sync_slave", Some("0"))]).semi_sync_requested());
    }

    #[test]
    fn replica_uuid_prefers_the_replica_name() {
        let s = with(&[("slave_uuid", Some("a")), ("replica_uuid", Some("b"))]);
        assert_eq!(s.replica_uuid().as_deref(), Some("b"));
        assert_eq!(with(&[("slave_uuid", Some("a"))]).replica_uuid().as_deref(), Some("a"));
    }

    #[test]
    fn system_variables_hold_session_settings() {
        let mut s = SessionVars::new();
        assert!(s.autocommit());
        assert!(!s.skip_replication());
        s.set_system_var("AUTOCOMMIT", "0");
        s.set_system_var("skip_replication", "1");
        assert!(!s.autocommit());
        assert!(s.skip_replication());
        s.reset_system_var("autocommit");
        assert!(s.autocommit());
    }

    #[test]
    fn refuses_new_variables_past_the_limit_but_updates_old_ones() {
        let mut s = SessionVars::new();
        for i in 0..MAX_USER_VARIABLES {
            s.set_user_var(&format!("v{i}"), None).unwrap();
        }
        assert_eq!(s.set_user_var("one_more", None), Err(TooManyUserVariables));
        s.set_user_var("V1", Some("x".into())).unwrap();
        assert_eq!(s.user_var("v1"), Some("x"));
    }

    #[test]
    fn leading_number_follows_string_to_number_rules() {
        assert_eq!(leading_number(" 12abc"), 12.0);
        assert_eq!(leading_number("1.5"), 1.5);
        assert_eq!(leading_number("-3"), -3.0);
        assert_eq!(leading_number("ON"), 0.0);
        assert_eq!(leading_number(""), 0.0);
        assert_eq!(leading_number("-"), 0.0);
        assert!(is_nonzero("0.1") && !is_nonzero("0") && !is_nonzero("0.0"));
    }
}
