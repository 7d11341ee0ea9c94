//! The data folder holds personal data (buyers' numbers and orders in the database, their
//! voices in the recordings) and the admin token: only predial's user may read it. The folder
//! is made 0700 and every file predial writes is 0600 (the process's umask is 077); at every
//! start, anything looser is reported with the command that fixes it.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Files of the data folder that must be private, when they exist.
const PRIVATE_FILES: &[&str] = &[
    "predial.db",
    "predial.db-wal",
    "predial.db-shm",
    "admin.token",
];

/// Makes what predial writes from now on private (umask 077) and the data folder (0700) when
/// it is missing.
pub fn prepare(data: &Path) -> std::io::Result<()> {
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    if !data.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data)?;
    }
    Ok(())
}

/// What in the data folder others may read or write: one line each, saying what to run.
/// `recordings` is the recordings folder (inside the data folder or elsewhere).
pub fn looser_than_private(data: &Path, recordings: Option<&Path>) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |path: &Path, dir: bool| {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let want = if dir { "700" } else { "600" };
            out.push(format!(
                "{} (mode {mode:o}) can be read by other users of this machine; it holds personal data: run chmod {want} {}",
                path.display(),
                path.display()
            ));
        }
    };
    check(data, true);
    for f in PRIVATE_FILES {
        check(&data.join(f), false);
    }
    if let Some(dir) = recordings {
        check(dir, true);
        let loose = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .take(100_000)
            .filter(|e| {
                e.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o077 != 0)
            })
            .count();
        if loose > 0 {
            out.push(format!(
                "{loose} recordings in {} can be read by other users: run chmod 600 {}/*.wav",
                dir.display(),
                dir.display()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loose_folder_and_file_are_reported_with_the_fix() {
        let dir = std::env::temp_dir().join(format!("predial-folder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let token = dir.join("admin.token");
        std::fs::write(&token, "x").unwrap();
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
        let found = looser_than_private(&dir, None);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("chmod 700"), "{found:?}");
        assert!(found[1].contains("admin.token (mode 644)"), "{found:?}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(looser_than_private(&dir, None).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
