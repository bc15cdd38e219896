//! How long a deployment takes to be healthy again after a fault, as its operators would
//! see it: watched from outside while the workload goes on, every [`POLL`], for
//! [`LIMIT`] at most. Readiness is back when every instance's `/readyz` says `ready`
//! (database and cache both answering); reads use the cache again when, once ready,
//! the instances' count of reads that looked in the cache (`tasklane_cache_lookups_total`
//! in `/metrics`, whatever they found: a hit, a miss) grows, rather than only their
//! bypasses (Redis down, a write unconfirmed). Hits alone would not do: under a
//! workload that writes as often as the checker's, every write retires the
//! workspace's entries, and a hit is rare. Only while the workload runs: after it nothing reads. Whether
//! reads and writes are answered again is read from the history instead
//! ([`crate::figures`]).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::history::Clock;

/// How often the instances are asked.
const POLL: Duration = Duration::from_millis(100);
/// How long they are watched at most.
const LIMIT: Duration = Duration::from_secs(30);

/// When the deployment was seen healthy again (microseconds on the scenario's clock).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Watched {
    /// Every instance's `/readyz` said `ready`.
    pub ready_us: Option<u64>,
    /// After that, the instances' reads looked in the cache again.
    pub cache_us: Option<u64>,
}

/// Watches `urls` from now until both are seen, or [`LIMIT`] passes, or the workload's
/// `end`.
pub async fn watch(urls: Vec<String>, clock: Clock, end: Instant) -> Watched {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap_or_default();
    let deadline = end.min(Instant::now() + LIMIT);
    let mut watched = Watched::default();
    let mut hits: Option<f64> = None;
    while Instant::now() < deadline && watched.cache_us.is_none() {
        if watched.ready_us.is_none() {
            let mut ready = true;
            for url in &urls {
                ready &= is_ready(&client, url).await;
            }
            if ready {
                watched.ready_us = Some(clock.now());
            }
        }
        if watched.ready_us.is_some() {
            let mut total = Some(0.0);
            for url in &urls {
                total = match (total, cache_lookups(&client, url).await) {
                    (Some(sum), Some(more)) => Some(sum + more),
                    _ => None,
                };
            }
            if let (Some(before), Some(now)) = (hits, total)
                && now > before
            {
                watched.cache_us = Some(clock.now());
            }
            hits = total.or(hits);
        }
        tokio::time::sleep(POLL).await;
    }
    watched
}

async fn is_ready(client: &reqwest::Client, url: &str) -> bool {
    let Ok(response) = client.get(format!("{url}/readyz")).send().await else {
        return false;
    };
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body["status"] == "ready"
}

/// The instance's reads that looked in the cache so far, if its metrics answer.
async fn cache_lookups(client: &reqwest::Client, url: &str) -> Option<f64> {
    let response = client.get(format!("{url}/metrics")).send().await.ok()?;
    let text = response.text().await.ok()?;
    lookups_in(&text)
}

/// The cache lookups, of every result, a Prometheus text exposition counts.
fn lookups_in(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| line.starts_with("tasklane_cache_lookups_total{"))
        .map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookups_of_every_result_are_read_from_the_metrics() {
        let text = "# HELP tasklane_cache_lookups_total Reads\n\
                    tasklane_cache_lookups_total{result=\"hit\"} 41\n\
                    tasklane_cache_lookups_total{result=\"miss\"} 7\n\
                    tasklane_cache_bypasses_total{reason=\"redis_down\"} 5\n";
        assert_eq!(lookups_in(text), Some(48.0));
        let unreadable = "tasklane_cache_lookups_total{result=\"hit\"} x";
        assert_eq!(lookups_in(unreadable), None);
    }
}
