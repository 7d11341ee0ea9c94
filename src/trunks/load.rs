//! Reading the trunk profiles of a folder (`sip-profiles/`), every problem reported with its
//! file, line and field.

use std::path::{Path, PathBuf};

use crate::config::{ConfigError, ConfigErrors, ConfigFile};

use super::profile::TrunkProfile;

/// Files in the profiles folder that are not trunks.
pub const NOT_TRUNKS: &[&str] = &[crate::config::OPERATORS_FILE, crate::config::INBOUND_FILE];

#[derive(Debug, Clone)]
pub struct LoadedTrunk {
    pub profile: TrunkProfile,
    pub file: PathBuf,
}

/// Reads and checks every `*.toml` trunk profile in `dir`.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedTrunk>, ConfigErrors> {
    let fail = |message: String| {
        ConfigErrors(vec![ConfigError {
            file: dir.to_path_buf(),
            line: 0,
            field: String::new(),
            message,
        }])
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|e| fail(format!("cannot read the profiles folder ({e})")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| NOT_TRUNKS.iter().any(|skip| n == *skip))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(fail(
            "no trunk profiles (*.toml) here: add one file per trunk (see docs/trunks.md)".into(),
        ));
    }
    let mut errors = Vec::new();
    let mut trunks: Vec<(LoadedTrunk, ConfigFile)> = Vec::new();
    // Every profile that parsed, valid or not, for the checks across files.
    let mut names: Vec<(String, PathBuf, usize)> = Vec::new();
    for path in files {
        let file = match ConfigFile::read(&path) {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if let Some(line) = crate::config::find_line(&file.text, "campaign") {
            errors.push(ConfigError {
                file: path.clone(),
                line,
                field: "campaign".into(),
                message: "this is a campaign's file, not a trunk's: keep only trunk profiles in this folder (one per trunk)".into(),
            });
            continue;
        }
        match file.parse::<TrunkProfile>() {
            Err(e) => errors.push(e),
            Ok(profile) => {
                let line = crate::config::find_line(&file.text, "name").unwrap_or(1);
                if let Some((_, other, _)) = names.iter().find(|(n, _, _)| *n == profile.name) {
                    errors.push(ConfigError {
                        file: path.clone(),
                        line,
                        field: "name".into(),
                        message: format!(
                            "`{}` is also the name of {}: trunk names must differ",
                            profile.name,
                            other.display()
                        ),
                    });
                }
                names.push((profile.name.clone(), path.clone(), line));
                let mut profile = profile;
                let mut problems = profile.problems();
                if let Some(ca) = profile.tls.as_mut().and_then(|t| t.ca.as_mut()) {
                    if ca.is_relative() {
                        *ca = path.parent().unwrap_or(Path::new(".")).join(&*ca);
                    }
                    match std::fs::read_to_string(&*ca) {
                        Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => {}
                        Ok(_) => problems.push((
                            "tls.ca".into(),
                            format!(
                                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                                ca.display()
                            ),
                        )),
                        Err(e) => problems.push((
                            "tls.ca".into(),
                            format!(
                                "cannot read {} ({e}): give the path of the CA's PEM file",
                                ca.display()
                            ),
                        )),
                    }
                }
                if problems.is_empty() {
                    trunks.push((
                        LoadedTrunk {
                            profile,
                            file: path,
                        },
                        file,
                    ));
                } else {
                    errors.extend(
                        problems
                            .iter()
                            .map(|(field, message)| file.error(field, message)),
                    );
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(trunks.into_iter().map(|(t, _)| t).collect())
    } else {
        Err(ConfigErrors(errors))
    }
}
