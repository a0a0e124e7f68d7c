//! The few fields of the store's XML answers this client needs, read by a
//! tiny element finder rather than an XML crate: S3 answers are flat,
//! machine-written documents (no CDATA, no same-name nesting), and the
//! finder ignores namespaces and unknown elements, so a store that adds
//! fields or omits `xmlns` (Garage, Ceph, MinIO) reads the same. No I/O.

/// The inner texts (still escaped) of every `<tag>...</tag>` in `xml`, in
/// order; `<tag/>` gives an empty text. Elements of the same name must not
/// nest (none do in S3 answers).
pub(crate) fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find(&open) {
        let after = rest.get(at + open.len()..).unwrap_or("");
        let Some(end_of_open) = after.find('>') else { break };
        let head = after.get(..end_of_open).unwrap_or("");
        // `<tagX` is another element; `<tag attr="..">` and `<tag/>` are ours.
        if !(head.is_empty() || head.starts_with([' ', '\t', '\r', '\n', '/'])) {
            rest = after;
            continue;
        }
        let body = after.get(end_of_open + 1..).unwrap_or("");
        if head.ends_with('/') {
            out.push("");
            rest = body;
            continue;
        }
        let Some(len) = body.find(&close) else { break };
        out.push(body.get(..len).unwrap_or(""));
        rest = body.get(len + close.len()..).unwrap_or("");
    }
    out
}

/// The unescaped text of the first `<tag>` in `xml`, if any.
pub(crate) fn text(xml: &str, tag: &str) -> Result<Option<String>, String> {
    elements(xml, tag).first().map(|raw| unescape(raw)).transpose()
}

/// Like [`text`], but the element must be there.
pub(crate) fn required(xml: &str, tag: &str) -> Result<String, String> {
    text(xml, tag)?.ok_or_else(|| format!("no <{tag}> element"))
}

/// Replaces the five predefined entities and numeric character references.
pub(crate) fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or(""));
        let tail = rest.get(amp + 1..).unwrap_or("");
        let semi = tail.find(';').ok_or_else(|| format!("unterminated entity in {raw:?}"))?;
        let name = tail.get(..semi).unwrap_or("");
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => numeric_reference(name).ok_or_else(|| format!("unknown entity &{name};"))?,
        };
        out.push(c);
        rest = tail.get(semi + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

fn numeric_reference(name: &str) -> Option<char> {
    let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
        u32::from_str_radix(hex, 16).ok()?
    } else {
        name.strip_prefix('#')?.parse().ok()?
    };
    char::from_u32(code)
}

/// Escapes text for an element body (the `CompleteMultipartUpload` ETags).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The root element of an S3 `<Error>` document, when `body` is one (a
/// `CompleteMultipartUpload` can fail with status 200 and such a body).
pub(crate) fn error_document(body: &str) -> Option<(String, String)> {
    let mut doc = body.trim_start();
    if doc.starts_with("<?xml") {
        doc = doc.get(doc.find("?>")? + 2..)?.trim_start();
    }
    if !doc.starts_with("<Error>") && !doc.starts_with("<Error ") {
        return None;
    }
    let code = text(doc, "Code").ok().flatten().unwrap_or_default();
    let message = text(doc, "Message").ok().flatten().unwrap_or_default();
    Some((code, message))
}

/// One page of a `ListObjectsV2` answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ObjectsPage {
    /// Full keys and sizes.
    pub(crate) objects: Vec<(String, u64)>,
    /// The continuation token when the listing is truncated.
    pub(crate) next: Option<String>,
}

/// Reads a `ListBucketResult` (ListObjectsV2).
pub(crate) fn objects_page(body: &str) -> Result<ObjectsPage, String> {
    let mut objects = Vec::new();
    for item in elements(body, "Contents") {
        let key = required(item, "Key")?;
        let size = required(item, "Size")?;
        let size = size.trim().parse().map_err(|_| format!("bad <Size> {size:?} of {key:?}"))?;
        objects.push((key, size));
    }
    let next = if truncated(body)? { Some(required(body, "NextContinuationToken")?) } else { None };
    Ok(ObjectsPage { objects, next })
}

/// One page of a `ListMultipartUploads` answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UploadsPage {
    /// Full keys and upload ids.
    pub(crate) uploads: Vec<(String, String)>,
    /// The next key marker and upload id marker when truncated.
    pub(crate) next: Option<(String, String)>,
}

/// Reads a `ListMultipartUploadsResult`.
pub(crate) fn uploads_page(body: &str) -> Result<UploadsPage, String> {
    let mut uploads = Vec::new();
    for item in elements(body, "Upload") {
        uploads.push((required(item, "Key")?, required(item, "UploadId")?));
    }
    let next = if truncated(body)? {
        let key = required(body, "NextKeyMarker")?;
        let id = text(body, "NextUploadIdMarker")?.unwrap_or_default();
        Some((key, id))
    } else {
        None
    };
    Ok(UploadsPage { uploads, next })
}

fn truncated(body: &str) -> Result<bool, String> {
    match text(body, "IsTruncated")?.as_deref().map(str::trim) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(format!("bad <IsTruncated> {other:?}")),
    }
}

#[cfg(test)]
#[path = "xml_tests.rs"]
mod tests;
