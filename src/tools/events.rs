//! `binlogserver events FILE...`: one line per event of binlog files.
//!
//! Each line: file offset, time (UTC), type, server id, size, end position
//! and what the event carries (GTID, `db.table` of rows events, query text,
//! next file of a ROTATE). Every event is checked as recovery checks it
//! ([`crate::binlog::walk`]: magic, CRC, position chain); at the first bad
//! or incomplete event the tool says where and why it stopped and exits 1.

use std::fs;

use getopts::Options;

use super::describe::EventDescriber;
use super::{parse_args, stop_reason};
use crate::binlog::walk;
use crate::hexdump::hexdump;

const BRIEF: &str = "Usage: binlogserver events [--hexdump] FILE...\n\n\
    Prints one line per event of each binlog file: offset, time (UTC), type,\n\
    server id, size, end position, and the GTID, table, query or next file.\n\
    Checks magic, CRCs and positions; exits 1 at the first problem, saying\n\
    where and why it stopped.";

/// Runs the tool; returns the exit status.
pub fn main(args: &[String]) -> u8 {
    let mut opts = Options::new();
    opts.optflag("x", "hexdump", "also print each event's bytes, 16 per line (like hexdump -C)");
    opts.optflag("?", "help", "print this help");
    let m = match parse_args(&opts, args, BRIEF) {
        Ok(m) => m,
        Err(code) => return code,
    };
    if m.free.is_empty() {
        eprintln!("binlogserver events: no FILE given\nTry 'binlogserver events --help'.");
        return 2;
    }
    let hex = m.opt_present("hexdump");
    let mut status = 0;
    for path in &m.free {
        let mut out = std::io::stdout().lock();
        if !print_file(path, hex, &mut out) {
            status = 1;
        }
    }
    status
}

/// Prints the events of one file; false on any problem.
fn print_file(path: &str, hex: bool, out: &mut impl std::io::Write) -> bool {
    let buf = match fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(out, "# {path}: cannot read: {e}");
            return false;
        }
    };
    let _ = writeln!(out, "# {path} size={}", buf.len());
    let lines = render(&buf, hex);
    let ok = lines.ok;
    for l in lines.lines {
        let _ = writeln!(out, "{l}");
    }
    if let Some(why) = lines.stop {
        let _ = writeln!(out, "# {path}: stopped at offset {why}");
    }
    ok
}

/// What [`render`] produced.
#[derive(Debug)]
pub struct Rendered {
    /// Output lines (events, hex dumps).
    pub lines: Vec<String>,
    /// `OFFSET: reason` when the walk stopped early.
    pub stop: Option<String>,
    /// False when it stopped early.
    pub ok: bool,
}

/// The lines for a whole file image.
pub fn render(buf: &[u8], hex: bool) -> Rendered {
    let mut describer = EventDescriber::new();
    let mut lines = Vec::new();
    let mut w = walk(buf);
    for ev in w.by_ref() {
        let line = describer.line(&ev.header, ev.bytes, ev.end());
        lines.push(format!("{:>10} {line}", ev.offset));
        if hex {
            lines.extend(hexdump(ev.bytes, ev.offset).lines().map(str::to_owned));
        }
    }
    let len = buf.len() as u64;
    let stop = w.report().stop.as_ref().map(|s| {
        let (offset, why) = stop_reason(s, len);
        format!("{offset}: {why}")
    });
    Rendered { ok: stop.is_none(), lines, stop }
}
