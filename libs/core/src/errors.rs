//! Errors as one line of text, for logs and for a CLI's last word: an error followed by its
//! chain of sources (`a: b: c`). Services log causes this way and never send them to clients.

use std::error::Error;

/// An error and its sources, `a: b: c`, leaving out a source whose text its parent already
/// contains (an error that prints its source as part of its own message).
pub fn chain(error: &dyn Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("transport error")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("tcp connect error: Connection refused (os error 111)")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("transport error: {0}")]
    struct Repeating(#[source] Inner);

    #[test]
    fn sources_are_joined_once() {
        assert_eq!(
            chain(&Outer(Inner)),
            "transport error: tcp connect error: Connection refused (os error 111)"
        );
        assert_eq!(chain(&Repeating(Inner)), chain(&Outer(Inner)));
    }
}
