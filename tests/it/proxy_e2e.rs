//! `binlogserver proxy` between real MariaDB clients and a real primary:
//! a `mariadb` client query, and binlogserver following the primary with
//! semi-sync THROUGH the proxy. The relayed bytes must be untouched (the
//! query result is right, the stored binlogs equal the primary's, the
//! semi-sync ACKs reach the primary) and the proxy's output must show the
//! decoded packets.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{
    assert_same_binlogs, tool, wait_caught_up, wait_for, wait_semi_sync_client, wait_until,
    Binlogserver, MariaDb, PrimaryOpts, TestDir, REPL_PASSWORD,
};

/// The proxy process; killed on drop.
struct Proxy {
    child: Child,
    out: std::path::PathBuf,
    port: u16,
    _dir: TestDir,
}

impl Proxy {
    fn start(to_port: u16) -> Proxy {
        let dir = TestDir::new("proxy");
        let out = dir.join("proxy.out");
        let file = fs::File::create(&out).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_binlogserver"))
            .args([
                "proxy",
                "--hexdump",
                "--listen",
                "127.0.0.1:0",
                "--to",
                &format!("127.0.0.1:{to_port}"),
            ])
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("spawn the proxy");
        let mut proxy = Proxy { child, out, port: 0, _dir: dir };
        proxy.port = wait_for(Duration::from_secs(20), "the proxy to listen", || {
            let text = proxy.output();
            let line = text.lines().find(|l| l.starts_with("proxy listening on 127.0.0.1:"))?;
            line.trim_start_matches("proxy listening on 127.0.0.1:").split(',').next()?.parse().ok()
        });
        proxy
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.out).unwrap_or_default()).into_owned()
    }

    /// Waits until the output has a line containing every one of `parts`.
    fn wait_line(&self, parts: &[&str]) -> String {
        wait_for(Duration::from_secs(30), &format!("a proxy line with {parts:?}"), || {
            self.output().lines().find(|l| parts.iter().all(|p| l.contains(p))).map(str::to_owned)
        })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Shown with --nocapture, and on failure.
        eprintln!("proxy output:\n{}", self.output());
    }
}

#[test]
fn client_query_and_semi_sync_replication_through_the_proxy() {
    // A long semi-sync timeout: under load an ACK may be slow, but it must
    // come (no_tx stays 0); nothing is binlogged before binlogserver is
    // the primary's semi-sync client.
    let primary =
        MariaDb::primary(PrimaryOpts { semi_sync_timeout_ms: 30_000, ..PrimaryOpts::default() });
    let proxy = Proxy::start(primary.port());

    // A client query: the right answer, and the proxy shows it decoded.
    let out = Command::new(tool("mariadb"))
        .args([
            "--no-defaults",
            "-uroot",
            "-h127.0.0.1",
            &format!("-P{}", proxy.port),
            "--protocol=tcp",
            "--skip-ssl",
        ])
        .args([
            "-N",
            "-B",
            "--connect-timeout=10",
            "-e",
            "SELECT 'hello' AS greeting, 6 * 7 AS answer, NULL AS nothing",
        ])
        .output()
        .expect("run mariadb");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello\t42\tNULL");
    proxy.wait_line(&[
        "s>c seq=0",
        "HANDSHAKE server_version=",
        "MariaDB",
        "auth_plugin=mysql_native_password",
    ]);
    proxy.wait_line(&["c>s seq=1", "HANDSHAKE_RESPONSE user=root"]);
    proxy.wait_line(&[
        "c>s seq=0",
        "COM_QUERY \"SELECT 'hello' AS greeting, 6 * 7 AS answer, NULL AS nothing\"",
    ]);
    // --hexdump: the payload follows its line, as `hexdump -C` shows it.
    proxy.wait_line(&[
        "00000000  03 53 45 4c 45 43 54 20  27 68 65 6c 6c 6f 27 20  |.SELECT 'hello' |",
    ]);
    proxy.wait_line(&["s>c", "RESULT_SET columns=3"]);
    proxy.wait_line(&["s>c", "COLUMN 2 name=answer"]);
    proxy.wait_line(&["s>c", "ROW ['hello', '42', NULL]"]);
    proxy.wait_line(&["s>c", "EOF end of rows"]);

    // binlogserver follows the primary through the proxy, with semi-sync.
    let data = TestDir::new("proxy-bls");
    let bls = Binlogserver::follow_port(
        proxy.port,
        data.path(),
        &["--semi-sync", "on", "--heartbeat", "1", "--listen", "off"],
    );
    wait_semi_sync_client(&primary, &bls);
    let yes_before = primary.status_u64("Rpl_semi_sync_master_yes_tx");
    primary.sql_script(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB;\n\
         INSERT INTO d.t VALUES (1, 'one'); INSERT INTO d.t VALUES (2, 'two');\n\
         FLUSH BINARY LOGS; INSERT INTO d.t VALUES (3, 'three');",
    );
    wait_caught_up(&primary, data.path(), Duration::from_secs(30));
    // Every commit waited for an ACK that came back through the proxy.
    wait_until(Duration::from_secs(20), "semi-sync yes_tx to count the commits", || {
        primary.status_u64("Rpl_semi_sync_master_yes_tx") >= yes_before + 5
    });
    assert_eq!(
        primary.status_u64("Rpl_semi_sync_master_no_tx"),
        0,
        "a commit timed out waiting for its ACK"
    );
    assert_same_binlogs(&primary, data.path());
    bls.assert_running();

    proxy.wait_line(&["c>s", "HANDSHAKE_RESPONSE user=repl", "auth_response_len="]);
    proxy.wait_line(&["c>s", "COM_QUERY", "rpl_semi_sync_slave"]);
    proxy.wait_line(&["c>s seq=0", "COM_REGISTER_SLAVE server_id=1001"]);
    proxy.wait_line(&["c>s seq=0", "COM_BINLOG_DUMP file=", "server_id=1001"]);
    proxy.wait_line(&["s>c", "EVENT semi_sync need_ack=0", "Format_desc", "server_version=10.11"]);
    let gtid = proxy.wait_line(&["s>c", "EVENT semi_sync need_ack=0", " Gtid ", "gtid=0-1-"]);
    assert!(gtid.contains("server_id=1 "), "{gtid}");
    proxy.wait_line(&["s>c", "EVENT semi_sync need_ack=0", "Table_map", "table=d.t"]);
    proxy.wait_line(&["s>c", "EVENT semi_sync need_ack=0", "Write_rows", "table=d.t"]);
    let xid = proxy.wait_line(&["s>c", "EVENT semi_sync need_ack=1", " Xid "]);
    let end: u64 = xid.split("end=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    proxy.wait_line(&["c>s seq=0", &format!("SEMI_SYNC_ACK file=mysql-bin.000001 pos={end}")]);
    proxy.wait_line(&["s>c", "EVENT semi_sync need_ack=", "Rotate", "next=mysql-bin.000002 pos=4"]);
    proxy.wait_line(&["c>s seq=0", "SEMI_SYNC_ACK file=mysql-bin.000002 pos="]);

    let text = proxy.output();
    assert!(!text.contains(REPL_PASSWORD), "the proxy printed the password");
    assert!(!text.contains("undecoded"), "{text}");
}
