//! A real `mariadbd` primary on 127.0.0.1, in its own temporary directory,
//! killed on drop.
//!
//! `mariadb-install-db` runs once per test process into a pristine template
//! directory; every server starts from a copy of it. Stale templates of test
//! processes that no longer exist are removed when the next one is made.

use super::{free_port, running_as_root, tail, tail_file, tool, wait_for, TestDir};
use std::env;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server may take to start or to shut down.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// InnoDB sizes, identical for install-db and the server so that the server
/// never has to resize the redo log at start.
const INNODB_ARGS: [&str; 2] = ["--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M"];
/// Stands for the server's datadir in `role_args` and `extra_args`, e.g.
/// `--log-bin={datadir}/mysql-bin` for a primary with an absolute `log_bin`
/// (whose index then lists absolute paths).
pub(crate) const DATADIR: &str = "{datadir}";
/// The replication account every primary gets.
pub(crate) const REPL_USER: &str = "repl";
/// Its password.
pub(crate) const REPL_PASSWORD: &str = "replpass";

/// How to start a primary.
#[derive(Clone, Debug)]
pub(crate) struct PrimaryOpts {
    /// `--rpl-semi-sync-master-enabled` (with wait point AFTER_SYNC).
    pub(crate) semi_sync: bool,
    /// `--rpl-semi-sync-master-timeout` in milliseconds.
    pub(crate) semi_sync_timeout_ms: u64,
    /// `--binlog-format`.
    pub(crate) binlog_format: String,
    /// TLS: `--ssl-cert`, `--ssl-key`, `--ssl-ca` (PEM paths, e.g. from
    /// [`super::Certs`]); `None`: no TLS (`@@have_ssl` DISABLED).
    pub(crate) ssl: Option<[String; 3]>,
    /// Appended last, so they override the defaults above.
    pub(crate) extra_args: Vec<String>,
}

impl Default for PrimaryOpts {
    fn default() -> PrimaryOpts {
        PrimaryOpts {
            semi_sync: true,
            semi_sync_timeout_ms: 2000,
            binlog_format: "ROW".to_owned(),
            ssl: None,
            extra_args: Vec::new(),
        }
    }
}

/// A running `mariadbd` primary with binary logging, GTID strict mode and
/// (by default) semi-sync, plus a `repl`@`%` account for replicas.
#[derive(Debug)]
pub(crate) struct MariaDb {
    child: Option<Child>,
    port: u16,
    datadir: PathBuf,
    startup: Duration,
    role_args: Vec<String>,
    // Dropped last: the process is killed before its files are removed.
    dir: TestDir,
}

impl MariaDb {
    /// Starts a fresh primary and waits until it accepts connections.
    ///
    /// # Panics
    /// If `mariadbd`, `mariadb-install-db` or `mariadb` is missing (the
    /// message says what to install), or if the server does not start.
    pub(crate) fn primary(opts: PrimaryOpts) -> MariaDb {
        let begin = Instant::now();
        let mut db = MariaDb::launch("primary", &primary_args(&opts));
        db.create_repl_user();
        db.startup = begin.elapsed();
        eprintln!(
            "mariadbd primary ready on 127.0.0.1:{} in {} ms ({})",
            db.port,
            db.startup.as_millis(),
            db.datadir.display()
        );
        db
    }

    /// Starts a `mariadbd` from a copy of the template datadir in a new
    /// [`TestDir`] named after `label`, with the options every server of the
    /// harness gets (datadir, socket, a free port on 127.0.0.1, error log,
    /// InnoDB sizes, ...) followed by `role_args`, and waits until it accepts
    /// connections. Retries with another port if the chosen one was taken.
    ///
    /// # Panics
    /// If a tool is missing (the message says what to install) or the server
    /// does not start.
    pub(crate) fn launch(label: &str, role_args: &[String]) -> MariaDb {
        let begin = Instant::now();
        let mariadbd = tool("mariadbd");
        tool("mariadb");
        let template = template();
        let dir = TestDir::new(label);
        let datadir = dir.join("data");
        for _attempt in 0..5 {
            copy_tree(template, &datadir);
            let port = free_port();
            let mut child = spawn_mariadbd(&mariadbd, &dir, &datadir, port, role_args);
            match wait_ready(&mut child, port, &datadir) {
                Ready::Yes => {
                    return MariaDb {
                        child: Some(child),
                        port,
                        datadir,
                        startup: begin.elapsed(),
                        role_args: role_args.to_vec(),
                        dir,
                    };
                }
                Ready::PortTaken => {
                    eprintln!("port {port} was taken before mariadbd could bind it; retrying");
                    fs::remove_dir_all(&datadir).expect("remove the datadir of the failed attempt");
                }
            }
        }
        panic!("mariadbd ({label}) could not bind a free port in 5 attempts");
    }

