//! `sip-profiles/operators.toml`: operators' SIP accounts for a static setup (the API's
//! operators come on top).
//!
//! ```toml
//! [[operator]]
//! login = "1001"              # the softphone's user name
//! name = "Anna Petrova"
//! group = "day"
//! skills = ["default"]        # campaigns and queues taken
//! password = "..."            # or ha1_md5 / ha1_sha256 = H(login:predial:password)
//! ```

use std::path::Path;

use serde::Deserialize;

use super::{Account, REALM};
use crate::config::{ConfigError, ConfigErrors, ConfigFile};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticOperator {
    pub login: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub ha1_md5: Option<String>,
    #[serde(default)]
    pub ha1_sha256: Option<String>,
}

impl StaticOperator {
    /// The credentials kept: HA1s (from the password when given).
    pub fn account(&self) -> Account {
        match &self.password {
            Some(p) => Account::from_password(&self.login, p),
            None => Account {
                ha1_md5: self.ha1_md5.as_ref().map(|h| h.to_ascii_lowercase()),
                ha1_sha256: self.ha1_sha256.as_ref().map(|h| h.to_ascii_lowercase()),
            },
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorsFile {
    #[serde(default)]
    operator: Vec<StaticOperator>,
}

/// Reads `DIR/operators.toml` (none: no static operators).
pub fn load(dir: &Path) -> Result<Vec<StaticOperator>, ConfigErrors> {
    let path = dir.join(crate::config::OPERATORS_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file = ConfigFile::read(&path).map_err(|e| ConfigErrors(vec![e]))?;
    let parsed: OperatorsFile = file.parse().map_err(|e| ConfigErrors(vec![e]))?;
    let mut errors: Vec<ConfigError> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, op) in parsed.operator.iter().enumerate() {
        let at = |field: &str, message: String| {
            // The n-th `login = ` line is this operator's.
            let line = file
                .text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.trim_start().starts_with("login"))
                .nth(i)
                .map_or(1, |(n, _)| n + 1);
            ConfigError {
                file: path.clone(),
                line,
                field: format!("operator[{i}].{field}"),
                message,
            }
        };
        let ok_login = !op.login.is_empty()
            && op
                .login
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !ok_login {
            errors.push(at(
                "login",
                format!("`{}`: 1-64 letters, digits, . - or _", op.login),
            ));
        }
        if !seen.insert(op.login.clone()) {
            errors.push(at("login", format!("`{}` is listed twice", op.login)));
        }
        let hex_ok = |h: &Option<String>, len: usize| {
            h.as_ref()
                .is_none_or(|h| h.len() == len && h.chars().all(|c| c.is_ascii_hexdigit()))
        };
        match (&op.password, &op.ha1_md5, &op.ha1_sha256) {
            (None, None, None) => errors.push(at(
                "password",
                format!(
                    "give a password, or ha1_md5 / ha1_sha256 = H({}:{REALM}:password)",
                    op.login
                ),
            )),
            (Some(p), _, _) if p.chars().count() < 8 => {
                errors.push(at("password", "at least 8 characters".into()))
            }
            _ => {}
        }
        if !hex_ok(&op.ha1_md5, 32) {
            errors.push(at("ha1_md5", "32 hex digits (an MD5)".into()));
        }
        if !hex_ok(&op.ha1_sha256, 64) {
            errors.push(at("ha1_sha256", "64 hex digits (a SHA-256)".into()));
        }
    }
    if errors.is_empty() {
        Ok(parsed.operator)
    } else {
        Err(ConfigErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_load_with_line_pointed_errors() {
        let dir = std::env::temp_dir().join(format!("predial-ops-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("operators.toml"),
            "[[operator]]\nlogin = \"1001\"\npassword = \"s3cret-pass\"\n\n[[operator]]\nlogin = \"1002\"\nha1_md5 = \"abc\"\n",
        )
        .unwrap();
        let e = load(&dir).unwrap_err().to_string();
        assert!(e.contains("operators.toml:6: operator[1].ha1_md5"), "{e}");
        std::fs::write(
            dir.join("operators.toml"),
            "[[operator]]\nlogin = \"1001\"\npassword = \"s3cret-pass\"\nskills = [\"default\"]\n",
        )
        .unwrap();
        let ops = load(&dir).unwrap();
        assert_eq!(
            ops[0].account().ha1_md5,
            Account::from_password("1001", "s3cret-pass").ha1_md5
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            load(&dir).unwrap().is_empty(),
            "no file: no static operators"
        );
    }
}
