//! An error and its causes on one line, each said once.
//!
//! Errors wrap their causes, and many also repeat their cause in their own message
//! (`opening the database: unable to open database file`, then the cause `unable to
//! open database file`); printing the chain as it is shows a person the same words
//! twice. Here a cause is shown only when the message so far does not already say it.

use std::error::Error;

/// `error: cause: cause's cause`, each part only if not already said.
pub fn describe(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let part = next.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("database error: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "unable to open database file");
        let error = anyhow::Error::new(Repeats(io)).context("opening the SQLite database x.db");
        assert_eq!(
            describe(error.as_ref()),
            "opening the SQLite database x.db: database error: unable to open database file"
        );
    }

    #[test]
    fn a_cause_not_in_the_message_is_added() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let error = anyhow::Error::new(io).context("connecting to PostgreSQL");
        assert_eq!(
            describe(error.as_ref()),
            "connecting to PostgreSQL: Connection refused"
        );
    }
}
