//! Where output goes: results on stdout, warnings and errors on stderr, each write flushed so
//! that `get -w` and `rollout status` stream. A closed stdout (`enctl get … | head`) surfaces as
//! an error that `main` treats as a quiet end.

use std::io::Write;

use crate::error::CliError;

/// stdout and stderr.
#[derive(Debug, Default)]
pub struct Console;

impl Console {
    /// Writes `text` to stdout as is.
    pub fn print(&self, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(())
    }

    /// Writes `line` and a newline to stdout.
    pub fn line(&self, line: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }

    /// Writes `line` and a newline to stderr (a failure to write stderr is ignored: there is
    /// nowhere left to report it).
    pub fn warn(&self, line: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.write_all(b"\n");
        let _ = err.flush();
    }
}
