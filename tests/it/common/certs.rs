//! Certificates made by the test with `openssl` (EC P-256, valid two days):
//! a CA, a server certificate it signed for `localhost` and 127.0.0.1, a
//! client certificate it signed, a server certificate for another name
//! (`db.example.com`), and a second CA that signed nothing here.

use super::TestDir;
use std::path::PathBuf;
use std::process::Command;

/// The files, in their own directory (removed on drop).
#[derive(Debug)]
pub(crate) struct Certs {
    dir: TestDir,
}

const EC: [&str; 5] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

impl Certs {
    /// Makes every file; panics with openssl's message if it cannot.
    pub(crate) fn new() -> Certs {
        let dir = TestDir::new("certs");
        let c = Certs { dir };
        c.ca("ca");
        c.ca("other-ca");
        c.signed("server", "/CN=binlogserver-test", "DNS:localhost,IP:127.0.0.1");
        c.signed("client", "/CN=replica-client", "DNS:replica-client");
        c.signed("wrong-name", "/CN=db.example.com", "DNS:db.example.com");
        c
    }

    /// `<name>.pem` or `<name>.key` as a string for a command line, e.g.
    /// `ca.pem`, `server.pem`, `server.key`.
    pub(crate) fn path(&self, file: &str) -> String {
        let p: PathBuf = self.dir.join(file);
        assert!(p.exists(), "no certificate file {file}");
        p.to_str().expect("UTF-8 temp path").to_owned()
    }

    /// `PrimaryOpts::ssl` for a primary with the certificate `name`
    /// (`server` or `wrong-name`) signed by `ca.pem`.
    pub(crate) fn primary_ssl(&self, name: &str) -> Option<[String; 3]> {
        let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
        Some([self.path(&cert), self.path(&key), self.path("ca.pem")])
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("run openssl (apt-get install openssl): {e}"));
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ca(&self, name: &str) {
        let (key, pem, subj) =
            (format!("{name}.key"), format!("{name}.pem"), format!("/CN={name}"));
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subj, "-keyout", &key];
        args.extend(["-out", &pem]);
        args.extend(EC);
        self.openssl(&args);
    }

    fn signed(&self, name: &str, subj: &str, san: &str) {
        let (key, csr, pem) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
        let mut args = vec!["req", "-subj", subj, "-keyout", &key, "-out", &csr];
        args.extend(EC);
        self.openssl(&args);
        let ext = format!("{name}.ext");
        std::fs::write(self.dir.join(&ext), format!("subjectAltName={san}\n")).expect("write ext");
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "1000",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ]);
    }
}
