//! `tasklane seed`: a realistic dataset, for benchmarks and for trying Tasklane out.
//!
//! Tasks are spread evenly over workspaces named `{prefix}-0001`, `{prefix}-0002`, ...,
//! with the mix of statuses, priorities, assignees, labels and due dates a team's
//! tracker has, created over the past year. Each batch is one transaction that also
//! advances its workspace's generation, so seeding under a running server is safe.
//! The same `--seed` gives the same tasks (but fresh ids). The database must exist
//! (`tasklane serve` creates it), and workspaces that already hold tasks are only added
//! to with `--append`: running the same command twice would double every workspace.

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{HumanCount, ProgressBar, ProgressState, ProgressStyle};
use tasklane_server::domain::{Priority, Status, Task, TaskId, Timestamp, Workspace};
use tasklane_server::store::Opening;

use crate::cli::ServerDatabase;

/// `tasklane seed` options.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// How many tasks in all.
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub tasks: u64,

    /// How many workspaces to spread them over (evenly).
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub workspaces: u64,

    /// Workspaces are named `{PREFIX}-0001`, `{PREFIX}-0002`, ...
    #[arg(long, value_name = "PREFIX", default_value = "seed")]
    pub workspace_prefix: String,

    /// Seed of the generator: the same seed gives the same tasks (with fresh ids).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// The database to fill.
    #[command(flatten)]
    pub database: ServerDatabase,

    /// Add tasks to workspaces that already have some. Without it, seeding workspaces
    /// that hold tasks (a second run with the same prefix) is refused.
    #[arg(long)]
    pub append: bool,

    /// Create the database (a SQLite file) and its tables if they do not exist yet, as
    /// `tasklane serve` would: for a dataset of its own. Without it, the database must
    /// be one a server has already created, so that a mistyped URL is refused.
    #[arg(long)]
    pub new: bool,
}

/// Tasks per transaction.
const BATCH: usize = 5_000;

const VERBS: [&str; 8] = [
    "Fix", "Write", "Review", "Ship", "Plan", "Test", "Refactor", "Document",
];
const NOUNS: [&str; 8] = [
    "login page",
    "billing export",
    "search index",
    "release notes",
    "API client",
    "onboarding",
    "dashboard",
    "backup job",
];
const PEOPLE: [&str; 12] = [
    "ana", "bo", "chen", "dara", "eli", "fay", "gus", "hana", "ivo", "jun", "kai", "lea",
];
const LABELS: [&str; 10] = [
    "bug", "feature", "docs", "ops", "design", "backend", "frontend", "security", "research",
    "chore",
];