    /// How long [`MariaDb::primary`] took, including the account setup.
    pub(crate) fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The TCP port on 127.0.0.1.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The server's datadir (holds `mysql-bin.*`).
    pub(crate) fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The path of one of the primary's binlog files.
    pub(crate) fn binlog_path(&self, name: &str) -> PathBuf {
        self.datadir.join(name)
    }

    /// The server's error log.
    pub(crate) fn error_log(&self) -> String {
        fs::read_to_string(self.datadir.join("error.log")).unwrap_or_default()
    }

    /// A `mariadb` client command for this server, as root over TCP, batch
    /// mode without column names.
    pub(crate) fn client(&self) -> Command {
        client_command(self.port)
    }

    /// A long-lived `mariadb --unbuffered` session fed statements on stdin,
    /// its answers on stdout (the load generators' clients).
    pub(crate) fn piped_client(&self) -> Child {
        self.client()
            .arg("--unbuffered")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn a load client")
    }

    /// Runs `stmt` (one or more statements) and returns stdout, trimmed.
    ///
    /// # Panics
    /// If the client fails; the message holds the statement and stderr.
    pub(crate) fn sql(&self, stmt: &str) -> String {
        self.try_sql(stmt).unwrap_or_else(|e| panic!("SQL failed: {stmt}\n{e}"))
    }

    /// Runs `stmt`; `Err` holds the client's stderr and exit status.
    pub(crate) fn try_sql(&self, stmt: &str) -> Result<String, String> {
        let out = self.client().arg("-e").arg(stmt).output().expect("spawn the mariadb client");
        output_result(out)
    }

