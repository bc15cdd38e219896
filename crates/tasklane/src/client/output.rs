//! How tasks are printed: an aligned table that fits the terminal (by default), one
//! JSON array (`--json`) or one task a line (`--ndjson`) for scripts. Colour only on a
//! terminal, and never with `NO_COLOR` set; the widths are display widths (a CJK
//! character takes two columns, a combining accent none).

use std::io::{IsTerminal, Write};

use clap::Args;
use jiff::tz::TimeZone;
use tasklane_server::domain::{Status, Task, Timestamp};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::Failure;

/// The columns a table may show.
pub const FIELDS: [&str; 12] = [
    "id",
    "title",
    "status",
    "priority",
    "assignee",
    "labels",
    "due",
    "completed",
    "created",
    "updated",
    "version",
    "description",
];

/// The columns shown when `--fields` is not given.
const DEFAULT_FIELDS: &str = "id,status,priority,due,assignee,title";

/// `--json`, `--ndjson` and `--fields`.
#[derive(Debug, Clone, Args)]
pub struct Format {
    /// Print one JSON array of the tasks, every member included.
    #[arg(long, conflicts_with = "ndjson")]
    pub json: bool,

    /// Print one task per line as JSON (JSON lines), every member included.
    #[arg(long)]
    pub ndjson: bool,

    /// The table's columns, in order: a comma list of id, title, status, priority,
    /// assignee, labels, due, completed, created, updated, version, description.
    #[arg(long, value_name = "LIST", default_value = DEFAULT_FIELDS, value_parser = parse_fields)]
    pub fields: Fields,
}

