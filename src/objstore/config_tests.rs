//! `s3://` URLs, credentials from the environment and from AWS
//! shared-credentials files.

use std::collections::HashMap;

use super::*;

fn url(bucket: &str, prefix: &str) -> ArchiveUrl {
    ArchiveUrl { bucket: bucket.to_owned(), prefix: prefix.to_owned() }
}

#[test]
fn parses_archive_urls_and_normalises_the_prefix() {
    assert_eq!(ArchiveUrl::parse("s3://b").unwrap(), url("b", ""));
    assert_eq!(ArchiveUrl::parse("s3://b/").unwrap(), url("b", ""));
    assert_eq!(ArchiveUrl::parse("s3://b/binlogs").unwrap(), url("b", "binlogs/"));
    assert_eq!(ArchiveUrl::parse("s3://b//binlogs/").unwrap(), url("b", "binlogs/"));
    assert_eq!(ArchiveUrl::parse("s3://my.bucket-1/a/b/c/").unwrap(), url("my.bucket-1", "a/b/c/"));
    assert_eq!(ArchiveUrl::parse("s3://b/x").unwrap().to_string(), "s3://b/x/");
}

#[test]
fn refuses_other_schemes_and_empty_or_odd_buckets() {
    for (text, needle) in [
        ("http://b/p", "scheme s3://"),
        ("b/p", "scheme s3://"),
        ("S3://b/p", "scheme s3://"),
        ("s3://", "no bucket"),
        ("s3:///p", "no bucket"),
        ("s3://b:9000/p", "may hold only"),
        ("s3://user@b/p", "may hold only"),
    ] {
        let err = ArchiveUrl::parse(text).unwrap_err();
        assert!(err.contains(needle), "{text}: {err}");
        assert!(err.contains(text), "{text}: {err}");
    }
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> =
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name: &str| map.get(name).cloned()
}

#[test]
fn reads_credentials_from_the_environment() {
    let creds =
        Credentials::from_env(&env(&[("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "s")]))
            .unwrap();
    assert_eq!(creds, Credentials { access_key: "AK".to_owned(), secret_key: "s".to_owned() });
    let err = Credentials::from_env(&env(&[("AWS_ACCESS_KEY_ID", "AK")])).unwrap_err();
    assert!(err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    let err =
        Credentials::from_env(&env(&[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "s")]))
            .unwrap_err();
    assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    let err = Credentials::from_env(&env(&[
        ("AWS_ACCESS_KEY_ID", "AK"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
        ("AWS_SESSION_TOKEN", "t"),
    ]))
    .unwrap_err();
    assert!(err.contains("AWS_SESSION_TOKEN"), "{err}");
}

#[test]
fn debug_hides_the_secret() {
    let creds = Credentials { access_key: "AKID".to_owned(), secret_key: "hunter2".to_owned() };
    let shown = format!("{creds:?}");
    assert!(shown.contains("AKID") && !shown.contains("hunter2"), "{shown}");
}

const FILE: &str = "\
# comment
[default]
aws_access_key_id = AKDEF
aws_secret_access_key=secret/def+1=

; another comment
[archive]
  aws_access_key_id   =  AKARC
aws_session_token = ignored
aws_secret_access_key = secarc
[partial]
aws_access_key_id = AKP
";

#[test]
fn reads_profiles_of_a_shared_credentials_file() {
    let def = Credentials::from_ini(FILE, "default").unwrap();
    assert_eq!(def.access_key, "AKDEF");
    assert_eq!(def.secret_key, "secret/def+1=");
    let arc = Credentials::from_ini(FILE, "archive").unwrap();
    assert_eq!((arc.access_key.as_str(), arc.secret_key.as_str()), ("AKARC", "secarc"));
}

#[test]
fn credential_file_errors_say_what_is_missing_and_where() {
    let err = Credentials::from_ini(FILE, "partial").unwrap_err();
    assert_eq!(err, "profile [partial] at line 11 has no aws_secret_access_key");
    let err = Credentials::from_ini(FILE, "nope").unwrap_err();
    assert_eq!(err, "no [nope] profile");
    let err = Credentials::from_ini("[default]\njust words\n", "default").unwrap_err();
    assert_eq!(err, "line 2: expected 'key = value' or '[profile]'");
    let err = Credentials::from_ini("[default\n", "default").unwrap_err();
    assert!(err.starts_with("line 1: section header without ']'"), "{err}");
}

#[test]
fn credential_file_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("objstore-creds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("credentials");
    std::fs::write(&path, "[default]\naws_access_key_id = A\n").unwrap();
    let err = Credentials::from_file(&path, "default").unwrap_err();
    assert!(err.starts_with(&format!("credentials file {}: ", path.display())), "{err}");
    assert!(err.contains("line 1") && err.contains("aws_secret_access_key"), "{err}");
    let err = Credentials::from_file(&dir.join("missing"), "default").unwrap_err();
    assert!(err.contains("missing"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
