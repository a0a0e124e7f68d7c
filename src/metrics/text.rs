//! The samples and their two renderings: Prometheus text exposition format
//! 0.0.4 (`# HELP`, `# TYPE`, one line per sample) and `SHOW STATUS` rows.
//! Both come from the same [`Family`] list, so they always agree: the row
//! for `binlogserver_x{a="b"} 3` is `Binlogserver_x{a="b"}` = `3`.

use std::fmt::Write;

/// Prefix of every metric name.
pub const PREFIX: &str = "binlogserver_";
/// Prefix of the `SHOW STATUS` names.
pub const STATUS_PREFIX: &str = "Binlogserver_";

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (names end in `_total`).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, sum and count.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An exact integer.
    Int(u64),
    /// A measurement (seconds).
    Float(f64),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) if v.is_nan() => f.write_str("NaN"),
            Value::Float(v) if v.is_infinite() => {
                f.write_str(if *v > 0.0 { "+Inf" } else { "-Inf" })
            }
            Value::Float(v) => write!(f, "{v}"),
        }
    }
}

/// One line: the family name plus `suffix` (`_bucket`, `_sum`, `_count`
/// or empty), labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Appended to the family name.
    pub suffix: &'static str,
    /// Label names and values, in order.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: Value,
}

impl Sample {
    /// A sample without labels.
    pub fn plain(value: Value) -> Self {
        Sample { suffix: "", labels: Vec::new(), value }
    }
}

/// A metric: name (without [`PREFIX`]), help, type and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Name without the prefix, e.g. `upstream_connected`.
    pub name: &'static str,
    /// The `# HELP` text.
    pub help: &'static str,
    /// The `# TYPE`.
    pub kind: Kind,
    /// Its samples (may be empty, e.g. no downstream client connected).
    pub samples: Vec<Sample>,
}

/// Prometheus text format 0.0.4.
pub fn prometheus(families: &[Family]) -> String {
    let mut out = String::with_capacity(4096);
    for fam in families {
        let _ = writeln!(out, "# HELP {PREFIX}{} {}", fam.name, escape_help(fam.help));
        let _ = writeln!(out, "# TYPE {PREFIX}{} {}", fam.name, fam.kind.as_str());
        for s in &fam.samples {
            let _ =
                writeln!(out, "{PREFIX}{}{}{} {}", fam.name, s.suffix, labels(&s.labels), s.value);
        }
    }
    out
}

/// `SHOW STATUS` rows: `Binlogserver_<name><suffix><labels>` and the value.
pub fn status_rows(families: &[Family]) -> Vec<(String, String)> {
    families
        .iter()
        .flat_map(|fam| {
            fam.samples.iter().map(move |s| {
                (
                    format!("{STATUS_PREFIX}{}{}{}", fam.name, s.suffix, labels(&s.labels)),
                    s.value.to_string(),
                )
            })
        })
        .collect()
}

fn labels(labels: &[(&'static str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut out = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"{}\"", escape_label(value));
    }
    out.push('}');
    out
}

/// Label values escape backslash, double quote and line feed.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Help text escapes backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn families() -> Vec<Family> {
        vec![
            Family {
                name: "upstream_connected",
                help: "1 while connected",
                kind: Kind::Gauge,
                samples: vec![Sample::plain(Value::Int(1))],
            },
            Family {
                name: "downstream_lag_bytes",
                help: "lag\nof a \\ client",
                kind: Kind::Gauge,
                samples: vec![Sample {
                    suffix: "",
                    labels: vec![("id", "3".into()), ("user", "we\"ird\\\n".into())],
                    value: Value::Int(0),
                }],
            },
            Family {
                name: "fsync_duration_seconds",
                help: "fsync",
                kind: Kind::Histogram,
                samples: vec![
                    Sample {
                        suffix: "_bucket",
                        labels: vec![("le", "0.00005".into())],
                        value: Value::Int(2),
                    },
                    Sample {
                        suffix: "_bucket",
                        labels: vec![("le", "+Inf".into())],
                        value: Value::Int(3),
                    },
                    Sample { suffix: "_sum", labels: vec![], value: Value::Float(0.25) },
                    Sample { suffix: "_count", labels: vec![], value: Value::Int(3) },
                ],
            },
        ]
    }

    #[test]
    fn prometheus_text_has_help_type_and_escaped_labels() {
        let text = prometheus(&families());
        let expected = "\
# HELP binlogserver_upstream_connected 1 while connected
# TYPE binlogserver_upstream_connected gauge
binlogserver_upstream_connected 1
# HELP binlogserver_downstream_lag_bytes lag\\nof a \\\\ client
# TYPE binlogserver_downstream_lag_bytes gauge
binlogserver_downstream_lag_bytes{id=\"3\",user=\"we\\\"ird\\\\\\n\"} 0
# HELP binlogserver_fsync_duration_seconds fsync
# TYPE binlogserver_fsync_duration_seconds histogram
binlogserver_fsync_duration_seconds_bucket{le=\"0.00005\"} 2
binlogserver_fsync_duration_seconds_bucket{le=\"+Inf\"} 3
binlogserver_fsync_duration_seconds_sum 0.25
binlogserver_fsync_duration_seconds_count 3
";
        assert_eq!(text, expected);
    }

    #[test]
    fn status_rows_mirror_the_samples() {
        let rows = status_rows(&families());
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0], ("Binlogserver_upstream_connected".to_owned(), "1".to_owned()));
        assert_eq!(
            rows[2],
            (
                "Binlogserver_fsync_duration_seconds_bucket{le=\"0.00005\"}".to_owned(),
                "2".to_owned()
            )
        );
        assert_eq!(
            rows[4],
            ("Binlogserver_fsync_duration_seconds_sum".to_owned(), "0.25".to_owned())
        );
    }

    #[test]
    fn values_render_as_prometheus_numbers() {
        assert_eq!(Value::Int(u64::MAX).to_string(), "18446744073709551615");
        assert_eq!(Value::Float(0.000_05).to_string(), "0.00005");
        assert_eq!(Value::Float(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Value::Float(f64::NAN).to_string(), "NaN");
    }
}
