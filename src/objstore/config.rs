//! What the archive client is pointed at: the `s3://BUCKET/PREFIX` URL, the
//! credentials (from the environment or an AWS shared-credentials file,
//! never from the command line) and the endpoint settings. Parsing only: no
//! network here; the one file read is the credentials file.

use std::fmt;
use std::path::Path;
use std::time::Duration;

/// The bucket and the key prefix under which the archive lives, from
/// `s3://BUCKET/PREFIX`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveUrl {
    /// The bucket name, never empty.
    pub bucket: String,
    /// The key prefix: empty, or without a leading `/` and with a trailing
    /// `/` (`s3://b/binlogs` and `s3://b//binlogs/` both give `binlogs/`).
    pub prefix: String,
}

impl ArchiveUrl {
    /// Parses `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    ///
    /// # Errors
    ///
    /// A user-facing text when the scheme is not `s3://`, the bucket is
    /// empty, or the bucket holds characters no S3 bucket name has.
    pub fn parse(text: &str) -> Result<ArchiveUrl, String> {
        let rest = text.strip_prefix("s3://").ok_or_else(|| {
            format!("archive url {text:?} must look like s3://BUCKET/PREFIX (scheme s3://)")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("archive url {text:?} names no bucket (s3://BUCKET/PREFIX)"));
        }
        let bucket_ok =
            bucket.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !bucket_ok {
            return Err(format!(
                "archive url {text:?}: bucket {bucket:?} may hold only letters, digits, \
                 '-', '.' and '_'"
            ));
        }
        let trimmed = prefix.trim_matches('/');
        let prefix = if trimmed.is_empty() { String::new() } else { format!("{trimmed}/") };
        Ok(ArchiveUrl { bucket: bucket.to_owned(), prefix })
    }
}

impl fmt::Display for ArchiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// An access key pair. `Debug` shows the access key id, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (`AWS_ACCESS_KEY_ID`, `aws_access_key_id`).
    pub access_key: String,
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`, `aws_secret_access_key`).
    pub secret_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<hidden>")
            .finish()
    }
}

impl Credentials {
    /// Reads `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` through `env`
    /// (`|name| std::env::var(name).ok()` in the binary, a map in tests).
    ///
    /// Temporary credentials (`AWS_SESSION_TOKEN`) are not supported: they
    /// expire within hours, and a server that archives for years needs a
    /// long-lived key; their presence is an error rather than a silent
    /// signature failure hours later.
    ///
    /// # Errors
    ///
    /// A user-facing text naming the variable that is missing or empty.
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Credentials, String> {
        let get = |name: &str| {
            env(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("environment variable {name} is not set (or empty)"))
        };
        if env("AWS_SESSION_TOKEN").is_some_and(|v| !v.is_empty()) {
            return Err("AWS_SESSION_TOKEN is set: temporary credentials are not supported, \
                        give a long-lived access key"
                .to_owned());
        }
        Ok(Credentials {
            access_key: get("AWS_ACCESS_KEY_ID")?,
            secret_key: get("AWS_SECRET_ACCESS_KEY")?,
        })
    }

    /// Reads the `[profile]` section of an AWS shared-credentials file
    /// (`~/.aws/credentials` format: `aws_access_key_id = ...`,
    /// `aws_secret_access_key = ...`; `#` and `;` start comments).
    ///
    /// # Errors
    ///
    /// A user-facing text naming the file, and the line where it applies:
    /// unreadable file, a line that is neither a section nor `key = value`,
    /// a missing profile or a missing key.
    pub fn from_file(path: &Path, profile: &str) -> Result<Credentials, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("credentials file {}: {e}", path.display()))?;
        Credentials::from_ini(&text, profile)
            .map_err(|e| format!("credentials file {}: {e}", path.display()))
    }

    /// The parsing half of [`Credentials::from_file`].
    fn from_ini(text: &str, profile: &str) -> Result<Credentials, String> {
        let mut section: Option<usize> = None;
        let mut in_profile = false;
        let (mut access, mut secret) = (None, None);
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[') {
                let name = name
                    .strip_suffix(']')
                    .ok_or_else(|| format!("line {n}: section header without ']': {line:?}"))?;
                in_profile = name.trim() == profile;
                if in_profile {
                    section = Some(n);
                }
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line {n}: expected 'key = value' or '[profile]'"))?;
            if !in_profile {
                continue;
            }
            match key.trim() {
                "aws_access_key_id" => access = Some(value.trim().to_owned()),
                "aws_secret_access_key" => secret = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        let start = section.ok_or_else(|| format!("no [{profile}] profile"))?;
        let missing = |what: &str| format!("profile [{profile}] at line {start} has no {what}");
        Ok(Credentials {
            access_key: access
                .filter(|v| !v.is_empty())
                .ok_or_else(|| missing("aws_access_key_id"))?,
            secret_key: secret
                .filter(|v| !v.is_empty())
                .ok_or_else(|| missing("aws_secret_access_key"))?,
        })
    }
}

/// Everything [`super::S3Client::new`] needs.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// The bucket and prefix.
    pub url: ArchiveUrl,
    /// `http://host:port` or `https://host[:port]`, without the bucket.
    pub endpoint: String,
    /// The signing region (`us-east-1` on AWS by default; Garage's is its
    /// `s3_region`, often `garage`).
    pub region: String,
    /// Path-style addressing (`endpoint/bucket/key`, what self-hosted
    /// stores expect) instead of virtual-host style (`bucket.endpoint/key`).
    pub path_style: bool,
    /// The access key pair.
    pub credentials: Credentials,
    /// The bound on each network wait: connecting, sending the request,
    /// waiting for the response head, and each single read or write of a
    /// body (a long transfer may take longer as long as bytes keep moving).
    pub timeout: Duration,
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
