//! Every line of Rust under `src/` and `tests/` is at most 100 columns.
//!
//! rustfmt (`rustfmt.toml`: `max_width = 100`) cannot break a string
//! literal on stable, and when a statement holds one too long to fit it
//! leaves the whole statement unformatted without a word, so
//! `cargo fmt --check` passes over such lines. This scan catches them: break
//! the literal with a `\` continuation (the space goes before the
//! backslash; the newline and the next line's indentation are dropped) and
//! run `cargo fmt` again. Comments are rewrapped by hand.
//!
//! Columns are characters, not bytes. A line that must stay longer (a URL,
//! say) goes in [`ALLOWED`] with its reason; there is none today.

use std::fs;
use std::path::{Path, PathBuf};

const MAX_COLUMNS: usize = 100;

/// A line allowed past [`MAX_COLUMNS`]: (file, a substring of the line, why).
type Allowed = (&'static str, &'static str, &'static str);

/// The lines allowed past [`MAX_COLUMNS`]. Empty today: every long line could
/// be broken. Keep it short; an entry that matches no line fails the test,
/// so the list cannot go stale.
const ALLOWED: &[Allowed] = &[];

/// Directories not scanned: build output (the fuzz crate has its own target).
const SKIPPED_DIRS: &[&str] = &["target"];

/// Every `file:line (N columns)` of `text` over [`MAX_COLUMNS`] that
/// `allowed` does not name; the entries of `allowed` it used go to `used`.
fn long_lines(file: &str, text: &str, allowed: &[Allowed], used: &mut Vec<usize>) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let columns = line.chars().count();
        if columns <= MAX_COLUMNS {
            continue;
        }
        match allowed.iter().position(|(f, part, _)| *f == file && line.contains(part)) {
            Some(i) => used.push(i),
            None => out.push(format!("{file}:{} ({columns} columns)", n + 1)),
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            if !path.file_name().is_some_and(|n| SKIPPED_DIRS.iter().any(|s| n == *s)) {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_line_is_at_most_100_columns() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    files.sort();
    let fuzz_targets = files.iter().filter(|f| f.starts_with(root.join("tests/fuzz"))).count();
    assert!(files.len() > 100, "found only {} .rs files: the scan is broken", files.len());
    assert!(fuzz_targets > 0, "no .rs file under tests/fuzz: the scan is broken");
    let mut long = Vec::new();
    let mut used = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("read source");
        let shown = file.strip_prefix(root).unwrap_or(file).display().to_string();
        long.extend(long_lines(&shown, &text, ALLOWED, &mut used));
    }
    assert!(
        long.is_empty(),
        "lines over {MAX_COLUMNS} columns (break long string literals with a `\\` continuation, \
         then cargo fmt; rewrap comments):\n{}",
        long.join("\n")
    );
    let stale: Vec<_> =
        ALLOWED.iter().enumerate().filter(|(i, _)| !used.contains(i)).map(|(_, a)| a.0).collect();
    assert!(stale.is_empty(), "ALLOWED entries that match no long line: {stale:?}");
}

#[test]
fn the_scanner_counts_characters_and_names_file_and_line() {
    let mut used = Vec::new();
    let fits = format!("{}\n{}\n", "x".repeat(100), "é".repeat(100));
    assert!(long_lines("a.rs", &fits, &[], &mut used).is_empty(), "100 columns fit, in UTF-8 too");
    let text = format!("fn f() {{}}\n    let s = \"{}\";\n// ok\n", "y".repeat(88));
    assert_eq!(long_lines("a.rs", &text, &[], &mut used), ["a.rs:2 (103 columns)"]);
    let text = format!("/// {}\n{}\n", "z".repeat(97), "é".repeat(101));
    assert_eq!(
        long_lines("b.rs", &text, &[], &mut used),
        ["b.rs:1 (101 columns)", "b.rs:2 (101 columns)"]
    );
    assert!(used.is_empty());
    let allowed: &[Allowed] = &[("b.rs", "zzz", "a test"), ("c.rs", "é", "another file")];
    assert_eq!(long_lines("b.rs", &text, allowed, &mut used), ["b.rs:2 (101 columns)"]);
    assert_eq!(used, [0], "the entry that matched is counted as used");
}
