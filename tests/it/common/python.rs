//! python-mysql-replication as a real binlog client: a virtual environment
//! under `target/pyenv` with `mysql-replication==1.0.*` and PyMySQL from
//! PyPI (with `cryptography`, which PyMySQL needs for caching_sha2_password's
//! RSA exchange, and Oracle's `mysql-connector-python`), made once per test
//! process (and reused by later runs while it works), and
//! `tests/python/read_events.py`, which prints one JSON line per event it
//! reads.
//!
//! Where `python3`, its `venv` module or PyPI is missing the harness panics
//! and says what to install; a test never passes without the real client.

use super::tail;
use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The pip requirement for python-mysql-replication (1.0.17 was the newest
/// 1.0 release when this was written; `pip index versions mysql-replication`).
pub(crate) const MYSQL_REPLICATION_REQ: &str = "mysql-replication==1.0.*";
/// What to install when python3 or its venv module is missing.
pub(crate) const PYTHON_HINT: &str =
    "apt-get install python3 python3-venv (as root: apt-get update && \
     DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv)";

/// The venv's python interpreter, with mysql-replication 1.0.x and PyMySQL
/// importable. Made on first use in this process.
///
/// # Panics
/// If python3, its venv module or PyPI is unavailable.
pub(crate) fn venv_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(make_venv)
}

