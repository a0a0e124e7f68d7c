//! The inspection subcommands: `binlogserver events FILE...`,
//! `binlogserver verify DIR` and `binlogserver proxy`.
//!
//! Each tool parses its own flags (with its own `--help`), prints to
//! stdout and returns the process exit status: 0 success, 1 a problem was
//! found (or the tool failed), 2 usage error. [`dispatch`] is what `main`
//! calls before the server's own flag parsing.

pub mod archive_options;
pub mod describe;
pub mod events;
pub mod proxy;
pub mod verify;
pub mod verify_file;

use std::process::ExitCode;

use crate::binlog::ScanStop;

/// The subcommand names, for the main help text.
pub const SUBCOMMANDS: &str = "events FILE... | verify DIR | proxy --listen ADDR --to HOST:PORT";

/// Runs the tool named by `args[0]`, if it names one; `None` otherwise.
pub fn dispatch(args: &[String]) -> Option<ExitCode> {
    let (name, rest) = args.split_first()?;
    let code = match name.as_str() {
        "events" => events::main(rest),
        "verify" => verify::main(rest),
        "proxy" => proxy::main(rest),
        _ => return None,
    };
    Some(ExitCode::from(code))
}

/// Where and why a [`crate::binlog::walk`] stopped.
pub fn stop_reason(stop: &ScanStop, len: u64) -> (u64, String) {
    match stop {
        ScanStop::BadMagic => {
            (0, "not a binlog file: the first 4 bytes are not \\xfebin".to_owned())
        }
        ScanStop::Torn { offset, need } => (
            *offset,
            format!(
                "truncated: an event of {need} bytes starts here but only {} bytes follow",
                len.saturating_sub(*offset)
            ),
        ),
        ScanStop::Corrupt { offset, cause } => (*offset, format!("corrupt event: {cause}")),
    }
}

/// Parses `args` with `opts`; `Err(code)` when the tool should exit now
/// (help printed: 0; bad flags: 2).
pub(crate) fn parse_args(
    opts: &getopts::Options,
    args: &[String],
    brief: &str,
) -> Result<getopts::Matches, u8> {
    match opts.parse(args) {
        Ok(m) if m.opt_present("help") => {
            print!("{}", opts.usage(brief));
            Err(0)
        }
        Ok(m) => Ok(m),
        Err(e) => {
            eprintln!(
                "binlogserver: {e}\n{}",
                opts.short_usage(brief.lines().next().unwrap_or_default())
            );
            Err(2)
        }
    }
}
