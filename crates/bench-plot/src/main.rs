//! `bench-plot`: draws the charts of BENCHMARKS.md from the figures `scripts/bench`
//! measured, as SVG.
//!
//! The input has one scenario a line, `NAME REQUESTS_PER_S P50_MS P99_MS`, in the order
//! to draw them. Rows named `ceiling`, `redis-…` or `directus-…` are the references
//! measured beside Tasklane and are drawn in their own colour. Both charts use a log
//! scale: the figures span five orders of magnitude.

use std::{fs, ops::Range, path::PathBuf};

use anyhow::{Context, bail};
use clap::Parser;
use plotters::{coord::ranged1d::SegmentValue, prelude::*};

/// Draws throughput.svg and latency.svg from scripts/bench's figures.
#[derive(Parser)]
struct Args {
    /// The figures: one scenario a line, `NAME REQUESTS_PER_S P50_MS P99_MS`.
    results: PathBuf,
    /// Where to write throughput.svg and latency.svg.
    out_dir: PathBuf,
    /// How many runs each figure is the median of (for the captions).
    #[arg(long, default_value_t = 3)]
    runs: u32,
}

/// One scenario's medians.
struct Row {
    name: String,
    requests_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Row {
    fn parse(line: &str) -> anyhow::Result<Self> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, requests_per_s, p50_ms, p99_ms] = fields[..] else {
            bail!("expected `NAME REQUESTS_PER_S P50_MS P99_MS`, found {line:?}");
        };
        let number = |field: &str| {
            field
                .parse::<f64>()
                .ok()
                .filter(|value| *value > 0.0)
                .with_context(|| format!("{field:?} in {line:?} is not a positive number"))
        };
        Ok(Self {
            name: name.to_owned(),
            requests_per_s: number(requests_per_s)?,
            p50_ms: number(p50_ms)?,
            p99_ms: number(p99_ms)?,
        })
    }

    /// Whether this row is a reference measured beside Tasklane rather than Tasklane.
    fn is_reference(&self) -> bool {
        self.name == "ceiling"
            || self.name.starts_with("redis-")
            || self.name.starts_with("directus-")
    }

    fn colour(&self) -> RGBColor {
        if self.is_reference() {
            RGBColor(214, 120, 40)
        } else {
            RGBColor(50, 110, 180)
        }
    }
}

/// A horizontal bar: from the axis's start to `value`, in `style`.
struct Bar {
    value: f64,
    style: ShapeStyle,
}

/// One horizontal log-scale bar chart: a row of bars per scenario, drawn over each other
/// (so a row's bars go from longest to shortest). `rows` is not empty.
fn draw(
    path: &PathBuf,
    caption: &str,
    axis: &str,
    rows: &[Row],
    bars: impl Fn(&Row) -> Vec<Bar>,
) -> anyhow::Result<()> {
    let values: Vec<f64> = rows.iter().flat_map(&bars).map(|bar| bar.value).collect();
    let range = log_range(&values);
    let height = 90 + 26 * u32::try_from(rows.len())?;
    // Segments 0..=last, one a row, the first row at the top.
    let last = rows.len() - 1;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(180)
        .build_cartesian_2d(range.clone().log_scale(), (0..last).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len())
        .x_desc(axis)
        .x_label_formatter(&|value| format!("{value}"))
        .y_label_formatter(&|segment| match segment {
            SegmentValue::CenterOf(segment) => rows
                .get(last.wrapping_sub(*segment))
                .map(|row| row.name.clone())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    for (index, row) in rows.iter().enumerate() {
        let segment = last - index;
        chart.draw_series(bars(row).into_iter().map(|bar| {
            let mut rectangle = Rectangle::new(
                [
                    (range.start, SegmentValue::Exact(segment)),
                    (bar.value, SegmentValue::Exact(segment + 1)),
                ],
                bar.style,
            );
            rectangle.set_margin(4, 4, 0, 0);
            rectangle
        }))?;
    }
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Powers of ten around every value.
fn log_range(values: &[f64]) -> Range<f64> {
    let (low, high) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(low, high), value| {
            (low.min(*value), high.max(*value))
        });
    10f64.powf(low.log10().floor())..10f64.powf(high.log10().ceil())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = fs::read_to_string(&args.results)
        .with_context(|| format!("cannot read {}", args.results.display()))?;
    let rows = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(Row::parse)
        .collect::<anyhow::Result<Vec<_>>>()?;
    if rows.is_empty() {
        bail!("{} has no figures", args.results.display());
    }
    fs::create_dir_all(&args.out_dir)?;
    let runs = args.runs;
    draw(
        &args.out_dir.join("throughput.svg"),
        &format!("Requests per second, median of {runs} runs (orange: references)"),
        "requests/s (log scale)",
        &rows,
        |row| {
            vec![Bar {
                value: row.requests_per_s,
                style: row.colour().filled(),
            }]
        },
    )?;
    draw(
        &args.out_dir.join("latency.svg"),
        &format!("Latency: p50 (solid) and p99 (light), median of {runs} runs"),
        "milliseconds (log scale)",
        &rows,
        |row| {
            vec![
                Bar {
                    value: row.p99_ms,
                    style: row.colour().mix(0.35).filled(),
                },
                Bar {
                    value: row.p50_ms,
                    style: row.colour().filled(),
                },
            ]
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_parse_and_bad_lines_are_refused() {
        let row = Row::parse("cached-list 44361.75 0.633 2.83").unwrap();
        assert_eq!(row.name, "cached-list");
        assert_eq!(row.requests_per_s, 44361.75);
        assert!(!row.is_reference());
        assert!(
            Row::parse("directus-cached 230 130 370")
                .unwrap()
                .is_reference()
        );
        assert!(Row::parse("ceiling 58140 0.4").is_err());
        assert!(Row::parse("create 1030 x 44").is_err());
        assert!(Row::parse("create 0 1 1").is_err());
    }

    #[test]
    fn the_log_range_covers_every_value_in_powers_of_ten() {
        assert_eq!(log_range(&[23.8, 58140.5]), 10.0..100_000.0);
        assert_eq!(log_range(&[0.47, 1570.0]), 0.1..10_000.0);
    }
}