/// `target/` (the directory holding the profile directory of the binary
/// under test).
fn target_dir() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_binlogserver"));
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// The check that a venv works: both packages import, and the library is a
/// 1.0 release. `Ok(version)` or `Err(why)`.
fn venv_works(python: &Path) -> Result<String, String> {
    let out = Command::new(python)
        .args([
            "-c",
            "import importlib.metadata as m, pymysql, pymysqlreplication\n\
             import cryptography, mysql.connector\n\
             v = m.version('mysql-replication')\n\
             assert v.startswith('1.0.'), v\n\
             print(v, m.version('PyMySQL'))",
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{} exited with {}: {}",
            python.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn make_venv() -> PathBuf {
    let begin = Instant::now();
    let venv = target_dir().join("pyenv");
    let python = venv.join("bin").join("python");
    match venv_works(&python) {
        Ok(versions) => {
            eprintln!("reusing {} (mysql-replication, PyMySQL: {versions})", venv.display());
            return python;
        }
        Err(why) if venv.exists() => {
            eprintln!("{} does not work, making it again: {why}", venv.display())
        }
        Err(_) => {}
    }
    let python3 = find_python3();
    // Made beside the final place and renamed into it, so that an
    // interrupted install never leaves a half-made venv at target/pyenv.
    let tmp = target_dir().join(format!("pyenv.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(target_dir()).expect("create target/");
    let out = run(Command::new(&python3).args(["-m", "venv"]).arg(&tmp));
    if !out.status.success() {
        let _ = fs::remove_dir_all(&tmp);
        panic!(
            "`{} -m venv {}` failed with {}: the tests need python3's venv module \
             (with ensurepip). Install it with: {PYTHON_HINT}\n{}",
            python3.display(),
            tmp.display(),
            out.status,
            output_text(&out)
        );
    }
    let tmp_python = tmp.join("bin").join("python");
    let out = run(Command::new(&tmp_python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            MYSQL_REPLICATION_REQ,
            "PyMySQL",
            "cryptography",
            "mysql-connector-python",
        ])
        .env("PIP_NO_INPUT", "1"));
    if !out.status.success() {
        let _ = fs::remove_dir_all(&tmp);
        panic!(
            "`pip install '{MYSQL_REPLICATION_REQ}' PyMySQL` failed with {}: the tests need \
             python-mysql-replication from PyPI (is PyPI reachable, or a pip mirror configured?)\n\
             {}",
            out.status,
            output_text(&out)
        );
    }
    let versions = venv_works(&tmp_python)
        .unwrap_or_else(|why| panic!("the new venv {} does not work: {why}", tmp.display()));
    let _ = fs::remove_dir_all(&venv);
    if let Err(e) = fs::rename(&tmp, &venv) {
        // Another test process may have made it in the meantime.
        let _ = fs::remove_dir_all(&tmp);
        if let Err(why) = venv_works(&python) {
            panic!(
                "cannot move {} to {}: {e}; and that one does not work: {why}",
                tmp.display(),
                venv.display()
            );
        }
    }
    // A venv records its own path in its scripts, not in bin/python, which
    // is all the tests use; check it again where it now is.
    venv_works(&python)
        .unwrap_or_else(|why| panic!("the venv moved to {} does not work: {why}", venv.display()));
    eprintln!(
        "made {} in {} ms (mysql-replication, PyMySQL: {versions})",
        venv.display(),
        begin.elapsed().as_millis()
    );
    python
}

fn find_python3() -> PathBuf {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(["/usr/bin", "/usr/local/bin"].iter().map(PathBuf::from))
        .map(|dir| dir.join("python3"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`python3` was not found on PATH: the tests need it. Install it with: {PYTHON_HINT}"
            )
        })
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn output_text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        tail(&String::from_utf8_lossy(&out.stdout), 30),
        tail(&String::from_utf8_lossy(&out.stderr), 30)
    )
}

/// How `read_events.py` connects and where it starts.
#[derive(Clone, Debug)]
pub(crate) struct ReadOpts {
    /// TCP port on 127.0.0.1.
    pub(crate) port: u16,
    /// Account.
    pub(crate) user: String,
    /// Its password.
    pub(crate) password: String,
    /// The client's server id (the library's examples use 4242... any id
    /// not used by a server of the test).
    pub(crate) server_id: u32,
    /// `is_mariadb=True` (MariaDB dump: empty file name, position 4, or
    /// `@slave_connect_state` with `gtid`).
    pub(crate) mariadb: bool,
    /// MariaDB: ask for ANNOTATE_ROWS events.
    pub(crate) annotate: bool,
    /// MySQL mode: `log_file`/`log_pos` with `resume_stream`.
    pub(crate) log_file: Option<String>,
    /// With `log_file`.
    pub(crate) log_pos: Option<u64>,
    /// `auto_position`: a MySQL GTID set or a MariaDB GTID position.
    pub(crate) gtid: Option<String>,
    /// `--max-events` (for a blocking read).
    pub(crate) max_events: Option<usize>,
    /// Blocking dump (no EOF at the end).
    pub(crate) blocking: bool,
    /// How long the whole read may take.
    pub(crate) timeout: Duration,
}

impl ReadOpts {
    /// A non-blocking read from `port` as `user`, MySQL mode, from the
    /// server's choice of start (set the other fields as needed).
    pub(crate) fn new(port: u16, user: &str, password: &str) -> ReadOpts {
        ReadOpts {
            port,
            user: user.to_owned(),
            password: password.to_owned(),
            server_id: 4242,
            mariadb: false,
            annotate: false,
            log_file: None,
            log_pos: None,
            gtid: None,
            max_events: None,
            blocking: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// One event as python-mysql-replication read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PyEvent {
    /// The library's class name, e.g. `MariadbGtidEvent`.
    pub(crate) class: String,
    /// The header's type code.
    pub(crate) type_code: u8,
    /// The header's `log_pos`.
    pub(crate) log_pos: u64,
    /// The header's event size.
    pub(crate) size: u64,
    /// Bytes actually received for it.
    pub(crate) received: u64,
    /// The header's flags.
    pub(crate) flags: u16,
    /// The header's timestamp.
    pub(crate) timestamp: u64,
    /// The header's server id.
    pub(crate) server_id: u64,
    /// Whether its CRC32 footer matches its bytes (None without checksums).
    pub(crate) crc_ok: Option<bool>,
    /// The CRC32 footer (None without checksums).
    pub(crate) footer: Option<u32>,
    /// GTID events: the GTID as the library prints it.
    pub(crate) gtid: Option<String>,
    /// ROTATE: the file it names.
    pub(crate) next_file: Option<String>,
    /// ROTATE: the position it names.
    pub(crate) position: Option<u64>,
}

impl PyEvent {
    /// LOG_EVENT_ARTIFICIAL_F.
    pub(crate) fn is_artificial(&self) -> bool {
        self.flags & 0x20 != 0
    }
}

/// What one run of `read_events.py` printed.
#[derive(Debug)]
pub(crate) struct PyRead {
    /// The events, in order.
    pub(crate) events: Vec<PyEvent>,
    /// How the read ended: `eof` or `limit`.
    pub(crate) end: String,
    /// Its stderr (warnings of the library).
    pub(crate) stderr: String,
    /// The command line, for messages.
    pub(crate) command: String,
}

/// Runs `tests/python/read_events.py` with `opts` in the venv and parses
/// its output.
///
/// # Panics
/// If the script fails, reports an error, prints something unparsable or
/// does not finish within `opts.timeout`; the message holds its output.
pub(crate) fn read_events(opts: &ReadOpts) -> PyRead {
    try_read_events(opts).unwrap_or_else(|e| panic!("{e}"))
}

/// [`read_events`], but an error that the client reports (e.g. the
/// server's refusal of a dump: `OperationalError: (1236, '...')`) is
/// returned as `Err(message with context)`. Everything else still panics.
pub(crate) fn try_read_events(opts: &ReadOpts) -> Result<PyRead, String> {
    let python = venv_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_events.py");
    let mut args: Vec<String> = vec![
        script.display().to_string(),
        "--port".into(),
        opts.port.to_string(),
        "--user".into(),
        opts.user.clone(),
        "--password".into(),
        opts.password.clone(),
        "--server-id".into(),
        opts.server_id.to_string(),
        "--read-timeout".into(),
        opts.timeout.as_secs().max(1).to_string(),
    ];
    if opts.mariadb {
        args.push("--mariadb".into());
    }
    if opts.annotate {
        args.push("--annotate".into());
    }
    if let Some(f) = &opts.log_file {
        args.extend(["--log-file".into(), f.clone()]);
    }
    if let Some(p) = opts.log_pos {
        args.extend(["--log-pos".into(), p.to_string()]);
    }
    if let Some(g) = &opts.gtid {
        args.extend(["--gtid".into(), g.clone()]);
    }
    if let Some(n) = opts.max_events {
        args.extend(["--max-events".into(), n.to_string()]);
    }
    if opts.blocking {
        args.push("--blocking".into());
    }
    let command = format!("{} {}", python.display(), args.join(" "));
    let dir = super::TestDir::new("pyread");
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let mut child = Command::new(python)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).expect("create stdout file"))
        .stderr(fs::File::create(&err_path).expect("create stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
    let status = super::try_wait_for(opts.timeout + Duration::from_secs(10), || {
        child.try_wait().expect("try_wait on python")
    });
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = fs::read_to_string(&err_path).unwrap_or_default();
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "read_events.py did not finish within {:?} (no EOF from the server?): {command}\n\
             last stdout lines:\n{}\nstderr:\n{}",
            opts.timeout + Duration::from_secs(10),
            tail(&stdout, 15),
            tail(&stderr, 30)
        );
    };
    let fail = |why: String| -> ! {
        panic!(
            "read_events.py: {why}\ncommand: {command}\nexit: {status}\nlast stdout lines:\n{}\n\
             stderr:\n{}",
            tail(&stdout, 15),
            tail(&stderr, 30)
        )
    };
    let mut events = Vec::new();
    let mut end = None;
    for (i, line) in stdout.lines().enumerate() {
        let obj = parse_flat_json(line).unwrap_or_else(|e| {
            fail(format!("line {} is not a flat JSON object ({e}): {line}", i + 1))
        });
        if let Some(err) = obj.get("error") {
            return Err(format!(
                "read_events.py: the client failed after {} events: {}\ncommand: {command}\n\
                 last stdout lines:\n{}\nstderr:\n{}",
                events.len(),
                err.as_str(),
                tail(&stdout, 15),
                tail(&stderr, 30)
            ));
        }
        if let Some(summary) = obj.get("summary") {
            let n = obj.get("events").map(Json::as_u64);
            if n != Some(events.len() as u64) {
                fail(format!("summary counts {n:?} events, {} lines were printed", events.len()));
            }
            end = Some(summary.as_str().to_owned());
            continue;
        }
        let get = |k: &str| obj.get(k).unwrap_or_else(|| fail(format!("no {k:?} in {line}")));
        let opt_str = |k: &str| obj.get(k).and_then(Json::opt_str);
        events.push(PyEvent {
            class: get("event").as_str().to_owned(),
            type_code: u8::try_from(get("type").as_u64())
                .unwrap_or_else(|_| fail(format!("bad type in {line}"))),
            log_pos: get("log_pos").as_u64(),
            size: get("size").as_u64(),
            received: get("received").as_u64(),
            flags: u16::try_from(get("flags").as_u64())
                .unwrap_or_else(|_| fail(format!("bad flags in {line}"))),
            timestamp: get("timestamp").as_u64(),
            server_id: get("server_id").as_u64(),
            crc_ok: get("crc_ok").opt_bool(),
            footer: obj.get("footer").and_then(Json::opt_u64).map(|f| {
                u32::try_from(f).unwrap_or_else(|_| fail(format!("bad footer in {line}")))
            }),
            gtid: opt_str("gtid"),
            next_file: opt_str("next_file"),
            position: obj.get("position").and_then(Json::opt_u64),
        });
    }
    if !status.success() {
        fail("it exited with a failure".to_owned());
    }
    let Some(end) = end else {
        fail("no summary line".to_owned());
    };
    Ok(PyRead { events, end, stderr, command })
}

/// A value of a flat JSON object.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    /// A string.
    Str(String),
    /// A number (integers only are expected; others keep their text).
    Num(String),
    /// true / false.
    Bool(bool),
    /// null.
    Null,
}

impl Json {
    fn as_str(&self) -> &str {
        match self {
            Json::Str(s) | Json::Num(s) => s,
            Json::Bool(true) => "true",
            Json::Bool(false) => "false",
            Json::Null => "null",
        }
    }

    fn as_u64(&self) -> u64 {
        self.opt_u64().unwrap_or_else(|| panic!("expected a non-negative integer, got {self:?}"))
    }

    fn opt_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => n.parse().ok(),
            _ => None,
        }
    }

    fn opt_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn opt_str(&self) -> Option<String> {
        match self {
            Json::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
}

/// Parses one JSON object whose values are strings, numbers, booleans or
/// null (what `read_events.py` prints): no nesting.
pub(crate) fn parse_flat_json(line: &str) -> Result<BTreeMap<String, Json>, String> {
    let mut p = JsonParser { s: line.trim().as_bytes(), i: 0 };
    let mut out = BTreeMap::new();
    p.expect(b'{')?;
    p.ws();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.expect(b':')?;
            p.ws();
            let value = p.value()?;
            out.insert(key, value);
            p.ws();
            match p.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                other => return Err(format!("expected , or }} at {}, got {other:?}", p.i)),
            }
        }
    }
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing characters at {}", p.i));
    }
    Ok(out)
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.next() {
            Some(got) if got == c => Ok(()),
            got => Err(format!("expected {:?} at {}, got {got:?}", c as char, self.i - 1)),
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(())
        } else {
            Err(format!("bad literal at {}", self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        match self.peek() {
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.literal("true").map(|()| Json::Bool(true)),
            Some(b'f') => self.literal("false").map(|()| Json::Bool(false)),
            Some(b'n') => self.literal("null").map(|()| Json::Null),
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while matches!(self.peek(), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
                    self.i += 1;
                }
                Ok(Json::Num(String::from_utf8_lossy(&self.s[start..self.i]).into_owned()))
            }
            other => {
                Err(format!("unexpected {other:?} at {} (nested values are not supported)", self.i))
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out: Vec<u16> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        // Collect raw UTF-8 bytes and \u escapes (possibly surrogate pairs).
        let flush = |bytes: &mut Vec<u8>, out: &mut Vec<u16>| {
            out.extend(String::from_utf8_lossy(bytes).encode_utf16());
            bytes.clear();
        };
        loop {
            match self.next() {
                None => return Err("unterminated string".to_owned()),
                Some(b'"') => break,
                Some(b'\\') => {
                    let esc = self.next().ok_or("unterminated escape")?;
                    let c = match esc {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
                            let unit = u16::from_str_radix(&String::from_utf8_lossy(hex), 16)
                                .map_err(|e| format!("bad \\u escape: {e}"))?;
                            self.i += 4;
                            flush(&mut bytes, &mut out);
                            out.push(unit);
                            continue;
                        }
                        other => return Err(format!("bad escape \\{}", other as char)),
                    };
                    bytes.push(c);
                }
                Some(c) => bytes.push(c),
            }
        }
        flush(&mut bytes, &mut out);
        Ok(String::from_utf16_lossy(&out))
    }
}
