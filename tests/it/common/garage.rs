//! [`Garage`]: a real S3-compatible object store for the archive tier's
//! tests, one single-node Garage (crates.io `garage` 2.5.0) per test in a
//! [`TestDir`], on free loopback ports, killed on drop.
//!
//! `garage server --single-node --default-bucket` does the set-up the CLI
//! would otherwise do in five steps (`layout assign` + `layout apply`,
//! `key import`, `bucket create`, `bucket allow --read --write --owner`),
//! before it serves, and does it idempotently, so a restart on the same
//! directory finds the same layout, key and bucket. [`Garage::cli`] runs
//! any other `garage` command against the node.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binlogserver::objstore::{ArchiveUrl, Credentials, S3Client, S3Config};

use super::{free_port, tail_file, try_wait_for, wait_until, TestDir};

/// The environment variable naming the `garage` binary to use.
pub(crate) const GARAGE_ENV: &str = "BINLOGSERVER_GARAGE";

/// The version the harness is written against (etc/install-deps.sh pins it).
const GARAGE_VERSION: &str = "2.5.0";

/// What to run when the binary is missing.
const GARAGE_HINT: &str = "cargo install garage --version 2.5.0 --locked --root \
     ~/.cache/binlogserver/garage (or `. etc/install-deps.sh && need_garage`; \
     or point BINLOGSERVER_GARAGE at a garage 2.5.0 binary)";

/// Garage's signing region in the harness's configuration.
const REGION: &str = "garage";

/// How long a (re)start may take before the harness gives up.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running single-node Garage with one bucket and one key allowed on it.
pub(crate) struct Garage {
    dir: TestDir,
    bin: PathBuf,
    child: Option<Child>,
    s3_port: u16,
    bucket: String,
    access_key: String,
    secret_key: String,
}

