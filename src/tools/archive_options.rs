//! The archive tier's options (`--archive-*`), shared by the main command
//! and `binlogserver verify`: where closed binlogs go ([`ArchiveConfig`]),
//! read and checked at start so that a wrong URL or a missing key is
//! reported then, not at the first upload.
//!
//! Credentials never come from the command line: `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY`, or `--archive-credentials-file` (the AWS
//! shared-credentials format, profile `AWS_PROFILE` or `default`).

use std::path::Path;
use std::time::Duration;

use getopts::{Matches, Options};

use crate::objstore::{ArchiveUrl, Credentials, S3Config};
use crate::storage::archive::ArchiveConfig;

/// The default region, as AWS's tools assume.
const DEFAULT_REGION: &str = "us-east-1";
/// The bound on each wait of the S3 client.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Adds the `--archive-*` options.
pub fn options(o: &mut Options) {
    o.optopt("", "archive-url", "copy closed binlogs to S3 here and read them back [off]", "URL");
    o.optopt("", "archive-endpoint", "http(s)://HOST:PORT, path-style [AWS]", "URL");
    o.optopt("", "archive-region", "[us-east-1]", "NAME");
    o.optopt("", "archive-credentials-file", "keys [env AWS_ACCESS_KEY_ID...]", "FILE");
    o.optopt(
        "",
        "archive-keep-local",
        "keep this much locally, older files in S3 only (K/M/G) [all]",
        "BYTES",
    );
}

/// A refused option: its flag and why.
pub type Refusal = (String, String);

fn bad(flag: &str, reason: impl Into<String>) -> Refusal {
    (flag.to_owned(), reason.into())
}

/// The archive the options describe; `None` without `--archive-url` (and
/// then no other `--archive-*` option may be given).
pub fn archive_config(
    m: &Matches,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<ArchiveConfig>, Refusal> {
    let Some(url) = m.opt_str("archive-url") else {
        for other in
            ["archive-endpoint", "archive-region", "archive-credentials-file", "archive-keep-local"]
        {
            if m.opt_present(other) {
                return Err(bad(&format!("--{other}"), "needs --archive-url"));
            }
        }
        return Ok(None);
    };
    let url = ArchiveUrl::parse(&url).map_err(|e| bad("--archive-url", e))?;
    let region = m.opt_str("archive-region").unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let (endpoint, path_style) = match m.opt_str("archive-endpoint") {
        Some(e) if e.starts_with("http://") || e.starts_with("https://") => {
            (e.trim_end_matches('/').to_owned(), true)
        }
        Some(e) => {
            return Err(bad(
                "--archive-endpoint",
                format!("{e:?} must start with http:// or https://"),
            ))
        }
        None => (format!("https://s3.{region}.amazonaws.com"), false),
    };
    let credentials = match m.opt_str("archive-credentials-file") {
        Some(path) => {
            let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
            Credentials::from_file(Path::new(&path), &profile)
                .map_err(|e| bad("--archive-credentials-file", e))?
        }
        None => Credentials::from_env(env).map_err(|e| {
            bad(
                "--archive-url",
                format!(
                    "{e} (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give \
                         --archive-credentials-file)"
                ),
            )
        })?,
    };
    let keep_local = match m.opt_str("archive-keep-local") {
        None => None,
        Some(v) => Some(parse_size(&v).ok_or_else(|| {
            bad("--archive-keep-local", format!("invalid value {v:?} (expected bytes, like 20G)"))
        })?),
    };
    let s3 = S3Config { url, endpoint, region, path_style, credentials, timeout: TIMEOUT };
    Ok(Some(ArchiveConfig { s3, keep_local }))
}

/// Bytes with an optional K, M, G or T suffix (powers of 1024, as MariaDB's
/// options); `--max-total-size` of the main command reads it too.
pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (digits, shift) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (v.get(..i)?, 10),
        (i, 'm' | 'M') => (v.get(..i)?, 20),
        (i, 'g' | 'G') => (v.get(..i)?, 30),
        (i, 't' | 'T') => (v.get(..i)?, 40),
        _ => (v, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}
