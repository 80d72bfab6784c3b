//! Secrets named by where they live: an environment variable or a file. Every
//! config that takes one (the Event Hubs connection string, the capture proxy's
//! api-key salt) reads it here, so all of them are trimmed, checked and reported
//! the same way. Errors say where the secret was looked for, never its value.

use crate::{Error, Result};
use std::path::Path;

/// Reads a secret from `env` (preferred) or `file`. `section` is the config section
/// that names it (`kafka.event_hubs`), `what` the noun for it in errors
/// (`connection string`).
pub fn read_secret(section: &str, what: &str, env: Option<&str>, file: Option<&Path>) -> Result<String> {
    let (text, place) = match (env, file) {
        (Some(var), _) => {
            let text = std::env::var(var).map_err(|_| {
                Error::Config(format!(
                    "[{section}] environment variable {var} is not set (it should hold the {what})"
                ))
            })?;
            (text, format!("environment variable {var}"))
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::Config(format!(
                    "[{section}] reading the {what} from {}: {e}",
                    path.display()
                ))
            })?;
            (text, path.display().to_string())
        }
        (None, None) => return Err(Error::Config(format!("[{section}] names no {what}"))),
    };
    let secret = text.trim();
    if secret.is_empty() {
        return Err(Error::Config(format!(
            "[{section}] the {what} is empty ({place})"
        )));
    }
    Ok(secret.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<String>) -> String {
        match result {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_file_secret_is_trimmed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("secret");
        std::fs::write(&path, "  Endpoint=sb://x/;SharedAccessKey=abc \n")?;
        let secret = read_secret("kafka.event_hubs", "connection string", None, Some(&path))?;
        assert_eq!(secret, "Endpoint=sb://x/;SharedAccessKey=abc");
        Ok(())
    }

    #[test]
    fn errors_name_the_place_and_never_the_value() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let blank = dir.path().join("blank");
        std::fs::write(&blank, " \n\t")?;
        let missing = dir.path().join("missing");
        let var = "TOKENTALLY_TEST_SECRET_THAT_IS_NEVER_SET";

        let e = message(read_secret("s", "salt", Some(var), None));
        assert!(
            e.contains(var) && e.contains("[s]") && e.contains("not set"),
            "{e}"
        );
        let e = message(read_secret("s", "salt", None, Some(&missing)));
        assert!(e.contains("missing") && e.contains("reading the salt"), "{e}");
        let e = message(read_secret("s", "salt", None, Some(&blank)));
        assert!(e.contains("is empty") && e.contains("blank"), "{e}");
        let e = message(read_secret("s", "salt", None, None));
        assert!(e.contains("names no salt"), "{e}");
        Ok(())
    }
}