/// The columns of a table.
#[derive(Debug, Clone)]
pub struct Fields(Vec<&'static str>);

fn parse_fields(text: &str) -> Result<Fields, String> {
    text.split(',')
        .map(|name| {
            FIELDS
                .iter()
                .find(|field| **field == name.trim())
                .copied()
                .ok_or_else(|| format!("unknown field `{name}`; known: {}", FIELDS.join(", ")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Fields)
}

/// Whether to colour what goes to standard output: only a terminal, and only without
/// `NO_COLOR` (any non-empty value, as no-color.org says).
pub fn colour() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// The width to fit: `COLUMNS` if set, else the terminal's; none when printing to a
/// pipe or a file (a script gets whole lines).
fn width() -> Option<usize> {
    if let Some(columns) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
    {
        return Some(columns);
    }
    std::io::stdout()
        .is_terminal()
        .then(terminal_size::terminal_size)
        .flatten()
        .map(|(terminal_size::Width(w), _)| usize::from(w))
}

/// A time as a table shows it: to the minute, in the local time zone.
fn time(at: Option<Timestamp>, zone: &TimeZone) -> String {
    at.and_then(|at| jiff::Timestamp::from_microsecond(at.as_micros()).ok())
        .map(|at| {
            at.to_zoned(zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// `text` made safe for a terminal: control characters (escape sequences that could
/// recolour the terminal, retitle its window or move its cursor) and the characters
/// that reorder text (bidirectional overrides) shown as U+FFFD, line breaks and tabs as
/// spaces. Any member of a workspace can write a title; none can drive a reader's
/// terminal with it.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => '\u{fffd}',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// One cell of `task`'s row.
fn cell(task: &Task, field: &str, short: &str, zone: &TimeZone) -> String {
    match field {
        "id" => short.to_owned(),
        "title" => printable(&task.title),
        "status" => task.status.as_str().to_owned(),
        "priority" => task.priority.as_str().to_owned(),
        "assignee" => printable(task.assignee.as_deref().unwrap_or_default()),
        "labels" => printable(&task.labels.join(",")),
        "due" => time(task.due_at, zone),
        "completed" => time(task.completed_at, zone),
        "created" => time(Some(task.created_at), zone),
        "updated" => time(Some(task.updated_at), zone),
        "version" => task.version.to_string(),
        "description" => printable(&task.description),
        _ => unreachable!("fields are checked when parsed"),
    }
}

/// `text` cut to `width` columns, with an ellipsis when cut. Whole grapheme clusters
/// are kept or cut (an emoji with its modifiers, a letter with its accents), each as
/// wide as the terminal shows it.
fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for grapheme in text.graphemes(true) {
        let w = grapheme.width();
        if used + w + 1 > width {
            break;
        }
        out.push_str(grapheme);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// `text` padded with spaces to `width` columns.
fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.width())))
}

/// The table of `tasks`, whose ids are shown as `shorts` and times in `zone`: columns
/// aligned, narrowed to fit `width` if one is given (see [`narrow`]).
pub fn table(
    tasks: &[Task],
    shorts: &[String],
    fields: &Fields,
    width: Option<usize>,
    zone: &TimeZone,
) -> String {
    let colour = colour();
    let names = &fields.0;
    let mut rows: Vec<Vec<String>> = vec![names.iter().map(|n| n.to_uppercase()).collect()];
    for (task, short) in tasks.iter().zip(shorts) {
        rows.push(names.iter().map(|f| cell(task, f, short, zone)).collect());
    }
    let mut widths: Vec<usize> = (0..names.len())
        .map(|i| rows.iter().map(|row| row[i].width()).max().unwrap_or(0))
        .collect();
    let shown = match width {
        Some(width) => narrow(names, &mut widths, width),
        None => vec![true; names.len()],
    };
    let columns: Vec<usize> = (0..names.len()).filter(|i| shown[*i]).collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = columns
            .iter()
            .map(|&i| {
                let text = fit(&row[i], widths[i]);
                let shown = if Some(&i) == columns.last() {
                    text
                } else {
                    pad(&text, widths[i])
                };
                match (colour, n, names[i]) {
                    (true, 0, _) => format!("\x1b[1m{shown}\x1b[0m"),
                    (true, _, "status") => paint_status(&shown, &tasks[n - 1]),
                    (true, _, "id") => format!("\x1b[33m{shown}\x1b[0m"),
                    _ => shown,
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Fits a table's columns into `width`; which columns are shown. The main text (the
/// title, else the description, else the last column) is narrowed first, to no fewer
/// than twelve columns; then, while a line is still too wide, columns are left out,
/// least useful first (labels, assignee, description, the times, version, priority,
/// status); last, the main text takes what room is left. The id is never left out.
fn narrow(names: &[&str], widths: &mut [usize], width: usize) -> Vec<bool> {
    const READABLE: usize = 12;
    const LEAST_USEFUL_FIRST: [&str; 10] = [
        "labels",
        "assignee",
        "description",
        "updated",
        "created",
        "completed",
        "version",
        "due",
        "priority",
        "status",
    ];
    let line = |widths: &[usize], shown: &[bool]| {
        let (sum, count) = widths
            .iter()
            .zip(shown)
            .filter(|(_, shown)| **shown)
            .fold((0, 0usize), |(sum, count), (w, _)| (sum + w, count + 1));
        sum + 2 * count.saturating_sub(1)
    };
    let mut shown = vec![true; names.len()];
    let main = ["title", "description"]
        .iter()
        .find_map(|name| names.iter().position(|n| n == name))
        .unwrap_or(names.len() - 1);
    let natural = widths[main];
    widths[main] = natural.min(READABLE);
    for name in LEAST_USEFUL_FIRST {
        if line(widths, &shown) <= width {
            break;
        }
        if let Some(i) = names.iter().position(|n| *n == name).filter(|i| *i != main) {
            shown[i] = false;
        }
    }
    let others = line(widths, &shown) - widths[main];
    widths[main] = natural.min(width.saturating_sub(others)).max(1);
    shown
}

fn paint_status(text: &str, task: &Task) -> String {
    let code = match task.status {
        Status::Todo => "0",
        Status::InProgress => "36",
        Status::Blocked => "31",
        Status::Done => "32",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Writes `text` to standard output, whole. A reader that stopped reading (a closed
/// pipe) is [`Failure::OutputClosed`]; any other error (a full disk) is a local
/// failure.
pub fn emit(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::BrokenPipe => Failure::OutputClosed,
            _ => Failure::Local(anyhow::Error::new(error).context("writing to standard output")),
        })
}

/// Prints `tasks` as `format` asks.
pub fn print(tasks: &[Task], format: &Format) -> Result<(), Failure> {
    if format.json {
        emit(&format!(
            "{}\n",
            serde_json::to_string(tasks).expect("tasks serialise")
        ))?;
    } else if format.ndjson {
        for task in tasks {
            emit(&format!(
                "{}\n",
                serde_json::to_string(task).expect("a task serialises")
            ))?;
        }
    } else {
        let zone = super::due::Local::get()
            .map_err(|message| Failure::Local(anyhow::anyhow!(message)))?
            .zone;
        let ids: Vec<String> = tasks.iter().map(|t| t.id.to_string()).collect();
        let shorts = super::ids::shortest(&ids);
        emit(&table(tasks, &shorts, &format.fields, width(), &zone))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(title: &str) -> Task {
        serde_json::from_value(serde_json::json!({
            "id": tasklane_server::domain::TaskId::generate(), "title": title,
            "description": "", "status": "todo", "priority": "high", "assignee": "ana",
            "labels": ["a"], "due_at": "2026-12-01T17:00:00Z",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "completed_at": null, "version": 1
        }))
        .unwrap()
    }

    #[test]
    fn a_table_is_aligned_and_fits_the_width() {
        let tasks = [
            task("Write the release notes for the winter release"),
            task("短い"),
        ];
        let shorts = ["aaaaaaaa".to_owned(), "bbbbbbbb".to_owned()];
        let fields = parse_fields(DEFAULT_FIELDS).unwrap();
        let wide = table(&tasks, &shorts, &fields, None, &TimeZone::UTC);
        assert!(wide.contains("Write the release notes for the winter release"));
        let narrow = table(&tasks, &shorts, &fields, Some(70), &TimeZone::UTC);
        for line in narrow.lines() {
            assert!(line.width() <= 70, "{line:?} is {} wide", line.width());
        }
        assert!(narrow.contains('…'), "{narrow}");
        // Columns start at the same place on every line, whatever the characters' widths.
        let at = |line: &str, word: &str| line[..line.find(word).unwrap()].width();
        let lines: Vec<&str> = narrow.lines().collect();
        assert_eq!(at(lines[0], "TITLE"), at(lines[2], "短い"));
        assert_eq!(at(lines[0], "STATUS"), at(lines[1], "todo"));
        // Narrower than the other columns leave room for: the title's heading is cut too.
        for line in table(&tasks, &shorts, &fields, Some(58), &TimeZone::UTC).lines() {
            assert!(line.width() <= 58, "{line:?}");
        }
    }

    #[test]
    fn a_narrow_terminal_gets_whole_lines_and_the_columns_that_matter() {
        let tasks = [task("Write the release notes"), task("❤️ the 👩‍👩‍👧 board ✅")];
        let shorts = ["0193a1b2c3d4".to_owned(), "0193a1b30e1f".to_owned()];
        let fields = parse_fields(DEFAULT_FIELDS).unwrap();
        for width in [70, 45, 30] {
            let out = table(&tasks, &shorts, &fields, Some(width), &TimeZone::UTC);
            for line in out.lines() {
                assert!(line.width() <= width, "{line:?} is {} wide", line.width());
            }
            // The id and a readable start of the title, whatever else must go.
            assert!(out.contains("0193a1b2c3d4  "), "{out}");
            assert!(out.contains("Write the r"), "{out}");
        }
        let out = table(&tasks, &shorts, &fields, Some(45), &TimeZone::UTC);
        assert_eq!(
            out.lines().next(),
            Some("ID            STATUS  PRIORITY  TITLE")
        );
        // Emoji with modifiers and joiners are as wide as shown, and never cut in half.
        let out = table(&tasks, &shorts, &fields, Some(76), &TimeZone::UTC);
        for line in out.lines() {
            assert!(line.width() <= 76, "{line:?} is {} wide", line.width());
        }
        assert!(!out.contains("\u{200d}…"), "{out}");
    }

    #[test]
    fn text_is_cut_between_whole_characters_as_wide_as_shown() {
        assert_eq!(fit("❤️❤️❤️x", 5), "❤️❤️…");
        assert_eq!(fit("👩‍👩‍👧👩‍👩‍👧", 3), "👩‍👩‍👧…");
        assert_eq!(fit("e\u{301}te\u{301}", 2), "e\u{301}…");
    }

    #[test]
    fn times_are_shown_in_the_local_zone() {
        let fields = parse_fields("due").unwrap();
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let out = table(&[task("t")], &["x".to_owned()], &fields, None, &paris);
        assert_eq!(out, "DUE\n2026-12-01 18:00\n");
    }

    #[test]
    fn text_cannot_drive_the_terminal() {
        let hostile = "a\u{1b}]0;pwned\u{7}b\u{1b}[31mc\u{9b}d\u{202e}e\nf\tg";
        let shown = printable(hostile);
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(
            shown,
            "a\u{fffd}]0;pwned\u{fffd}b\u{fffd}[31mc\u{fffd}d\u{fffd}e f g"
        );
        let row = table(
            &[task(hostile)],
            &["01".to_owned()],
            &parse_fields(DEFAULT_FIELDS).unwrap(),
            None,
            &TimeZone::UTC,
        );
        assert!(
            !row.contains('\u{1b}') && row.lines().count() == 2,
            "{row:?}"
        );
    }

    #[test]
    fn fields_are_chosen_and_checked() {
        let fields = parse_fields("title,version").unwrap();
        let out = table(
            &[task("t")],
            &["x".to_owned()],
            &fields,
            None,
            &TimeZone::UTC,
        );
        assert_eq!(out, "TITLE  VERSION\nt      1\n");
        assert!(parse_fields("title,colour").unwrap_err().contains("colour"));
    }
}