/// Seeds the database `args` names; reports progress on standard error.
pub async fn run(args: &SeedArgs) -> anyhow::Result<()> {
    let workspaces = (1..=args.workspaces)
        .map(|n| {
            let name = format!("{}-{n:04}", args.workspace_prefix);
            name.parse::<Workspace>()
                .map_err(|message| anyhow::anyhow!("workspace `{name}`: {message}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let opening = if args.new {
        Opening::Create
    } else {
        Opening::Existing
    };
    let storage = args.database.open(opening).await?;
    if !args.append {
        if let Some(workspace) = storage
            .bulk
            .occupied(&workspaces)
            .await
            .context("looking for tasks already in the workspaces")?
        {
            bail!(
                "workspace `{workspace}` already has tasks (seeded before?): pass --append to add \
                 {} more to these workspaces, or choose another --workspace-prefix",
                HumanCount(args.tasks)
            );
        }
    }
    let progress = ProgressBar::new(args.tasks).with_style(progress_style());
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let now = Timestamp::now().as_micros();
    for (workspace, count) in workspaces.iter().zip(shares(args.tasks, args.workspaces)) {
        let mut left = count;
        while left > 0 {
            let batch = left.min(BATCH as u64);
            let tasks: Vec<Task> = (0..batch).map(|_| task(&mut rng, now)).collect();
            storage
                .bulk
                .load(workspace, &tasks)
                .await
                .with_context(|| format!("loading tasks into `{workspace}`"))?;
            progress.inc(batch);
            left -= batch;
        }
    }
    progress.finish_and_clear();
    storage
        .bulk
        .analyze()
        .await
        .context("refreshing the query planner's statistics")?;
    eprintln!(
        "Seeded {} tasks into {} workspace{} ({}-0001 to {}-{:04}) in {:.1}s",
        HumanCount(args.tasks),
        HumanCount(args.workspaces),
        if args.workspaces == 1 { "" } else { "s" },
        args.workspace_prefix,
        args.workspace_prefix,
        args.workspaces,
        progress.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The progress bar: whole numbers with thousands separators (`12,345/1,000,000 tasks,
/// 52,000 tasks/s`), never a count with decimals.
fn progress_style() -> ProgressStyle {
    ProgressStyle::with_template("{bar:40} {human_pos}/{human_len} tasks, {rate}, ETA {eta}")
        .expect("a valid template")
        .with_key(
            "rate",
            |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{} tasks/s", HumanCount(state.per_sec() as u64));
            },
        )
}

/// `total` split into `parts` shares that differ by at most one.
fn shares(total: u64, parts: u64) -> impl Iterator<Item = u64> {
    (0..parts).map(move |n| total / parts + u64::from(n < total % parts))
}

/// One task as a team's tracker holds them.
fn task(rng: &mut fastrand::Rng, now: i64) -> Task {
    const DAY: i64 = 86_400_000_000;
    // Within a year or so of now, far inside the range a timestamp can hold.
    let at = |micros| Timestamp::from_micros(micros).expect("an instant near now");
    let pick = |rng: &mut fastrand::Rng, items: &[&str]| items[rng.usize(..items.len())].to_owned();
    let created = now - rng.i64(0..365 * DAY);
    let status = match rng.u8(..100) {
        0..40 => Status::Todo,
        40..65 => Status::InProgress,
        65..75 => Status::Blocked,
        _ => Status::Done,
    };
    let priority = match rng.u8(..100) {
        0..20 => Priority::Low,
        20..70 => Priority::Medium,
        70..92 => Priority::High,
        _ => Priority::Urgent,
    };
    let mut labels: Vec<String> = (0..rng.usize(0..=3)).map(|_| pick(rng, &LABELS)).collect();
    labels.sort();
    labels.dedup();
    let title = format!(
        "{} {} #{}",
        pick(rng, &VERBS),
        pick(rng, &NOUNS),
        rng.u32(1..100_000)
    );
    let updated = at(created + rng.i64(0..30 * DAY).min(now - created));
    Task {
        id: TaskId::generate(),
        description: if rng.u8(..100) < 30 {
            String::new()
        } else {
            format!("{title}: see the {} notes.", pick(rng, &NOUNS))
        },
        title,
        status,
        priority,
        assignee: (rng.u8(..100) >= 25).then(|| pick(rng, &PEOPLE)),
        labels,
        due_at: (rng.u8(..100) >= 35).then(|| at(now + rng.i64(-60 * DAY..120 * DAY))),
        created_at: at(created),
        updated_at: updated,
        // Done at its last change, as a patch to `done` would have left it.
        completed_at: (status == Status::Done).then_some(updated),
        version: 1 + rng.i64(0..5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A terminal that keeps what is drawn on it.
    #[derive(Debug, Default, Clone)]
    struct Screen(std::sync::Arc<std::sync::Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, line: &str) -> std::io::Result<()> {
            self.write_str(&format!("{line}\n"))
        }
        fn write_str(&self, text: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(text);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_progress_bar_shows_whole_numbers_with_separators() {
        let screen = Screen::default();
        let target = indicatif::ProgressDrawTarget::term_like(Box::new(screen.clone()));
        let bar =
            ProgressBar::with_draw_target(Some(1_234_567), target).with_style(progress_style());
        bar.set_position(12_345);
        bar.finish();
        let drawn = screen.0.lock().unwrap().clone();
        let line = drawn.lines().last().expect("the bar was drawn");
        assert!(line.contains(" 12,345/1,234,567 tasks, "), "{line}");
        assert!(line.contains(" tasks/s, ETA "), "{line}");
        assert!(!line.contains('.'), "a count with decimals: {line}");
    }

    #[test]
    fn shares_are_even_and_add_up() {
        assert_eq!(shares(10, 3).collect::<Vec<_>>(), [4, 3, 3]);
        assert_eq!(shares(2, 4).collect::<Vec<_>>(), [1, 1, 0, 0]);
        assert_eq!(shares(1_000_000, 1_000).sum::<u64>(), 1_000_000);
    }
}
