//! An error and its causes as the one sentence users read, on the command line and in Python.

/// The messages of an error and of each of its causes, joined by ": ". Errors often quote their
/// cause already; a message that the text so far ends with is not repeated.
pub fn joined(causes: impl IntoIterator<Item = String>) -> String {
    let mut message = String::new();
    for cause in causes {
        if !message.ends_with(&cause) {
            message += &if message.is_empty() { cause } else { format!(": {cause}") };
        }
    }
    message
}

/// [`joined`] over a standard error's chain of sources.
pub fn of_error(error: &(dyn std::error::Error + 'static)) -> String {
    joined(std::iter::successors(Some(error), |e| e.source()).map(ToString::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read x.npy: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("input x.npy")]
    struct Context(#[source] std::io::Error);

    #[test]
    fn a_quoted_cause_is_said_once_and_others_are_appended() {
        let gone = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(of_error(&Quoting(gone())), "cannot read x.npy: no such file");
        assert_eq!(of_error(&Context(gone())), "input x.npy: no such file");
    }
}