    /// Feeds `script` to the client on stdin (for long scripts) and returns
    /// stdout, trimmed.
    ///
    /// # Panics
    /// If the client fails; the message holds stderr and the script's start.
    pub(crate) fn sql_script(&self, script: &str) -> String {
        let mut child = self
            .client()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the mariadb client");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let out = thread::scope(|s| {
            // Write from another thread so a chatty script cannot deadlock on
            // a full stdout pipe.
            let writer = s.spawn(move || stdin.write_all(script.as_bytes()));
            let out = child.wait_with_output().expect("wait for the mariadb client");
            // A write error means the client exited early; its stderr says why.
            let _ = writer.join().expect("stdin writer thread");
            out
        });
        let head: String = script.chars().take(400).collect();
        output_result(out)
            .unwrap_or_else(|e| panic!("SQL script failed: {e}\nscript starts:\n{head}"))
    }

    /// `SHOW GLOBAL STATUS LIKE 'name'`, the value.
    pub(crate) fn status_var(&self, name: &str) -> String {
        let row = self.sql(&format!("SHOW GLOBAL STATUS LIKE '{name}'"));
        match row.split_once('\t') {
            Some((_, value)) => value.to_owned(),
            None => panic!("no status variable {name}"),
        }
    }

    /// A numeric status variable.
    pub(crate) fn status_u64(&self, name: &str) -> u64 {
        let v = self.status_var(name);
        v.parse().unwrap_or_else(|_| panic!("status variable {name} = {v:?} is not a number"))
    }

    /// `SHOW BINARY LOGS`: (file name, size) in order.
    pub(crate) fn binlog_files(&self) -> Vec<(String, u64)> {
        self.sql("SHOW BINARY LOGS")
            .lines()
            .map(|line| {
                let mut cols = line.split('\t');
                let name = cols.next().unwrap_or_default().to_owned();
                let size = cols.next().and_then(|s| s.parse().ok());
                (name, size.unwrap_or_else(|| panic!("bad SHOW BINARY LOGS row {line:?}")))
            })
            .collect()
    }

    /// `SHOW MASTER STATUS`: the live file and its end position.
    pub(crate) fn master_status(&self) -> (String, u64) {
        let row = self.sql("SHOW MASTER STATUS");
        let mut cols = row.split('\t');
        let file = cols.next().unwrap_or_default().to_owned();
        let pos = cols.next().and_then(|s| s.parse().ok());
        (file, pos.unwrap_or_else(|| panic!("bad SHOW MASTER STATUS row {row:?}")))
    }

    /// `@@GLOBAL.gtid_binlog_pos`, e.g. `0-1-42`.
    pub(crate) fn gtid_binlog_pos(&self) -> String {
        self.sql("SELECT @@GLOBAL.gtid_binlog_pos")
    }

    /// The sequence number of domain 0 in `gtid_binlog_pos` (0 when empty):
    /// the number of transactions written to the binlog so far, as the
    /// harness only ever uses domain 0 and server id 1.
    pub(crate) fn gtid_seq(&self) -> u64 {
        gtid_seq_of(&self.gtid_binlog_pos())
    }

    /// Connection ids of the `Binlog Dump` threads (connected replicas).
    pub(crate) fn dump_threads(&self) -> Vec<u64> {
        self.sql("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Kills every `Binlog Dump` connection; returns the ids it killed.
    pub(crate) fn kill_dump_threads(&self) -> Vec<u64> {
        self.dump_threads()
            .into_iter()
            // The thread may end on its own between the SELECT and the KILL.
            .filter(|id| self.try_sql(&format!("KILL CONNECTION {id}")).is_ok())
            .collect()
    }

    /// Clean `SHUTDOWN`, waiting until the process has exited.
    pub(crate) fn shutdown(&mut self) {
        // The client may see the connection drop instead of an OK.
        let _ = self.try_sql("SHUTDOWN");
        let Some(mut child) = self.child.take() else {
            return;
        };
        let status = wait_for(START_TIMEOUT, "mariadbd to exit after SHUTDOWN", || {
            child.try_wait().expect("try_wait on mariadbd")
        });
        assert!(status.success(), "mariadbd exited with {status} after SHUTDOWN");
    }

    /// Starts the server again after [`MariaDb::shutdown`] or
    /// [`MariaDb::stop`]: same datadir, port and options (a primary opens
    /// a new binlog file). Panics if it does not come up.
    pub(crate) fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running mariadbd");
        let dir = &self.dir;
        let mut child =
            spawn_mariadbd(&tool("mariadbd"), dir, &self.datadir, self.port, &self.role_args);
        match wait_ready(&mut child, self.port, &self.datadir) {
            Ready::Yes => self.child = Some(child),
            Ready::PortTaken => panic!("port {} was taken while mariadbd was down", self.port),
        }
    }

    /// Adds `args` to the options a [`MariaDb::restart`] starts the server
    /// with (after the others, so they override them): a replica promoted
    /// at run time stays a primary across a restart.
    pub(super) fn add_role_args(&mut self, args: &[&str]) {
        self.role_args.extend(args.iter().map(|a| (*a).to_owned()));
    }

    /// SIGKILL, waiting until the process has exited.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Creates the replication account (a promoted replica needs it too).
    pub(crate) fn create_repl_user(&self) {
        // Not written to the binlog: with semi-sync on and no replica yet, a
        // binlogged statement would wait for the full semi-sync timeout and
        // switch semi-sync off before the test even starts.
        self.sql(&format!(
            "SET SESSION sql_log_bin = 0; \
             CREATE USER {REPL_USER}@'%' IDENTIFIED BY '{REPL_PASSWORD}'; \
             GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR, SLAVE MONITOR \
             ON *.* TO {REPL_USER}@'%'"
        ));
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "--- mariadbd error log ({}), last 30 lines ---\n{}\n---",
                self.datadir.join("error.log").display(),
                tail_file(&self.datadir.join("error.log"), 30)
            );
        }
        self.stop();
    }
}

/// The sequence number of domain 0 in a GTID position such as
/// `0-1-42,1-5-7` (0 when domain 0 is absent).
pub(crate) fn gtid_seq_of(pos: &str) -> u64 {
    pos.split(',')
        .filter_map(|g| {
            let mut parts = g.trim().split('-');
            let domain = parts.next()?;
            let _server = parts.next()?;
            let seq = parts.next()?.parse::<u64>().ok()?;
            (domain == "0").then_some(seq)
        })
        .next()
        .unwrap_or(0)
}

enum Ready {
    Yes,
    PortTaken,
}

/// The options of a primary: binary log, GTID strict mode, semi-sync.
fn primary_args(opts: &PrimaryOpts) -> Vec<String> {
    let mut args = vec![
        "--server-id=1".to_owned(),
        "--log-bin=mysql-bin".to_owned(),
        format!("--binlog-format={}", opts.binlog_format),
        "--binlog-checksum=CRC32".to_owned(),
        "--gtid-strict-mode=1".to_owned(),
        "--sync-binlog=1".to_owned(),
    ];
    if opts.semi_sync {
        args.extend([
            "--rpl-semi-sync-master-enabled=ON".to_owned(),
            "--rpl-semi-sync-master-wait-point=AFTER_SYNC".to_owned(),
            format!("--rpl-semi-sync-master-timeout={}", opts.semi_sync_timeout_ms),
        ]);
    } else {
        args.push("--rpl-semi-sync-master-enabled=OFF".to_owned());
    }
    if let Some([cert, key, ca]) = &opts.ssl {
        args.extend([format!("--ssl-cert={cert}"), format!("--ssl-key={key}")]);
        args.push(format!("--ssl-ca={ca}"));
    }
    args.extend(opts.extra_args.iter().cloned());
    args
}

