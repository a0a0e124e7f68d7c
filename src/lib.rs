//! binlogserver: a MySQL/MariaDB binlog server.
#![doc(html_no_source)]

pub mod binlog;
pub mod protocol;
