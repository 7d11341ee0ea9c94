//! Reading config files (TOML) with errors an admin can act on: `FILE:LINE: FIELD: what is
//! wrong and what to do`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// The operators' accounts (`registrar/accounts.rs`), kept in the profiles folder.
pub const OPERATORS_FILE: &str = "operators.toml";
/// Inbound numbers, queues and the bot (`inbound/config.rs`), kept in the profiles folder.
pub const INBOUND_FILE: &str = "inbound.toml";

/// A problem in a config file, pointing at the line (or in a command-line flag, when `file` is
/// empty: then `field` names the flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = if self.field.is_empty() {
            "(file)"
        } else {
            &self.field
        };
        if self.file.as_os_str().is_empty() {
            return write!(f, "{field}: {}", self.message);
        }
        if self.line == 0 {
            return write!(f, "{}: {}", self.file.display(), self.message);
        }
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            field,
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// Several problems, one per line when printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A TOML file's text, kept to point at lines.
pub struct ConfigFile {
    pub path: PathBuf,
    pub text: String,
}

impl ConfigFile {
    pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            field: String::new(),
            message: format!("cannot read it ({e})"),
        })?;
        Ok(ConfigFile {
            path: path.to_path_buf(),
            text,
        })
    }

    /// Parses the file into `T`; a syntax error or a wrong value points at its line.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(&self.text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_at(&self.text, s.start));
            let message = e.message().trim().replace('\n', " ");
            // A missing setting is named by the message, not by the line the span points at.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
                .map(str::to_string);
            let table = self
                .key_on_line(line)
                .filter(|_| missing.is_some())
                .map(|k| {
                    let key_line = self.text.lines().nth(line.saturating_sub(1)).unwrap_or("");
                    if key_line.trim_start().starts_with('[') {
                        k
                    } else {
                        k.rsplit_once('.')
                            .map(|(t, _)| t.to_string())
                            .unwrap_or_default()
                    }
                });
            match missing {
                Some(field) => ConfigError {
                    file: self.path.clone(),
                    line,
                    field: match table.as_deref() {
                        Some(t) if !t.is_empty() => format!("{t}.{field}"),
                        _ => field.clone(),
                    },
                    message: format!("missing: add `{field} = ...` (see the docs for its meaning)"),
                },
                None => ConfigError {
                    file: self.path.clone(),
                    line,
                    field: self.key_on_line(line).unwrap_or_default(),
                    message,
                },
            }
        })
    }

    /// An error about a field (`population.answer_rate`), at the line that sets it (or line 1
    /// when the file leaves it at its default).
    pub fn error(&self, field: &str, message: &str) -> ConfigError {
        ConfigError {
            file: self.path.clone(),
            line: find_line(&self.text, field).unwrap_or(1),
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    fn key_on_line(&self, line: usize) -> Option<String> {
        let mut table = String::new();
        for (i, raw) in self.text.lines().enumerate() {
            let l = raw.trim();
            if let Some(name) = header(l) {
                table = name;
            }
            if i + 1 == line {
                let key = l.split('=').next()?.trim();
                if key.is_empty() || l.starts_with('[') {
                    return Some(table);
                }
                return Some(join(&table, key));
            }
        }
        None
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

fn header(line: &str) -> Option<String> {
    let inner = line.strip_prefix('[')?.split(']').next()?;
    Some(
        inner
            .trim_matches(|c| c == '[' || c == ' ')
            .replace(' ', ""),
    )
}

fn join(table: &str, key: &str) -> String {
    let key = key.trim().trim_matches('"');
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

/// The line that sets a dotted field, following `[table]` headers and dotted keys.
pub fn find_line(text: &str, field: &str) -> Option<usize> {
    let mut table = String::new();
    let mut best = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if let Some(name) = header(line) {
            table = name;
            if table == field {
                best = Some(i + 1);
            }
            continue;
        }
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let path = join(&table, &key.replace(' ', ""));
        if path == field {
            return Some(i + 1);
        }
        // A field inside an inline table (`quiet_hours = { start = ... }`).
        if field.starts_with(&format!("{path}.")) {
            best = Some(i + 1);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "hours = 8\n\n[campaign]\nmax_attempts = 12\nquiet_hours = { start = \"22:00\", end = \"10:00\" }\n\n[campaign.backoff]\nbusy = [\"5m\"]\n\n[population]\n# comment\nanswer_rate = 50\n";

    #[test]
    fn fields_are_found_on_their_lines() {
        assert_eq!(find_line(TEXT, "hours"), Some(1));
        assert_eq!(find_line(TEXT, "campaign.max_attempts"), Some(4));
        assert_eq!(find_line(TEXT, "campaign.quiet_hours.start"), Some(5));
        assert_eq!(find_line(TEXT, "campaign.backoff.busy"), Some(8));
        assert_eq!(find_line(TEXT, "population.answer_rate"), Some(12));
        assert_eq!(find_line(TEXT, "population.busy_share"), None);
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            hours: f64,
        }
        let f = ConfigFile {
            path: "sim.toml".into(),
            text: "hours = \"eight\"\n".into(),
        };
        let e = f.parse::<T>().unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (1, "hours"));
        assert!(e.to_string().starts_with("sim.toml:1: hours: "), "{e}");
    }
}
