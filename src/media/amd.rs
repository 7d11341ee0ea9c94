//! Answering-machine detection on audio: a file (`predial amd`), the project's labelled set
//! (`predial bench amd`), and a live call's first seconds (the engine). The detector itself is
//! the core's (`predial_core::amd`).

use std::path::{Path, PathBuf};

use predial_core::amd::{Amd, AmdSettings, Decision};

use super::prompt::{self, FRAME, PromptError};

/// Runs the detector over a WAV file (any rate, mixed to 8 kHz mono), 20 ms at a time. After
/// the end of the file it hears silence, as on a line where the callee stopped talking.
pub fn detect_file(path: &Path, settings: &AmdSettings) -> Result<Decision, PromptError> {
    let audio = prompt::load(path)?;
    Ok(detect(&audio.samples, settings))
}

/// Runs the detector over 8 kHz samples.
pub fn detect(samples: &[i16], settings: &AmdSettings) -> Decision {
    let mut amd = Amd::new(settings.clone());
    for frame in samples.chunks(FRAME) {
        if let Some(d) = amd.frame(frame) {
            return d;
        }
    }
    let silence = [0i16; FRAME];
    loop {
        if let Some(d) = amd.frame(&silence) {
            return d;
        }
    }
}

/// One labelled sample of a set.
#[derive(Debug, Clone)]
pub struct Sample {
    pub file: PathBuf,
    pub human: bool,
    pub language: String,
    pub noise: String,
}

/// Why a labelled set cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("{}: cannot read ({source})", .file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: write file<TAB>human|machine<TAB>language<TAB>noise", .file.display())]
    BadLine { file: PathBuf, line: usize },
}

/// Reads a set's `labels.tsv` (file, label, language, noise; a header line) and the folder of
/// its files (`set/` beside it).
pub fn read_set(dir: &Path) -> Result<Vec<Sample>, SetError> {
    let labels = dir.join("labels.tsv");
    let text = std::fs::read_to_string(&labels).map_err(|source| SetError::Read {
        file: labels.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4 || !["human", "machine"].contains(&cols[1]) {
            return Err(SetError::BadLine {
                file: labels,
                line: n + 1,
            });
        }
        out.push(Sample {
            file: dir.join("set").join(cols[0]),
            human: cols[1] == "human",
            language: cols[2].to_string(),
            noise: cols[3].to_string(),
        });
    }
    Ok(out)
}
