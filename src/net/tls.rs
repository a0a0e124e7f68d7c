//! TLS settings: PEM files read into `rustls` configurations for both
//! sides (the `ring` provider only), and the server-certificate checks of
//! the mysql client's `--ssl-mode` (docs/protocol.md §3.4).
//!
//! - `VERIFY_IDENTITY`: the chain must lead to the CA and the certificate
//!   must name the host (rustls' own WebPKI verifier).
//! - `VERIFY_CA`: the chain must lead to the CA; the name is not checked.
//! - `PREFERRED`/`REQUIRED`: encrypted, nothing verified (as the mysql
//!   client: without a CA there is nothing to verify against).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, CipherSuite, ClientConfig, DigitallySignedStruct, RootCertStore,
    ServerConfig, SignatureScheme,
};

/// A TLS setting that cannot be used: which file, and why.
#[derive(Debug)]
pub struct TlsSetupError {
    /// What was being loaded ("--listen-ssl-cert", "the CA file", ...).
    pub what: String,
    /// The file, when one is concerned.
    pub path: Option<PathBuf>,
    /// The reason.
    pub reason: String,
}

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{} {}: {}", self.what, p.display(), self.reason),
            None => write!(f, "{}: {}", self.what, self.reason),
        }
    }
}

impl std::error::Error for TlsSetupError {}

fn setup_err(what: &str, path: Option<&Path>, reason: impl fmt::Display) -> TlsSetupError {
    TlsSetupError {
        what: what.to_owned(),
        path: path.map(Path::to_path_buf),
        reason: reason.to_string(),
    }
}

/// The `ring` provider: the only one built in. (rustls marks it deprecated
/// for lacking post-quantum key exchange, which only aws-lc offers; the
/// project takes ring to keep cmake and Go out of the static build.)
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM file, in order.
///
/// # Errors
/// The file cannot be read, is not PEM, or holds no certificate.
pub fn load_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| setup_err(what, Some(path), e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| setup_err(what, Some(path), e))?;
    if certs.is_empty() {
        return Err(setup_err(what, Some(path), "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC).
///
/// # Errors
/// The file cannot be read or holds no private key.
pub fn load_key(what: &str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| setup_err(what, Some(path), e))
}

/// The CA certificates of a PEM file as trust anchors.
///
/// # Errors
/// As [`load_certs`], or a certificate that cannot be an anchor.
pub fn load_roots(what: &str, path: &Path) -> Result<RootCertStore, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(what, path)? {
        roots.add(cert).map_err(|e| setup_err(what, Some(path), e))?;
    }
    Ok(roots)
}

/// Builds the listener's configuration: its certificate chain and key,
/// and with `ca` the client certificates that are checked when a client
/// presents one (an account can then demand one; none is required here).
///
/// # Errors
/// A file that cannot be used, or a key that does not match the certificate.
pub fn server_config(
    cert: &Path,
    key: &Path,
    ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let certs = load_certs("--listen-ssl-cert", cert)?;
    let key_der = load_key("--listen-ssl-key", key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| setup_err("tls", None, e))?;
    let builder = match ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let roots = load_roots("--listen-ssl-ca", ca)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .allow_unauthenticated()
                .build()
                .map_err(|e| setup_err("--listen-ssl-ca", Some(ca), e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key_der)
        .map_err(|e| setup_err("--listen-ssl-key", Some(key), e))?;
    Ok(Arc::new(config))
}

/// `--ssl-mode`: whether to encrypt the connection to the primary and
/// what to check of its certificate, with the mysql client's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never TLS.
    Disabled,
    /// TLS when the primary offers it, nothing verified.
    #[default]
    Preferred,
    /// TLS or fail; nothing verified.
    Required,
    /// TLS, with a certificate signed by `--ssl-ca`.
    VerifyCa,
    /// TLS, signed by `--ssl-ca` and naming the host.
    VerifyIdentity,
}

impl SslMode {
    /// The mode named `s` (case-insensitive), as `--ssl-mode` takes it.
    pub fn parse(s: &str) -> Option<SslMode> {
        let mode = match s.to_ascii_uppercase().as_str() {
            "DISABLED" => SslMode::Disabled,
            "PREFERRED" => SslMode::Preferred,
            "REQUIRED" => SslMode::Required,
            "VERIFY_CA" => SslMode::VerifyCa,
            "VERIFY_IDENTITY" => SslMode::VerifyIdentity,
            _ => return None,
        };
        Some(mode)
    }

    /// The mode's name as `--ssl-mode` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disabled => "DISABLED",
            SslMode::Preferred => "PREFERRED",
            SslMode::Required => "REQUIRED",
            SslMode::VerifyCa => "VERIFY_CA",
            SslMode::VerifyIdentity => "VERIFY_IDENTITY",
        }
    }

    /// What to check of the certificate.
    pub fn verify(self) -> Verify {
        match self {
            SslMode::Disabled | SslMode::Preferred | SslMode::Required => Verify::Nothing,
            SslMode::VerifyCa => Verify::Ca,
            SslMode::VerifyIdentity => Verify::Identity,
        }
    }

    /// True when a primary without TLS is refused.
    pub fn requires_tls(self) -> bool {
        !matches!(self, SslMode::Disabled | SslMode::Preferred)
    }
}

