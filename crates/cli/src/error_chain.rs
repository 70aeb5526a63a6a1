//! One line per error, each cause once.
//!
//! Library errors often say their cause in their own message *and* return it as `source()`, so
//! printing the chain naively (`{:#}`) repeats the same cause two to four times. This prints each
//! link of the chain only when its text is not already part of what was printed.

use std::fmt::Write;

/// The whole cause chain of `error` on one line, `outer: inner: innermost`, without repeats.
pub fn one_line(error: &anyhow::Error) -> String {
    join(error.chain().map(|link| link.to_string()))
}

fn join(links: impl Iterator<Item = String>) -> String {
    let mut text = String::new();
    for link in links {
        let link = link.trim();
        if link.is_empty() || text.contains(link) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        let _ = write!(text, "{link}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("HTTP 403 from IT Glue")]
    struct Refused;

    #[derive(Debug, thiserror::Error)]
    #[error("IT Glue instance \"main\": {source}")]
    struct Instance {
        #[source]
        source: Refused,
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let error = anyhow::Error::new(Instance { source: Refused }).context("testing IT Glue");
        let text = one_line(&error);
        assert_eq!(
            text,
            "testing IT Glue: IT Glue instance \"main\": HTTP 403 from IT Glue"
        );
        assert_eq!(text.matches("HTTP 403").count(), 1);
    }

    #[test]
    fn distinct_causes_are_all_kept() {
        let error = anyhow::anyhow!("disk full").context("writing the key file");
        assert_eq!(one_line(&error), "writing the key file: disk full");
    }
}
