//! The layering rules, checked on the source: every `crate::` path (and
//! every `super::` path that climbs to the crate root) of every module
//! under `src/` must point to a layer strictly below the module's own.
//!
//! ```text
//! top     lib.rs, main.rs, cli, cnf, config, accounts, error, help, fuzzing, signals, supervise
//! 4       metrics (the exporter), tools
//! 3       upstream | server        (side by side: never each other)
//! 2       storage
//! 1       binlog, net, objstore, status
//! 0       protocol, shutdown, hexdump
//! ```
//!
//! On top of that the codec (`protocol/`, `binlog/`) does no I/O: no
//! `std::fs`, `std::net`, `std::thread`, `std::process` and no socket or
//! file types. A new top-level module must be given its layer here.

use std::fs;
use std::path::{Path, PathBuf};

/// The layer of each top-level module; `None` for the top (may import
/// anything, may be imported by nothing below it).
const LAYERS: &[(&str, Option<u8>)] = &[
    ("protocol", Some(0)),
    ("shutdown", Some(0)),
    ("hexdump", Some(0)),
    ("binlog", Some(1)),
    ("net", Some(1)),
    ("objstore", Some(1)),
    ("status", Some(1)),
    ("storage", Some(2)),
    ("upstream", Some(3)),
    ("server", Some(3)),
    ("metrics", Some(4)),
    ("tools", Some(4)),
    ("accounts", None),
    ("cli", None),
    ("cnf", None),
    ("config", None),
    ("error", None),
    ("help", None),
    ("signals", None),
    ("supervise", None),
    ("fuzzing", None),
];

/// Modules that are the codec: bytes in, values out, no I/O.
const CODEC: &[&str] = &["protocol", "binlog"];

/// What the codec must not name.
const CODEC_BANNED: &[&str] = &[
    "std::fs",
    "std::net",
    "std::thread",
    "std::process",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "UnixStream",
    "File::",
    "OpenOptions",
];

fn layer_of(module: &str) -> Result<Option<u8>, String> {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, l)| *l)
        .ok_or_else(|| format!("module `{module}` has no layer in tests/it/layering.rs"))
}

/// The module path of a source file: `src/server/dump/start.rs` is
/// `["server", "dump", "start"]`, `src/server/mod.rs` is `["server"]`,
/// `src/cnf_tests.rs` is `["cnf", "tests"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> =
        rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    // `x_tests.rs` is `x`'s `#[path]` test module.
    if let Some(last) = parts.pop() {
        match last.strip_suffix("_tests") {
            Some(parent) => parts.extend([parent.to_owned(), "tests".to_owned()]),
            None => parts.push(last),
        }
    }
    parts
}

/// The code of a file without comments (line comments, doc comments and
/// block comments) and without string literals' contents.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut depth = 0usize;
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if depth > 0 {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                depth -= 1;
            } else if c == '/' && chars.peek() == Some(&'*') {
                chars.next();
                depth += 1;
            }
            continue;
        }
        if in_str {
            if c == '\\' {
                chars.next();
            } else if c == '"' {
                in_str = false;
                out.push('"');
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                depth = 1;
            }
            '"' => {
                in_str = true;
                out.push('"');
            }
            // A char literal such as '"' must not open a string.
            '\'' => {
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("\"'") || rest.starts_with("\\\"") {
                    chars.nth(rest.find('\'').unwrap_or(1));
                }
                out.push('\'');
            }
            _ => out.push(c),
        }
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a file's code names through `crate::` or through
/// `super::` chains that climb to the crate root, with their line numbers.
fn imports(code: &str, module: &[String]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let preceded =
                rest[..i].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_');
            let after = &rest[i + "crate::".len()..];
            if !preceded {
                if let Some(group) = after.strip_prefix('{') {
                    for item in group.split(',') {
                        let name = ident_at(item.trim_start());
                        if !name.is_empty() {
                            out.push((n + 1, name.to_owned()));
                        }
                        if item.contains('}') {
                            break;
                        }
                    }
                } else {
                    out.push((n + 1, ident_at(after).to_owned()));
                }
            }
            rest = after;
        }
        let mut rest = line;
        while let Some(i) = rest.find("super::") {
            let preceded =
                rest[..i].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_');
            let mut after = &rest[i..];
            let mut ups = 0;
            while let Some(a) = after.strip_prefix("super::") {
                ups += 1;
                after = a;
            }
            // `super` from a file's own module goes one up per step; a file
            // that is a module's mod.rs is that module itself.
            if !preceded && ups >= module.len() {
                let name = ident_at(after);
                if !name.is_empty() {
                    out.push((n + 1, name.to_owned()));
                }
            }
            rest = after;
        }
    }
    out
}

