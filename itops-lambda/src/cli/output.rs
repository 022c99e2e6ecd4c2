//! Writing command output: a closed pipe (`itops ... | head`) ends the output quietly.

use std::io::Write;

use crate::error::{Error, Result};

/// Writes `text` to standard output. A reader that went away is not an error.
pub(crate) fn print_out(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::Io {
            path: "<stdout>".into(),
            source,
        }),
    }
}

/// Renders `value` as pretty JSON with a trailing newline.
pub(crate) fn json<T: serde::Serialize>(value: &T, what: &'static str) -> Result<String> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|source| Error::Render { what, source })?;
    text.push('\n');
    Ok(text)
}