fn spawn_mariadbd(
    mariadbd: &Path,
    dir: &TestDir,
    datadir: &Path,
    port: u16,
    role_args: &[String],
) -> Child {
    let d = datadir.display();
    let mut args = vec![
        "--no-defaults".to_owned(),
        format!("--datadir={d}"),
        format!("--socket={d}/sock"),
        format!("--port={port}"),
        "--bind-address=127.0.0.1".to_owned(),
        format!("--pid-file={d}/mariadbd.pid"),
        format!("--log-error={d}/error.log"),
        format!("--tmpdir={}", dir.path().display()),
        "--max-allowed-packet=256M".to_owned(),
        "--skip-name-resolve".to_owned(),
    ];
    if running_as_root() {
        args.insert(1, "--user=root".to_owned());
    }
    args.extend(INNODB_ARGS.iter().map(|s| (*s).to_owned()));
    // Last, so that a role (and a test's extra_args) can override the above.
    args.extend(role_args.iter().map(|a| a.replace(DATADIR, &d.to_string())));
    let out = fs::File::create(dir.join("mariadbd.out")).expect("create mariadbd.out");
    let err = out.try_clone().expect("clone the mariadbd.out handle");
    Command::new(mariadbd)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", mariadbd.display()))
}

fn wait_ready(child: &mut Child, port: u16, datadir: &Path) -> Ready {
    wait_for(START_TIMEOUT, "mariadbd to accept connections", || {
        if let Some(status) = child.try_wait().expect("try_wait on mariadbd") {
            let log = fs::read_to_string(datadir.join("error.log")).unwrap_or_default();
            if log.contains("Address already in use") {
                return Some(Ready::PortTaken);
            }
            panic!(
                "mariadbd exited with {status} during startup; error log {}:\n{}",
                datadir.join("error.log").display(),
                tail(&log, 40)
            );
        }
        let probe = client_command(port).arg("-e").arg("SELECT 1").output().expect("spawn mariadb");
        probe.status.success().then_some(Ready::Yes)
    })
}

fn client_command(port: u16) -> Command {
    let mut cmd = Command::new(tool("mariadb"));
    cmd.args([
        "--no-defaults",
        "-uroot",
        "-h127.0.0.1",
        &format!("-P{port}"),
        "--protocol=tcp",
        "-N",
        "-B",
        "--max-allowed-packet=256M",
        "--connect-timeout=10",
    ]);
    cmd
}

fn output_result(out: Output) -> Result<String, String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "mariadb client exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The pristine datadir made by `mariadb-install-db`, once per test process.
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(make_template)
}

const TEMPLATE_PREFIX: &str = "bls-mariadb-template-";

fn make_template() -> PathBuf {
    let begin = Instant::now();
    let install_db = tool("mariadb-install-db");
    remove_stale_templates();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let root = env::temp_dir().join(format!("{TEMPLATE_PREFIX}{}-{nanos:09}", std::process::id()));
    let data = root.join("data");
    fs::create_dir_all(&root).expect("create the template directory");
    let mut cmd = Command::new(&install_db);
    // Its own tmpdir: bootstraps of concurrent test processes must not
    // share (and clean up) each other's temporary tables in /tmp.
    let tmp = root.join("tmp");
    fs::create_dir_all(&tmp).expect("create the template's tmpdir");
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .args(INNODB_ARGS);
    if running_as_root() {
        cmd.arg("--user=root");
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", install_db.display()));
    assert!(
        out.status.success(),
        "mariadb-install-db failed with {}:\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "mariadb-install-db template ready in {} ms ({})",
        begin.elapsed().as_millis(),
        data.display()
    );
    data
}

/// Removes templates left by test processes that no longer run.
fn remove_stale_templates() {
    let Ok(entries) = fs::read_dir(env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(TEMPLATE_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next() else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for entry in fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let entry = entry.expect("read a template entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("template entry type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap_or_else(|e| {
                panic!("copy {} to {}: {e}", entry.path().display(), target.display())
            });
        }
    }
}
