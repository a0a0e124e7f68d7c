//! [`S3Client`]: the signed, blocking requests for single objects (put,
//! head, ranged get, delete) and the listing, over one shared connection
//! pool. Every request is presigned (SigV4 in the query string, unsigned
//! payload) by `rusty_s3::signing::sign` and sent by a `ureq::Agent` whose
//! every network wait is bounded by [`S3Config::timeout`].

use std::io::Read;
use std::sync::Arc;
use std::time::SystemTime;

use rusty_s3::{Bucket, Method, UrlStyle};
use ureq::http::Response;
use ureq::{Agent, Body};

use super::config::S3Config;
use super::error::{Cause, S3Error};
use super::range::ExactBody;
use super::xml;

/// How long a presigned request stays valid. The store checks it when the
/// request arrives; a long transfer may outlive it.
const SIGNATURE_LIFETIME_SECS: u64 = 3600;

/// The most of an error or listing answer read into memory.
const MAX_XML_BODY: u64 = 16 << 20;

/// What `head` learns about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// `Content-Length`.
    pub size: u64,
    /// The ETag without its quotes: the hex MD5 of the body for a single
    /// PUT, `<hex>-<parts>` for a multipart upload (on AWS and Garage).
    pub etag: String,
    /// The user metadata (`x-amz-meta-NAME: value`) as (NAME, value), names
    /// lowercase.
    pub meta: Vec<(String, String)>,
}

/// A client for one bucket and prefix. Cheap to clone (one shared pool);
/// `Send + Sync`. Keys given to its methods are relative to the prefix.
#[derive(Clone, Debug)]
pub struct S3Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    agent: Agent,
    bucket: Bucket,
    config: S3Config,
}

/// The body of a request.
#[derive(Clone, Copy)]
pub(crate) enum Payload<'a> {
    None,
    Bytes(&'a [u8]),
}

impl S3Client {
    /// A client for `config`; sends nothing yet.
    ///
    /// # Errors
    ///
    /// `Local` when the endpoint is not an `http(s)://host[:port]` URL or the
    /// bucket cannot be addressed in the chosen style.
    pub fn new(config: S3Config) -> Result<S3Client, S3Error> {
        let bad = |what: String| {
            S3Error::new("configure", config.url.to_string(), &config.endpoint, Cause::Local(what))
        };
        if !(config.endpoint.starts_with("http://") || config.endpoint.starts_with("https://")) {
            return Err(bad("the endpoint must start with http:// or https://".to_owned()));
        }
        let endpoint = config.endpoint.parse().map_err(|e| bad(format!("bad endpoint: {e}")))?;
        let style = if config.path_style { UrlStyle::Path } else { UrlStyle::VirtualHost };
        let bucket = Bucket::new(endpoint, style, config.url.bucket.clone(), config.region.clone())
            .map_err(|e| bad(format!("cannot address the bucket: {e}")))?;
        let t = Some(config.timeout);
        let agent_config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(t)
            .timeout_send_request(t)
            .timeout_recv_response(t)
            .timeout_per_read(t)
            .timeout_per_write(t)
            .build();
        let agent = Agent::new_with_config(agent_config);
        Ok(S3Client { inner: Arc::new(Inner { agent, bucket, config }) })
    }

    /// The configuration this client was made with.
    pub fn config(&self) -> &S3Config {
        &self.inner.config
    }

    /// Stores `body` under `key` in one PUT, with user metadata `meta`
    /// (sent as `x-amz-meta-NAME`; names and values must be printable ASCII).
    ///
    /// # Errors
    ///
    /// Any store or transport failure.
    pub fn put(&self, key: &str, body: &[u8], meta: &[(&str, &str)]) -> Result<(), S3Error> {
        let headers = self.meta_headers("PutObject", key, meta)?;
        let headers: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let resp =
            self.send("PutObject", Some(key), Method::Put, &[], &headers, Payload::Bytes(body))?;
        finish(resp);
        Ok(())
    }

