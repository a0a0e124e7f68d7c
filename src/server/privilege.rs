//! What an account may do: the one place that decides, before a statement
//! runs, whether the session's [`Role`] allows it.
//!
//! Two roles, as issue 10 sets them out:
//! * a **replication** account logs in, dumps binlogs, runs `SHOW`,
//!   `SELECT`, session `SET`, and `KILL` of its own connections (those of
//!   the same user, as MariaDB decides ownership);
//! * an **admin** account may do all that, plus `PURGE BINARY LOGS`, `KILL`
//!   of anyone, `START`/`STOP SLAVE`, `CHANGE MASTER` and `RESET SLAVE`,
//!   and sees every connection in `SHOW PROCESSLIST` (MariaDB's `PROCESS`).
//!
//! A refusal is the ERR MariaDB 10.11 sends to an account without the
//! privilege, measured per statement on the real server: 1227 naming
//! `REPLICATION SLAVE ADMIN` for `START`/`STOP SLAVE` and `CHANGE MASTER`,
//! `RELOAD` for `RESET SLAVE`, `BINLOG ADMIN` for `PURGE BINARY LOGS`, and
//! 1095 `You are not owner of thread N` for `KILL` of another user's
//! connection. No I/O here.

use crate::protocol::ErrPacket;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Log in, dump, `SHOW`, `SELECT`, session `SET`, `KILL` of its own
    /// connections.
    #[default]
    Replication,
    /// Everything, including the admin statements.
    Admin,
}

impl Role {
    /// `replication` or `admin`, for log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Replication => "replication",
            Role::Admin => "admin",
        }
    }
}

/// A privilege an admin statement needs, named as MariaDB names it in ERR
/// 1227.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// `START`/`STOP SLAVE`, `CHANGE MASTER` (and their MySQL 8 spellings).
    ReplicationSlaveAdmin,
    /// `RESET SLAVE [ALL]` / `RESET REPLICA [ALL]`.
    Reload,
    /// `PURGE BINARY LOGS` / `PURGE MASTER LOGS`.
    BinlogAdmin,
}

impl Privilege {
    /// The privileges MariaDB 10.11 lists in its ERR 1227 for a statement
    /// that needs this one.
    fn mariadb_names(self) -> &'static str {
        match self {
            Privilege::ReplicationSlaveAdmin => "SUPER, REPLICATION SLAVE ADMIN",
            Privilege::Reload => "RELOAD",
            Privilege::BinlogAdmin => "SUPER, BINLOG ADMIN",
        }
    }
}

/// `Ok` when `role` holds `needed`; else MariaDB's ERR 1227.
pub fn check(role: Role, needed: Privilege) -> Result<(), ErrPacket> {
    match role {
        Role::Admin => Ok(()),
        Role::Replication => Err(access_denied(needed)),
    }
}

/// ERR 1227 (42000), `ER_SPECIFIC_ACCESS_DENIED_ERROR`, as MariaDB 10.11
/// words it.
pub fn access_denied(needed: Privilege) -> ErrPacket {
    ErrPacket::new(
        1227,
        b"42000",
        format!(
            "Access denied; you need (at least one of) the {} privilege(s) for this operation",
            needed.mariadb_names()
        ),
    )
}

/// True when a session of `user` with `role` may kill a connection of
/// `owner`: admins anyone, others only connections of their own user.
pub fn may_kill(role: Role, user: &str, owner: &str) -> bool {
    role == Role::Admin || user == owner
}

/// True when a session of `user` with `role` sees a connection of `owner`
/// in `SHOW PROCESSLIST` (MariaDB without `PROCESS` shows only the user's
/// own).
pub fn may_see(role: Role, user: &str, owner: &str) -> bool {
    may_kill(role, user, owner)
}

/// ERR 1095 (HY000), `ER_KILL_DENIED_ERROR`.
pub fn not_owner(id: u64) -> ErrPacket {
    ErrPacket::new(1095, b"HY000", format!("You are not owner of thread {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_accounts_get_mariadbs_1227_texts() {
        assert_eq!(check(Role::Admin, Privilege::BinlogAdmin), Ok(()));
        let e = check(Role::Replication, Privilege::ReplicationSlaveAdmin).unwrap_err();
        assert_eq!((e.code, &e.sql_state), (1227, b"42000"));
        assert_eq!(
            e.message,
            "Access denied; you need (at least one of) the SUPER, REPLICATION SLAVE ADMIN \
             privilege(s) for this operation"
        );
        let e = check(Role::Replication, Privilege::Reload).unwrap_err();
        assert!(e.message.contains("the RELOAD privilege(s)"), "{e}");
        let e = check(Role::Replication, Privilege::BinlogAdmin).unwrap_err();
        assert!(e.message.contains("the SUPER, BINLOG ADMIN privilege(s)"), "{e}");
    }

    #[test]
    fn only_admins_kill_and_see_other_users_connections() {
        assert!(may_kill(Role::Replication, "repl", "repl"));
        assert!(!may_kill(Role::Replication, "repl", "cdc"));
        assert!(!may_see(Role::Replication, "repl", "system user"));
        assert!(may_kill(Role::Admin, "ops", "repl"));
        let e = not_owner(34);
        assert_eq!((e.code, e.message.as_str()), (1095, "You are not owner of thread 34"));
    }
}
