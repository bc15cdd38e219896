//! `bench-feed webhooks`: webhook figures against one server, with a receiver of its own
//! on 127.0.0.1 (the server must run with `--webhook-allow-private`).
//!
//! - latency: writes made one at a time; for each, the time from its acknowledgement to
//!   its delivery's arrival (zero when the delivery came first);
//! - deliveries per second to one endpoint, and across 100: a backlog is written while
//!   the endpoints are paused, then they are resumed and the backlog timed until every
//!   delivery has arrived;
//! - writes per second for a fixed time with no webhook, then with 100 registered and
//!   delivering.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Bench, millis, percentile};

/// A delivery that arrived: the endpoint it was for, its `webhook-id`, its task, and when.
struct Delivery {
    batch: String,
    id: String,
    task_id: String,
    at: Instant,
}

/// How many writers run at once when writing a backlog or measuring writes.
const WRITERS: usize = 16;

impl Bench {
    /// Prints `p50_ms p99_ms one_per_s hundred_per_s writes_without_per_s
    /// writes_with_per_s`.
    pub async fn webhooks(
        &self,
        url: &str,
        writes: usize,
        backlog: usize,
        seconds: u64,
    ) -> anyhow::Result<()> {
        let (receiver, mut delivered) = receive().await?;
        let (p50, p99) = self
            .delivery_latency(url, &receiver, &mut delivered, writes)
            .await?;
        let one = self
            .drain_rate(url, &receiver, &mut delivered, 1, backlog)
            .await?;
        let endpoints = self.endpoints(url, &receiver, "writes", 100).await?;
        self.set_status(url, &endpoints, "paused").await?;
        let without = self.write_rate(url, seconds).await?;
        self.set_status(url, &endpoints, "active").await?;
        let with = self.write_rate(url, seconds).await?;
        self.remove(url, &endpoints).await?;
        let hundred = self
            .drain_rate(url, &receiver, &mut delivered, 100, backlog / 5)
            .await?;
        println!("{p50:.2} {p99:.2} {one:.0} {hundred:.0} {without:.0} {with:.0}");
        Ok(())
    }

    async fn delivery_latency(
        &self,
        url: &str,
        receiver: &str,
        delivered: &mut mpsc::UnboundedReceiver<Delivery>,
        writes: usize,
    ) -> anyhow::Result<(f64, f64)> {
        let endpoints = self.endpoints(url, receiver, "latency", 1).await?;
        let mut latencies = Vec::with_capacity(writes);
        for _ in 0..writes {
            let (id, acknowledged) = self.create(url).await?;
            let arrival = loop {
                let delivery = next(delivered).await?;
                if delivery.task_id == id {
                    break delivery.at;
                }
            };
            latencies.push(arrival.saturating_duration_since(acknowledged));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.remove(url, &endpoints).await?;
        latencies.sort();
        Ok((
            millis(percentile(&latencies, 50)),
            millis(percentile(&latencies, 99)),
        ))
    }

    /// Deliveries per second of a backlog of `backlog` writes to `count` endpoints.
    async fn drain_rate(
        &self,
        url: &str,
        receiver: &str,
        delivered: &mut mpsc::UnboundedReceiver<Delivery>,
        count: usize,
        backlog: usize,
    ) -> anyhow::Result<f64> {
        while delivered.try_recv().is_ok() {}
        let batch = format!("drain{count}");
        let endpoints = self.endpoints(url, receiver, &batch, count).await?;
        self.set_status(url, &endpoints, "paused").await?;
        let per_writer = backlog.div_ceil(WRITERS);
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (bench, url) = (self.clone(), url.to_owned());
                tokio::spawn(async move {
                    for _ in 0..per_writer {
                        bench.create(&url).await?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for writer in writers {
            writer.await??;
        }
        let expected = per_writer * WRITERS * count;
        let started = Instant::now();
        self.set_status(url, &endpoints, "active").await?;
        let mut seen = HashSet::with_capacity(expected);
        while seen.len() < expected {
            let delivery = next(delivered).await?;
            if delivery.batch == batch {
                seen.insert(delivery.id);
            }
        }
        let rate = expected as f64 / started.elapsed().as_secs_f64();
        self.remove(url, &endpoints).await?;
        Ok(rate)
    }

    /// Writes per second with [`WRITERS`] writers for `seconds`.
    async fn write_rate(&self, url: &str, seconds: u64) -> anyhow::Result<f64> {
        let until = Instant::now() + Duration::from_secs(seconds);
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (bench, url) = (self.clone(), url.to_owned());
                tokio::spawn(async move {
                    let mut written = 0usize;
                    while Instant::now() < until {
                        bench.create(&url).await?;
                        written += 1;
                    }
                    anyhow::Ok(written)
                })
            })
            .collect();
        let mut written = 0;
        for writer in writers {
            written += writer.await??;
        }
        Ok(written as f64 / seconds as f64)
    }

    /// Registers `count` endpoints at the receiver, under `batch`; their ids.
    async fn endpoints(
        &self,
        url: &str,
        receiver: &str,
        batch: &str,
        count: usize,
    ) -> anyhow::Result<Vec<String>> {
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let created: Value = self
                .call(
                    self.client.post(format!("{url}/v1/webhooks")),
                    Some(json!({"url": format!("{receiver}/{batch}/{n}")})),
                )
                .await?;
            ids.push(created["id"].as_str().context("a webhook id")?.to_owned());
        }
        Ok(ids)
    }

    async fn set_status(&self, url: &str, ids: &[String], status: &str) -> anyhow::Result<()> {
        for id in ids {
            let request = self.client.patch(format!("{url}/v1/webhooks/{id}"));
            self.call(request, Some(json!({"status": status}))).await?;
        }
        Ok(())
    }

    async fn remove(&self, url: &str, ids: &[String]) -> anyhow::Result<()> {
        for id in ids {
            let request = self.client.delete(format!("{url}/v1/webhooks/{id}"));
            self.call(request, None).await?;
        }
        Ok(())
    }

    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let request = request.bearer_auth(&self.token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            bail!("{status}: {}", response.text().await.unwrap_or_default());
        }
        Ok(response.json().await.unwrap_or(Value::Null))
    }
}

/// The next delivery, within 60 s.
async fn next(delivered: &mut mpsc::UnboundedReceiver<Delivery>) -> anyhow::Result<Delivery> {
    tokio::time::timeout(Duration::from_secs(60), delivered.recv())
        .await
        .context("no delivery within 60 s")?
        .context("the receiver stopped")
}

/// Starts the receiver: `POST /{batch}/{endpoint}` records each delivery. Its base URL.
async fn receive() -> anyhow::Result<(String, mpsc::UnboundedReceiver<Delivery>)> {
    let (deliveries, delivered) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/{batch}/{endpoint}", post(record))
        .with_state(Arc::new(deliveries));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((base, delivered))
}

async fn record(
    State(deliveries): State<Arc<mpsc::UnboundedSender<Delivery>>>,
    Path((batch, _endpoint)): Path<(String, usize)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let at = Instant::now();
    let id = headers
        .get("webhook-id")
        .and_then(|id| id.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let task_id = body["data"]["task_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let _ = deliveries.send(Delivery {
        batch,
        id,
        task_id,
        at,
    });
    StatusCode::NO_CONTENT
}
