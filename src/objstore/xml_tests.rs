//! The answer parsers on documents shaped like the ones AWS S3 and Garage
//! send (namespaces, declarations, escaped keys, pagination fields).

use super::*;

const LIST_PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Prefix>arch/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>
<IsTruncated>true</IsTruncated>
<Contents><Key>arch/mysql-bin.000001</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
<ETag>&quot;9e107d9d372bb6826bd81d3542a419d6&quot;</ETag><Size>1048576</Size>
<StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>arch/a&amp;b &lt;c&gt;</Key><Size>0</Size></Contents>
<NextContinuationToken>tok/en=</NextContinuationToken></ListBucketResult>"#;

#[test]
fn reads_a_truncated_list_objects_v2_page() {
    let page = objects_page(LIST_PAGE).unwrap();
    assert_eq!(
        page.objects,
        vec![("arch/mysql-bin.000001".to_owned(), 1_048_576), ("arch/a&b <c>".to_owned(), 0)]
    );
    assert_eq!(page.next.as_deref(), Some("tok/en="));
}

#[test]
fn reads_the_last_list_page_and_an_empty_one() {
    let last = r#"<ListBucketResult><IsTruncated>false</IsTruncated>
        <Contents><Key>k</Key><Size>7</Size></Contents></ListBucketResult>"#;
    let page = objects_page(last).unwrap();
    assert_eq!(page.objects, vec![("k".to_owned(), 7)]);
    assert_eq!(page.next, None);
    let empty = "<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>";
    assert_eq!(objects_page(empty).unwrap(), ObjectsPage { objects: vec![], next: None });
}

#[test]
fn rejects_list_pages_with_missing_or_bad_fields() {
    let no_size = "<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>";
    assert!(objects_page(no_size).unwrap_err().contains("<Size>"));
    let bad_size = "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>\
                    </ListBucketResult>";
    assert!(objects_page(bad_size).unwrap_err().contains("bad <Size>"));
    let no_token = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
    assert!(objects_page(no_token).unwrap_err().contains("NextContinuationToken"));
}

#[test]
fn reads_list_multipart_uploads_pages() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker/>
<NextKeyMarker>arch/f2</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>
<Prefix>arch/</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>
<Upload><Key>arch/f1</Key><UploadId>id1</UploadId><Initiator><ID>x</ID></Initiator>
<StorageClass>STANDARD</StorageClass><Initiated>2024-01-01T00:00:00Z</Initiated></Upload>
<Upload><Key>arch/f2</Key><UploadId>id2</UploadId></Upload>
</ListMultipartUploadsResult>"#;
    let page = uploads_page(body).unwrap();
    assert_eq!(
        page.uploads,
        vec![("arch/f1".to_owned(), "id1".to_owned()), ("arch/f2".to_owned(), "id2".to_owned())]
    );
    assert_eq!(page.next, Some(("arch/f2".to_owned(), "id2".to_owned())));
    let done = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>\
                </ListMultipartUploadsResult>";
    assert_eq!(uploads_page(done).unwrap(), UploadsPage { uploads: vec![], next: None });
}

#[test]
fn reads_the_upload_id_of_create_multipart_upload() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Bucket>b</Bucket><Key>arch/f</Key><UploadId>0a1b2c</UploadId></InitiateMultipartUploadResult>"#;
    assert_eq!(required(body, "UploadId").unwrap(), "0a1b2c");
    assert!(required("<InitiateMultipartUploadResult/>", "UploadId").is_err());
}

#[test]
fn reads_error_documents_with_or_without_declaration() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InvalidAccessKeyId</Code><Message>No such key: GK&apos;x</Message>
<Resource>/b/k</Resource><Region>garage</Region></Error>"#;
    assert_eq!(
        error_document(body),
        Some(("InvalidAccessKeyId".to_owned(), "No such key: GK'x".to_owned()))
    );
    assert_eq!(
        error_document("<Error><Code>NoSuchKey</Code></Error>"),
        Some(("NoSuchKey".to_owned(), String::new()))
    );
    let ok = "<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>";
    assert_eq!(error_document(ok), None);
    assert_eq!(error_document(""), None);
}

#[test]
fn finds_elements_by_exact_name_only() {
    let doc = "<a><KeyMarker>m</KeyMarker><Key attr=\"1\">k1</Key><Key/><Keys>x</Keys></a>";
    assert_eq!(elements(doc, "Key"), vec!["k1", ""]);
    assert_eq!(elements("<Key>unclosed", "Key"), Vec::<&str>::new());
}

#[test]
fn unescapes_entities_and_character_references() {
    assert_eq!(unescape("a&lt;b&gt;&amp;&quot;&apos;&#65;&#x42;").unwrap(), "a<b>&\"'AB");
    assert!(unescape("a&bogus;").is_err());
    assert!(unescape("a&amp").is_err());
    assert!(unescape("&#xD800;").is_err());
}

#[test]
fn escape_round_trips_through_unescape() {
    let text = "\"etag\" & <more> 'x'";
    assert_eq!(unescape(&escape(text)).unwrap(), text);
}
