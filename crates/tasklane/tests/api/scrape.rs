//! `/metrics` as Prometheus reads it, for the tests that count: one scrape parsed by an
//! independent parser (`prometheus-parse`), its samples by name and labels.

use std::collections::{BTreeMap, BTreeSet};

use prometheus_parse::{LineInfo, Scrape, Value};
use reqwest::StatusCode;

use crate::helpers::TestApp;

/// One scrape: every sample by its name and labels (a histogram by its `_count`).
pub struct Metrics {
    pub samples: BTreeMap<String, f64>,
    /// The names the scrape describes (`# HELP`).
    pub names: BTreeSet<String>,
}

impl Metrics {
    /// The value of `name` with exactly `labels` (0 when the series is absent: a
    /// counter not yet registered has counted nothing).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .get(&series(name, labels))
            .copied()
            .unwrap_or(0.0)
    }

    /// How far `name` with `labels` moved since `before`.
    pub fn moved(&self, before: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels) - before.get(name, labels)
    }

    /// The sum of every series of `name`, whatever its labels.
    pub fn total(&self, name: &str) -> f64 {
        let prefix = format!("{name}{{");
        self.samples
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, value)| value)
            .sum()
    }
}

/// `text` with every `{` and `}` inside a quoted label value replaced by `(` and `)`.
fn without_braces_in_values(text: &str) -> String {
    let mut quoted = false;
    let mut escaped = false;
    text.chars()
        .map(|c| {
            let out = match c {
                '{' if quoted => '(',
                '}' if quoted => ')',
                c => c,
            };
            if quoted && c == '\\' && !escaped {
                escaped = true;
                return out;
            }
            if c == '"' && !escaped {
                quoted = !quoted;
            }
            if c == '\n' {
                quoted = false;
            }
            escaped = false;
            out
        })
        .collect()
}

/// A series' key: `name{a="x",b="y"}`, labels sorted.
fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    let labels: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{value}\""))
        .collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// Parses an exposition with `prometheus-parse`, asserting first that the parser
/// recognises every line as a description, a type or a sample with a number (it skips
/// what it cannot read, so a malformed line would otherwise pass unseen).
///
/// Route templates hold braces (`route="/v1/tasks/{id}"`), which the text format
/// allows in a label's value and `prometheus-parse` does not (it ends the labels at
/// the first `}`): braces inside quoted values are read as parentheses
/// (`/v1/tasks/(id)`) before it parses them.
fn parse(text: &str) -> Metrics {
    let text = &without_braces_in_values(text);
    for line in text.lines() {
        let recognised = match LineInfo::parse(line) {
            LineInfo::Doc { .. } | LineInfo::Type { .. } => true,
            LineInfo::Sample { value, .. } => value.parse::<f64>().is_ok(),
            LineInfo::Empty => line.is_empty(),
            LineInfo::Ignored => false,
        };
        assert!(recognised, "not Prometheus text: {line:?}\n{text}");
    }
    let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).unwrap();
    let mut samples = BTreeMap::new();
    for sample in scrape.samples {
        let labels: Vec<(&str, &str)> = sample
            .labels
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let (name, value) = match &sample.value {
            Value::Counter(value) | Value::Gauge(value) | Value::Untyped(value) => {
                (sample.metric.clone(), *value)
            }
            Value::Histogram(buckets) => (
                format!("{}_count", sample.metric),
                buckets.last().map_or(0.0, |bucket| bucket.count),
            ),
            Value::Summary(_) => panic!("no summaries are exported: {}", sample.metric),
        };
        samples.insert(series(&name, &labels), value);
    }
    Metrics {
        samples,
        names: scrape.docs.into_keys().collect(),
    }
}

/// Scrapes `base`'s `/metrics`.
pub async fn scrape_at(client: &reqwest::Client, base: &str) -> Metrics {
    let response = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
    );
    parse(&response.text().await.unwrap())
}

pub async fn scrape(app: &TestApp) -> Metrics {
    scrape_at(&app.client, &app.base).await
}
