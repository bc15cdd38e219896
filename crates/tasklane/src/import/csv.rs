//! Tasks from a CSV file with a header row: `title` (required), and any of `status`,
//! `priority`, `assignee`, `labels` (separated by `;`) and `due` (RFC 3339, or a date:
//! the end of that day in the local time zone), in any order. Each row is a new task,
//! held to the API's rules; every rejected row is reported with its line number and
//! reason, and nothing is written unless all rows are valid or `--partial` says to load
//! the valid ones.

use anyhow::bail;
use serde_json::{Map, Value, json};
use tasklane_server::domain::{NewTask, Task, Timestamp};

/// The columns a header may name.
const COLUMNS: [&str; 6] = ["title", "status", "priority", "assignee", "labels", "due"];

/// The valid rows' tasks, and how many rows were rejected.
#[derive(Debug)]
pub struct Rows {
    /// New tasks, in file order.
    pub tasks: Vec<Task>,
    /// Rows rejected (reported on standard error).
    pub rejected: usize,
}

/// Reads `text`; with `partial`, keeps the valid rows when some are rejected.
pub fn read(text: &str, partial: bool) -> anyhow::Result<Rows> {
    if let Some(line) = unterminated_quote(text) {
        bail!("line {line}: a quoted field is never closed; nothing imported");
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()?
        .iter()
        .map(|name| name.trim().to_lowercase())
        .collect();
    for (index, name) in header.iter().enumerate() {
        if header[..index].contains(name) {
            bail!("line 1: the column `{name}` is named twice");
        }
        if !COLUMNS.contains(&name.as_str()) {
            bail!(
                "line 1: unknown column `{name}`; the columns are {}",
                COLUMNS.join(", ")
            );
        }
    }
    if !header.iter().any(|name| name == "title") {
        bail!("line 1: no `title` column (every task needs one)");
    }
    let local = crate::client::due::Local::get().map_err(anyhow::Error::msg)?;
    let now = local.now();
    let mut tasks = Vec::new();
    let mut rejected = Vec::new();
    for record in reader.records() {
        let (line, row) = match record {
            Ok(record) => (record.position().map_or(0, |p| p.line()), Ok(record)),
            Err(error) => (
                error.position().map_or(0, |p| p.line()),
                Err(error.to_string()),
            ),
        };
        match row.and_then(|record| task(&header, &record, &now)) {
            Ok(task) => tasks.push(task),
            Err(reason) => rejected.push(format!("line {line}: {reason}")),
        }
    }
    for reason in &rejected {
        eprintln!("rejected: {reason}");
    }
    if !rejected.is_empty() && !partial {
        bail!(
            "nothing imported: {} row(s) rejected{}",
            rejected.len(),
            match tasks.len() {
                0 => String::new(),
                valid => format!(" (--partial loads the {valid} valid ones)"),
            }
        );
    }
    Ok(Rows {
        tasks,
        rejected: rejected.len(),
    })
}

/// The line on which a quoted field opens and runs to the end of `text`, if one does.
///
/// The `csv` reader takes such a field as the rest of the file, silently; a file cut
/// short or missing a quote must be refused instead. Quoting is read as the reader
/// reads it: a field is quoted when it starts with `"`, and `""` inside it is a quote.
fn unterminated_quote(text: &str) -> Option<usize> {
    let mut line = 1;
    let mut opened = None;
    let mut field_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (opened, c) {
            (Some(_), '"') if chars.peek() == Some(&'"') => {
                chars.next();
            }
            (Some(_), '"') => opened = None,
            (None, '"') if field_start => opened = Some(line),
            _ => {}
        }
        if c == '\n' {
            line += 1;
        }
        field_start = opened.is_none() && matches!(c, ',' | '\n' | '\r');
    }
    opened
}

/// The task one row describes, or why it is rejected.
fn task(
    header: &[String],
    record: &::csv::StringRecord,
    now: &jiff::Zoned,
) -> Result<Task, String> {
    let mut body = Map::new();
    for (name, value) in header.iter().zip(record.iter()) {
        let value = value.trim();
        if value.is_empty() && name != "title" {
            continue;
        }
        let member = match name.as_str() {
            "labels" => (
                "labels",
                json!(
                    value
                        .split(';')
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                ),
            ),
            "due" => {
                let when =
                    crate::client::due::parse(value, now).map_err(|m| format!("due: {m}"))?;
                (
                    "due_at",
                    json!(when.due(now.time_zone()).map_err(|m| format!("due: {m}"))?),
                )
            }
            // `Done`, `HIGH`: spreadsheets capitalise.
            "status" | "priority" => (name.as_str(), json!(value.to_lowercase())),
            other => (other, json!(value)),
        };
        body.insert(member.0.to_owned(), member.1);
    }
    // The member at fault is named (serde's own message leaves it out).
    let new: NewTask = serde_path_to_error::deserialize(Value::Object(body)).map_err(|e| {
        let column = match e.path().to_string().as_str() {
            "due_at" => "due".to_owned(),
            path => path.to_owned(),
        };
        format!("`{column}`: {}", e.inner())
    })?;
    Ok(new.into_task(Timestamp::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejected_row_is_named_by_its_line_and_reason() {
        let text = "title,status,priority,assignee,labels,due\n\
                    Write docs,todo,high,ana,docs;release,2026-12-01\n\
                    ,todo,low,,,\n\
                    Ship,doing,low,,,\n\
                    \"Multi\nline title\",done,urgent,bo,,\n\
                    Plan,todo,medium,,,someday\n";
        let error = read(text, false).unwrap_err().to_string();
        assert!(error.contains("3 row(s) rejected"), "{error}");
        let rows = read(text, true).unwrap();
        assert_eq!(rows.rejected, 3);
        let titles: Vec<&str> = rows.tasks.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles, ["Write docs", "Multi\nline title"]);
        assert_eq!(rows.tasks[0].labels, ["docs", "release"]);
        assert!(rows.tasks[0].due_at.is_some());
        assert!(
            rows.tasks[1].completed_at.is_some(),
            "done: completed at import"
        );
    }

    #[test]
    fn a_file_that_does_not_parse_fully_is_refused() {
        let cut = "title,status\nShip,todo\n\"Plan the\nwinter,todo\nTest,done\n";
        let error = read(cut, true).unwrap_err().to_string();
        assert!(
            error.contains("line 3") && error.contains("never closed"),
            "{error}"
        );
        // Quotes that close, doubled quotes and a quote inside a bare field are fine.
        let fine = "title,status\n\"Say \"\"hi\"\"\",todo\nA 5\" screen,todo\n\"a,b\",done\n";
        let titles: Vec<String> = read(fine, false)
            .unwrap()
            .tasks
            .into_iter()
            .map(|t| t.title)
            .collect();
        assert_eq!(titles, ["Say \"hi\"", "A 5\" screen", "a,b"]);
        let twice = read("title,status,Title\nx,todo,y\n", true).unwrap_err();
        assert!(twice.to_string().contains("named twice"), "{twice}");
    }

    #[test]
    fn a_header_names_known_columns_and_a_title() {
        assert!(
            read("title,colour\nx,red\n", true)
                .unwrap_err()
                .to_string()
                .contains("colour")
        );
        assert!(
            read("status\ntodo\n", true)
                .unwrap_err()
                .to_string()
                .contains("title")
        );
    }
}