impl Garage {
    /// Starts a fresh node and waits until its S3 API serves the bucket.
    ///
    /// # Panics
    ///
    /// When the binary is missing (with the install command), or the node
    /// does not come up (with the tail of its log).
    pub(crate) fn start() -> Garage {
        let bin = garage_binary();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let tag = nanos ^ (u128::from(std::process::id()) << 64);
        for attempt in 1..=5 {
            let mut garage = Garage {
                dir: TestDir::new("garage"),
                bin: bin.clone(),
                child: None,
                s3_port: free_port(),
                bucket: "binlogs".to_owned(),
                access_key: format!("GK{:024x}", tag & ((1 << 96) - 1)),
                secret_key: format!("{:064x}", tag.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            };
            garage.write_config(free_port());
            if garage.spawn_and_wait() {
                return garage;
            }
            eprintln!("garage did not come up (attempt {attempt}, a port may have been taken)");
        }
        panic!("garage could not start in 5 attempts");
    }

    fn write_config(&self, rpc_port: u16) {
        let root = self.dir.path_str();
        let config = format!(
            "metadata_dir = \"{root}/meta\"\n\
             data_dir = \"{root}/data\"\n\
             db_engine = \"sqlite\"\n\
             replication_factor = 1\n\
             rpc_bind_addr = \"127.0.0.1:{rpc_port}\"\n\
             rpc_public_addr = \"127.0.0.1:{rpc_port}\"\n\
             rpc_secret = \"{secret}\"\n\
             \n\
             [s3_api]\n\
             s3_region = \"{REGION}\"\n\
             api_bind_addr = \"127.0.0.1:{s3_port}\"\n\
             root_domain = \".s3.garage.localhost\"\n",
            secret = "5f".repeat(32),
            s3_port = self.s3_port,
        );
        fs::write(self.dir.join("garage.toml"), config).unwrap();
    }

    /// Spawns `garage server` on the directory and waits until a listing of
    /// the bucket succeeds; false (with the process reaped) when it exits
    /// or does not answer in time.
    fn spawn_and_wait(&mut self) -> bool {
        let log = fs::OpenOptions::new().create(true).append(true).open(self.log()).unwrap();
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(self.dir.join("garage.toml"))
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", &self.access_key)
            .env("GARAGE_DEFAULT_SECRET_KEY", &self.secret_key)
            .env("GARAGE_DEFAULT_BUCKET", &self.bucket)
            .env("RUST_LOG", "garage=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        self.child = Some(child);
        let client = self.client(Duration::from_secs(2));
        let ready = try_wait_for(START_DEADLINE, || {
            if self.child.as_mut().unwrap().try_wait().unwrap().is_some() {
                return Some(false);
            }
            client.list().ok().map(|_| true)
        });
        if ready == Some(true) {
            return true;
        }
        eprintln!("garage log:\n{}", tail_file(&self.log(), 30));
        self.stop();
        false
    }

    fn log(&self) -> PathBuf {
        self.dir.join("garage.log")
    }

    /// `http://127.0.0.1:PORT`, the S3 API.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The bucket the key may read, write and own.
    pub(crate) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The access key id.
    pub(crate) fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret access key.
    pub(crate) fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The signing region (`s3_region`).
    pub(crate) fn region(&self) -> &str {
        REGION
    }

    /// A client configuration for `s3://BUCKET/prefix` (path style).
    pub(crate) fn config(&self, prefix: &str, timeout: Duration) -> S3Config {
        S3Config {
            url: ArchiveUrl::parse(&format!("s3://{}/{prefix}", self.bucket)).unwrap(),
            endpoint: self.endpoint(),
            region: REGION.to_owned(),
            path_style: true,
            credentials: Credentials {
                access_key: self.access_key.clone(),
                secret_key: self.secret_key.clone(),
            },
            timeout,
        }
    }

    /// A client for the whole bucket.
    pub(crate) fn client(&self, timeout: Duration) -> S3Client {
        S3Client::new(self.config("", timeout)).unwrap()
    }

    /// Runs `garage -c garage.toml ARGS` (the CLI talks to the node over RPC).
    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("-c")
            .arg(self.dir.join("garage.toml"))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()))
    }

    /// Kills the node (SIGKILL: the store vanishes mid-request); its data
    /// and ports stay for [`Garage::restart`].
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `kill -SIG` to the node: `STOP` makes a store that accepts
    /// connections and never answers, `CONT` wakes it.
    pub(crate) fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("garage is running").id();
        let status = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status();
        assert!(status.unwrap().success(), "kill -{sig} {pid} failed");
        if sig == "STOP" {
            // kill(2) returns before every thread has stopped.
            wait_until(START_DEADLINE, "every garage thread stopped", || all_stopped(pid));
        }
    }

    /// Starts the node again on the same data and ports and waits until it
    /// serves.
    ///
    /// # Panics
    ///
    /// When it does not come back (with the tail of its log).
    pub(crate) fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn_and_wait(),
            "garage did not come back on port {} (taken meanwhile?)",
            self.s3_port
        );
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `$BINLOGSERVER_GARAGE`, else the cached install, else `garage` on PATH.
fn garage_binary() -> PathBuf {
    if let Some(path) = env::var_os(GARAGE_ENV) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{GARAGE_ENV}={} is not a file; install with: {GARAGE_HINT}",
            path.display()
        );
        return checked(path);
    }
    let home = env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cached = home.join(".cache/binlogserver/garage/bin/garage");
    if cached.is_file() {
        return checked(cached);
    }
    let on_path = env::split_paths(&env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("garage"))
        .find(|p| p.is_file());
    match on_path {
        Some(path) => checked(path),
        None => panic!(
            "the garage binary (a real S3 store for the archive tests) was not found at \
             {} nor on PATH; install it with: {GARAGE_HINT}",
            cached.display()
        ),
    }
}

/// `path` when it is garage 2.5.0; panics otherwise.
fn checked(path: PathBuf) -> PathBuf {
    let out = Command::new(&path).arg("--version").output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    assert!(
        text.contains(GARAGE_VERSION),
        "{} is not garage {GARAGE_VERSION} (--version says {text:?}); install with: {GARAGE_HINT}",
        path.display()
    );
    path
}

/// True when every thread of process `pid` is in the stopped state.
fn all_stopped(pid: u32) -> bool {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks.flatten().all(|task| {
        let stat = fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // "tid (comm) S ...": the state follows the last ')'.
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        state.is_some_and(|s| s.starts_with('T') || s.starts_with('t'))
    })
}