    /// The size, ETag and user metadata of `key`; `None` when it does not exist.
    ///
    /// # Errors
    ///
    /// Any failure but a 404.
    pub fn head(&self, key: &str) -> Result<Option<ObjectInfo>, S3Error> {
        const OP: &str = "HeadObject";
        let resp = match self.send(OP, Some(key), Method::Head, &[], &[], Payload::None) {
            Ok(resp) => resp,
            Err(e) if e.kind() == super::S3ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok());
        let size = header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| self.bad(OP, key, "no valid Content-Length"))?;
        let etag = header("etag").unwrap_or("").trim_matches('"').to_owned();
        let meta = resp
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                let name = name.as_str().strip_prefix("x-amz-meta-")?;
                Some((name.to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        Ok(Some(ObjectInfo { size, etag, meta }))
    }

    /// Bytes `start..end` of `key`, streamed: the reader pulls from the
    /// socket as it is read, and fails (never ends early) when the body is
    /// shorter than `end - start`. An empty range sends no request.
    ///
    /// # Errors
    ///
    /// `NotFound` when the key does not exist, `Local` when `start > end`,
    /// `BadResponse` when the store ignores the range.
    pub fn get_range(
        &self,
        key: &str,
        start: u64,
        end: u64,
    ) -> Result<Box<dyn Read + Send>, S3Error> {
        const OP: &str = "GetObject";
        if start > end {
            let what = format!("empty range {start}..{end}");
            return Err(S3Error::new(OP, self.object(key), self.endpoint(), Cause::Local(what)));
        }
        if start == end {
            return Ok(Box::new(std::io::empty()));
        }
        let range = format!("bytes={start}-{}", end - 1);
        let resp =
            self.send(OP, Some(key), Method::Get, &[], &[("range", &range)], Payload::None)?;
        let want = end - start;
        let status = resp.status().as_u16();
        let whole = status == 200 && start == 0;
        if status != 206 && !whole {
            return Err(self.bad(OP, key, &format!("status {status} to a range request")));
        }
        let length = resp.headers().get("content-length").and_then(|v| v.to_str().ok());
        if let Some(length) = length.and_then(|v| v.parse::<u64>().ok()) {
            if length != want {
                let what = format!("{length} bytes for the {want}-byte range {range}");
                return Err(self.bad(OP, key, &what));
            }
        }
        let reader = resp.into_body().into_reader();
        let object = format!("{} at {}", self.object(key), self.endpoint());
        Ok(Box::new(ExactBody::new(reader, want, object, range)))
    }

    /// Removes `key`; removing a missing key succeeds.
    ///
    /// # Errors
    ///
    /// Any failure but a 404.
    pub fn delete(&self, key: &str) -> Result<(), S3Error> {
        match self.send("DeleteObject", Some(key), Method::Delete, &[], &[], Payload::None) {
            Ok(resp) => {
                finish(resp);
                Ok(())
            }
            Err(e) if e.kind() == super::S3ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every object under the prefix, as (key without the prefix, size),
    /// in the store's (lexicographic) order, all pages.
    ///
    /// # Errors
    ///
    /// Any store or transport failure, or an unreadable listing.
    pub fn list(&self) -> Result<Vec<(String, u64)>, S3Error> {
        const OP: &str = "ListObjectsV2";
        let prefix = self.inner.config.url.prefix.as_str();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("prefix", prefix)];
            if let Some(t) = &token {
                query.push(("continuation-token", t));
            }
            let body = self.send_for_xml(OP, None, Method::Get, &query, &[], Payload::None)?;
            let page = xml::objects_page(&body).map_err(|e| self.bad(OP, "", &e))?;
            for (key, size) in page.objects {
                if let Some(rel) = key.strip_prefix(prefix) {
                    out.push((rel.to_owned(), size));
                }
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// `s3://bucket/prefix+key`, for messages.
    pub(crate) fn object(&self, key: &str) -> String {
        let url = &self.inner.config.url;
        format!("s3://{}/{}{key}", url.bucket, url.prefix)
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.inner.config.endpoint
    }

    /// A `BadResponse` error about `key`.
    pub(crate) fn bad(&self, op: &'static str, key: &str, what: &str) -> S3Error {
        S3Error::new(op, self.object(key), self.endpoint(), Cause::BadResponse(what.to_owned()))
    }

    /// A `Local` error about `key`.
    pub(crate) fn local(&self, op: &'static str, key: &str, what: String) -> S3Error {
        S3Error::new(op, self.object(key), self.endpoint(), Cause::Local(what))
    }

    /// `meta` as signed `x-amz-meta-*` headers, checked.
    pub(crate) fn meta_headers(
        &self,
        op: &'static str,
        key: &str,
        meta: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, S3Error> {
        let token = |s: &str| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let value = |s: &str| s.bytes().all(|b| (b' '..=b'~').contains(&b));
        meta.iter()
            .map(|(name, v)| {
                if !token(name) || !value(v) {
                    let what = format!("metadata {name:?}={v:?} is not printable ASCII");
                    return Err(self.local(op, key, what));
                }
                Ok((format!("x-amz-meta-{}", name.to_ascii_lowercase()), (*v).to_owned()))
            })
            .collect()
    }

    /// Sends one signed request for `key` (the bucket itself when `None`)
    /// and returns the response when its status is 2xx; otherwise an error
    /// carrying the store's `<Error>` code and message.
    pub(crate) fn send(
        &self,
        op: &'static str,
        key: Option<&str>,
        method: Method,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<Response<Body>, S3Error> {
        let name = key.unwrap_or("");
        let url = self.sign(op, key, method, query, headers)?;
        let agent = &self.inner.agent;
        let sent = match method {
            Method::Get => with_headers(agent.get(&url), headers).call(),
            Method::Head => with_headers(agent.head(&url), headers).call(),
            Method::Delete => with_headers(agent.delete(&url), headers).call(),
            Method::Put => with_headers(agent.put(&url), headers).send(payload.bytes()),
            Method::Post => with_headers(agent.post(&url), headers).send(payload.bytes()),
        };
        let mut resp = sent.map_err(|e| {
            S3Error::new(op, self.object(name), self.endpoint(), Cause::Transport(e))
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.body_mut().with_config().limit(MAX_XML_BODY).read_to_string();
        let (code, mut message) =
            body.ok().and_then(|b| xml::error_document(&b)).unwrap_or_default();
        if code.is_empty() && message.is_empty() {
            message = status.canonical_reason().unwrap_or("").to_owned();
        }
        let cause = Cause::Status { status: status.as_u16(), code, message };
        Err(S3Error::new(op, self.object(name), self.endpoint(), cause))
    }

    /// [`S3Client::send`], then the body as text, failing on an `<Error>`
    /// document even under status 200 (as `CompleteMultipartUpload` may).
    pub(crate) fn send_for_xml(
        &self,
        op: &'static str,
        key: Option<&str>,
        method: Method,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<String, S3Error> {
        let name = key.unwrap_or("");
        let mut resp = self.send(op, key, method, query, headers, payload)?;
        let status = resp.status().as_u16();
        let body =
            resp.body_mut().with_config().limit(MAX_XML_BODY).read_to_string().map_err(|e| {
                S3Error::new(op, self.object(name), self.endpoint(), Cause::Transport(e))
            })?;
        if let Some((code, message)) = xml::error_document(&body) {
            let cause = Cause::Status { status, code, message };
            return Err(S3Error::new(op, self.object(name), self.endpoint(), cause));
        }
        Ok(body)
    }

    /// The presigned URL of one request.
    fn sign(
        &self,
        op: &'static str,
        key: Option<&str>,
        method: Method,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Result<String, S3Error> {
        let inner = &self.inner;
        let url = match key {
            Some(key) => inner.bucket.object_url(&format!("{}{key}", inner.config.url.prefix)),
            None => inner.bucket.base_url().clone(),
        };
        let mut query = query.to_vec();
        query.sort_unstable();
        let mut headers = headers.to_vec();
        headers.sort_unstable();
        // The signing time as rusty-s3's timestamp type, converted from the
        // system clock through the `TryFrom<SystemTime>` the type has (so this
        // module names no date crate).
        let now = SystemTime::now().try_into().map_err(|e| {
            self.local(op, key.unwrap_or(""), format!("system clock out of range: {e}"))
        })?;
        let creds = &inner.config.credentials;
        let url = rusty_s3::signing::sign(
            &now,
            method,
            url,
            &creds.access_key,
            &creds.secret_key,
            None,
            &inner.config.region,
            SIGNATURE_LIFETIME_SECS,
            query.iter().copied(),
            headers.iter().copied(),
        );
        Ok(url.into())
    }
}

impl<'a> Payload<'a> {
    fn bytes(self) -> &'a [u8] {
        match self {
            Payload::None => &[],
            Payload::Bytes(bytes) => bytes,
        }
    }
}

/// Reads the rest of a small answer so that its connection goes back to the
/// pool (a body left unread closes it); a failure here changes nothing.
pub(crate) fn finish(mut resp: Response<Body>) {
    let _ = resp.body_mut().with_config().limit(MAX_XML_BODY).read_to_vec();
}

fn with_headers<B>(
    mut builder: ureq::RequestBuilder<B>,
    headers: &[(&str, &str)],
) -> ureq::RequestBuilder<B> {
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
}
