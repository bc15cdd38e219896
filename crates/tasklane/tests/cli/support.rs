//! Running the binary as a user would: a server of the test's own, and `tasklane`
//! commands against it with a clean environment (no stored login, no colour).

use std::process::{Command, Output, Stdio};

use crate::common::{TestDatabase, fresh_database};
use crate::helpers::{ServerProcess, TestApp};

/// A server (the real binary) on a fresh database, and a home of the test's own for
/// the client's configuration.
pub struct Session {
    pub server: ServerProcess,
    pub app: TestApp,
    pub database: TestDatabase,
    pub config: tempfile::TempDir,
}

impl Session {
    pub async fn start() -> Session {
        let database = fresh_database().await;
        let options = database
            .redis
            .as_ref()
            .map(|redis| redis.options())
            .unwrap_or_default();
        let server = ServerProcess::start(&database.url, &options).await;
        let app = TestApp::of(&server.base);
        Session {
            server,
            app,
            database,
            config: tempfile::tempdir().unwrap(),
        }
    }

    /// `tasklane` with these arguments, pointed at this session's server.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tasklane"));
        command
            .args(args)
            .env("TASKLANE_URL", &self.server.base)
            .env_remove("TASKLANE_TOKEN")
            .env_remove("COLUMNS")
            .env("XDG_CONFIG_HOME", self.config.path())
            .env("HOME", self.config.path())
            .stdin(Stdio::null());
        command
    }

    /// Runs `tasklane` with these arguments to its end.
    pub fn run(&self, args: &[&str]) -> Outcome {
        Outcome(self.command(args).output().unwrap())
    }

    /// Runs it and expects success; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let outcome = self.run(args);
        assert_eq!(outcome.code(), 0, "{args:?}: {}", outcome.stderr());
        outcome.stdout()
    }
}

/// What a finished command left.
pub struct Outcome(pub Output);

impl Outcome {
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exited, not killed")
    }
    pub fn stdout(&self) -> String {
        String::from_utf8(self.0.stdout.clone()).unwrap()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8(self.0.stderr.clone()).unwrap()
    }
}
