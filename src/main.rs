//! The `binlogserver` command.
fn main() {}