/// Every rule broken by one file, as messages naming file and line.
fn violations(file: &str, code: &str, module: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let Some(top) = module.first() else { return out };
    let own = match layer_of(top) {
        Ok(l) => l,
        Err(e) => return vec![format!("{file}: {e}")],
    };
    for (line, target) in imports(code, module) {
        if target == *top || target.is_empty() {
            continue;
        }
        let theirs = match layer_of(&target) {
            Ok(l) => l,
            Err(_) => continue, // `crate::Error`-style re-exports at the root
        };
        let ok = match (own, theirs) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => b < a,
        };
        if !ok {
            out.push(format!(
                "{file}:{line}: `{top}` (layer {}) imports `{target}` (layer {})",
                own.map_or("top".into(), |l| l.to_string()),
                theirs.map_or("top".into(), |l| l.to_string())
            ));
        }
    }
    if CODEC.contains(&top.as_str()) {
        for (n, l) in code.lines().enumerate() {
            for banned in CODEC_BANNED {
                if l.contains(banned) {
                    out.push(format!(
                        "{file}:{}: the codec names `{banned}` (no I/O there)",
                        n + 1
                    ));
                }
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn modules(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn every_module_imports_only_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 50, "found only {} files under {}", files.len(), src.display());
    let mut broken = Vec::new();
    let mut imports_seen = 0;
    for file in &files {
        let text = fs::read_to_string(file).expect("read source");
        let module = module_path(&src, file);
        let code = code_only(&text);
        imports_seen += imports(&code, &module).len();
        let shown = file.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(file);
        broken.extend(violations(&shown.display().to_string(), &code, &module));
    }
    assert!(imports_seen > 300, "only {imports_seen} crate paths found: the scan is broken");
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_catches_imports_up_and_sideways() {
    let server = modules(&["server", "dump"]);
    let code = "use crate::upstream::dump::DumpThread;\nuse crate::storage::writer::Writer;\n";
    assert_eq!(violations("s.rs", code, &server).len(), 1, "server -> upstream is sideways");
    let storage = modules(&["storage", "writer"]);
    let code = "use crate::{binlog::X, metrics::Counters};\n";
    assert_eq!(violations("w.rs", code, &storage).len(), 1, "storage -> metrics is up");
    let code = "fn f() { crate::server::info::x(); }\n";
    assert_eq!(violations("w.rs", code, &storage).len(), 1, "a path in an expression counts");
    let code = "use super::super::upstream::Y;\n";
    assert_eq!(violations("w.rs", code, &storage).len(), 1, "super:: climbing to the root");
    let code = "use super::index::BinlogIndex;\n";
    assert!(violations("w.rs", &code_only(code), &storage).is_empty(), "a sibling is fine");
    let code = "// use crate::server::X;\n/// [`crate::upstream`]\nlet s = \"crate::server\";\n";
    assert!(violations("w.rs", &code_only(code), &storage).is_empty(), "comments and strings");
    let proto = modules(&["protocol", "packet"]);
    let code = "use std::net::TcpStream;\n";
    assert_eq!(violations("p.rs", code, &proto).len(), 2, "the codec does no I/O");
    let code = "use crate::config::Config;\n";
    assert_eq!(violations("p.rs", code, &proto).len(), 1, "nothing below imports the top");
    assert!(violations("x.rs", "", &modules(&["newmod"]))[0].contains("no layer"));
}
