//! The protocol notes live in the repository, and what cites them resolves.
//!
//! Comments cite the notes as `docs/protocol.md` plus a section sign and a
//! section number (`5.4`). Over every text file of `src/`, `tests/`, `etc/`,
//! `.ci/` and the README this checks that:
//!
//! * every cited section exists as a heading of docs/protocol.md
//!   (`## 5. Title` is section 5, `### 5.4 Title` section 5.4);
//! * every section sign sits on a line that names docs/protocol.md, so a
//!   reader can tell which document a number belongs to;
//! * nothing cites notes that are not in the repository: the protocol
//!   notes named without their `docs/` directory, or the old peers notes.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The section sign, spelled as an escape so this file cites nothing itself.
const SECTION_SIGN: char = '\u{a7}';
/// The notes' file name, built so that this file holds no bare mention.
const PROTOCOL_MD: &str = concat!("protocol", ".md");
/// Where the notes are, relative to the repository.
const DOC: &str = concat!("docs/", "protocol", ".md");
/// The old peers notes, folded into docs/protocol.md section 10.
const PEERS_MD: &str = concat!("peers", ".md");

/// Directories scanned, relative to the repository.
const SCANNED_DIRS: &[&str] = &["src", "tests", "etc", ".ci"];
/// Single files scanned.
const SCANNED_FILES: &[&str] = &["README.md"];
/// Extensions of the text files looked at (plus extension-less scripts in `.ci/`).
const TEXT_EXTENSIONS: &[&str] = &["rs", "md", "py", "sh", "toml", "conf", "service", "txt"];
/// Build output and fuzzing state: large, generated, never cited from.
const SKIPPED_DIRS: &[&str] = &["target", "corpus", "artifacts", "coverage"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The section numbers of the headings of `doc`: `## 5. Semi-sync` gives
/// `5`, `### 5.4 The ACK packet` gives `5.4`.
fn headings(doc: &str) -> Vec<String> {
    doc.lines()
        .filter(|l| l.starts_with("##"))
        .filter_map(|l| {
            let title = l.trim_start_matches('#').trim_start();
            let number: String =
                title.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            let number = number.trim_end_matches('.');
            (!number.is_empty()).then(|| number.to_owned())
        })
        .collect()
}

/// The section numbers cited on `line`: digits and dots after each section
/// sign, without a trailing dot (the end of a sentence).
fn cited(line: &str) -> Vec<String> {
    line.split(SECTION_SIGN)
        .skip(1)
        .map(|rest| {
            let number: String =
                rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            number.trim_end_matches('.').to_owned()
        })
        .collect()
}

fn is_text(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => TEXT_EXTENSIONS.contains(&ext),
        None => path.parent().and_then(Path::file_name).is_some_and(|d| d == ".ci"),
    }
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.expect("read directory entry").path();
        if path.is_dir() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if !SKIPPED_DIRS.contains(&name) {
                text_files(&path, out);
            }
        } else if is_text(&path) {
            out.push(path);
        }
    }
}

fn scanned_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in SCANNED_DIRS {
        text_files(&repo().join(dir), &mut files);
    }
    files.extend(SCANNED_FILES.iter().map(|f| repo().join(f)));
    files.sort();
    files
}

/// Adds what is wrong with one line to `problems`; returns how many
/// sections the line cites.
fn check_line(line: &str, sections: &BTreeSet<String>, problems: &mut Vec<String>) -> usize {
    if line.contains(PEERS_MD) {
        problems.push(format!("cites {PEERS_MD}, which is not in the repository (see {DOC})"));
    }
    let bare = line.match_indices(PROTOCOL_MD).any(|(at, _)| !line[..at].ends_with("docs/"));
    if bare {
        problems.push(format!("cites {PROTOCOL_MD} without its directory; write {DOC}"));
    }
    let numbers = cited(line);
    if numbers.is_empty() {
        return 0;
    }
    if !line.contains(DOC) {
        problems.push(format!("a section sign on a line that does not name {DOC}"));
    }
    for number in &numbers {
        if !sections.contains(number) {
            problems.push(format!("cites section {number:?}, which {DOC} does not have"));
        }
    }
    numbers.len()
}

#[test]
fn protocol_notes_have_unique_numbered_sections() {
    let doc = fs::read_to_string(repo().join(DOC)).expect("docs/protocol.md is in the repository");
    let numbers = headings(&doc);
    let unique: BTreeSet<&String> = numbers.iter().collect();
    assert_eq!(unique.len(), numbers.len(), "a section number is used twice: {numbers:?}");
    for want in ["1", "5", "5.4", "8.17", "10.1"] {
        assert!(unique.contains(&want.to_owned()), "no section {want} in {DOC}");
    }
}

#[test]
fn every_cited_protocol_section_exists() {
    let doc = fs::read_to_string(repo().join(DOC)).expect("docs/protocol.md is in the repository");
    let sections: BTreeSet<String> = headings(&doc).into_iter().collect();
    let mut problems = Vec::new();
    let mut citations = 0;
    for file in scanned_files() {
        let Ok(text) = fs::read_to_string(&file) else { continue };
        let shown = file.strip_prefix(repo()).unwrap_or(&file).display().to_string();
        for (n, line) in text.lines().enumerate() {
            let mut found = Vec::new();
            citations += check_line(line, &sections, &mut found);
            problems.extend(found.into_iter().map(|p| format!("{shown}:{}: {p}", n + 1)));
        }
    }
    assert!(problems.is_empty(), "bad references to the protocol notes:\n{}", problems.join("\n"));
    // The sources cite the notes in dozens of places; finding none means the
    // scan looked in the wrong place, not that all is well.
    assert!(citations >= 30, "only {citations} citations of {DOC} found");
}

#[test]
fn the_checker_catches_what_it_should() {
    let sections: BTreeSet<String> = ["5", "5.4"].map(String::from).into_iter().collect();
    let sign = SECTION_SIGN;
    let line = |s: &str| s.replace('S', &sign.to_string());
    let check = |s: &str| {
        let mut problems = Vec::new();
        check_line(&line(s), &sections, &mut problems);
        problems
    };
    assert!(check(&format!("// see {DOC} S5.4 and S5.")).is_empty());
    assert_eq!(check(&format!("// see {DOC} S5.5")).len(), 1, "a missing section");
    assert_eq!(check("// see S5.4").len(), 1, "a section sign without the document");
    assert_eq!(check(&format!("// see {PROTOCOL_MD} S5.4")).len(), 2, "a bare file name");
    assert_eq!(check(&format!("// see {PEERS_MD}")).len(), 1, "the old peers notes");
    assert_eq!(headings("## 5. Semi\n### 5.4 The ACK\n#### x\n"), ["5", "5.4"]);
}
