//! `--history FILE`: the history as JSON lines, each naming its scenario and round, written as it
//! is made: every operation the moment it ends, then each scenario's faults and what
//! its subscribers received and the streams they held once it is over. A run's
//! history never has to be held whole to be kept.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use serde::Serialize;

/// The history file being written.
#[derive(Debug)]
pub struct Recorder {
    file: Mutex<Written>,
}

#[derive(Debug)]
struct Written {
    out: BufWriter<File>,
    /// The first error writing met: the lines after it are not written, and
    /// [`Recorder::finish`] reports it.
    error: Option<std::io::Error>,
}

impl Recorder {
    /// Creates (or empties) the file at `path`.
    pub fn create(path: &Path) -> anyhow::Result<Recorder> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Recorder {
            file: Mutex::new(Written {
                out: BufWriter::new(file),
                error: None,
            }),
        })
    }

    /// Appends one line per record, each naming `scenario` and its round (`--rounds`).
    pub fn lines<T: Serialize>(&self, (scenario, round): (&str, usize), records: &[T]) {
        #[derive(Serialize)]
        struct Line<'a, T> {
            scenario: &'a str,
            round: usize,
            #[serde(flatten)]
            record: &'a T,
        }
        let mut written = self.file.lock().expect("not poisoned");
        if written.error.is_some() {
            return;
        }
        for record in records {
            let line = serde_json::to_writer(
                &mut written.out,
                &Line {
                    scenario,
                    round,
                    record,
                },
            )
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(written.out));
            if let Err(error) = line {
                written.error = Some(error);
                return;
            }
        }
    }

    /// Writes out what is buffered; the first error met, if any.
    pub fn finish(&self) -> anyhow::Result<()> {
        let mut written = self.file.lock().expect("not poisoned");
        if let Some(error) = written.error.take() {
            return Err(error).context("writing the history");
        }
        written.out.flush().context("writing the history")
    }
}