/// TLS toward the primary: `--ssl-mode`, `--ssl-ca`, `--ssl-cert`, `--ssl-key`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslSettings {
    /// Whether to encrypt and what to verify.
    pub mode: SslMode,
    /// The CA the primary's certificate must lead to.
    pub ca: Option<PathBuf>,
    /// Our client certificate chain (for `REQUIRE X509` accounts).
    pub cert: Option<PathBuf>,
    /// Its key.
    pub key: Option<PathBuf>,
}

impl SslSettings {
    /// The client configuration these settings make.
    ///
    /// # Errors
    /// A file that cannot be used, a verifying mode without a CA, or a
    /// certificate without its key.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsSetupError> {
        let cert_key = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            (None, None) => None,
            (Some(_), None) => return Err(setup_err("--ssl-key", None, "needed with --ssl-cert")),
            (None, Some(_)) => return Err(setup_err("--ssl-cert", None, "needed with --ssl-key")),
        };
        client_config(self.mode.verify(), self.ca.as_deref(), cert_key)
    }
}

/// How the server's certificate is checked (`--ssl-mode` past the choice
/// of whether to encrypt at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Nothing is checked (PREFERRED, REQUIRED).
    Nothing,
    /// The chain must lead to the CA (VERIFY_CA).
    Ca,
    /// The chain, and the host name or address (VERIFY_IDENTITY).
    Identity,
}

/// Builds the configuration toward the primary.
///
/// # Errors
/// A file that cannot be used, or a verifying mode without a CA.
pub fn client_config(
    verify: Verify,
    ca: Option<&Path>,
    cert_key: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| setup_err("tls", None, e))?;
    let verifier: Arc<dyn ServerCertVerifier> = match (verify, ca) {
        (Verify::Nothing, _) => Arc::new(NoVerify(provider())),
        (_, None) => {
            return Err(setup_err(
                "--ssl-mode",
                None,
                "VERIFY_CA and VERIFY_IDENTITY need --ssl-ca",
            ))
        }
        (v, Some(ca)) => {
            let roots = load_roots("--ssl-ca", ca)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| setup_err("--ssl-ca", Some(ca), e))?;
            if v == Verify::Ca {
                Arc::new(CaOnly(webpki))
            } else {
                webpki
            }
        }
    };
    let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
    let config = match cert_key {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let certs = load_certs("--ssl-cert", cert)?;
            let key_der = load_key("--ssl-key", key)?;
            builder
                .with_client_auth_cert(certs, key_der)
                .map_err(|e| setup_err("--ssl-key", Some(key), e))?
        }
    };
    Ok(Arc::new(config))
}

/// The name the primary's certificate must carry: an address as itself,
/// a host name as a DNS name.
///
/// # Errors
/// A host that is neither.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsSetupError> {
    ServerName::try_from(host.to_owned())
        .map_err(|e| setup_err("the primary's host name", None, format!("{host:?}: {e}")))
}

/// Accepts any certificate, still checking the handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// WebPKI's chain check without its name check (VERIFY_CA).
#[derive(Debug)]
struct CaOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// OpenSSL's name of a cipher suite, as MariaDB shows it in `Ssl_cipher`.
pub fn openssl_cipher_name(suite: CipherSuite) -> String {
    let name = match suite {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            "ECDHE-ECDSA-CHACHA20-POLY1305"
        }
        other => return format!("{other:?}"),
    };
    name.to_owned()
}

/// Wraps a handshake failure for the caller's error.
pub fn io_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}
