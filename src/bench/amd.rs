//! `predial bench amd`: the detector against the project's labelled set
//! (`benches/amd/labels.tsv`, made by `benches/amd/make-set.sh`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use predial_core::amd::{AmdSettings, Verdict};
use serde::Serialize;

use crate::media::amd::{SetError, read_set};
use crate::media::prompt::PromptError;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Group {
    pub samples: u32,
    pub correct: u32,
    pub humans: u32,
    pub human_as_machine: u32,
    pub machines: u32,
    pub machine_as_human: u32,
    pub not_sure: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmdBench {
    pub set: String,
    pub samples: u32,
    /// Verdicts equal to the label (a "not sure" counts as wrong).
    pub accuracy: f64,
    /// Share of the humans called machines (each is an abandoned call under Ofcom's rules).
    pub human_as_machine: f64,
    /// Share of the machines called humans (an operator hears a voicemail).
    pub machine_as_human: f64,
    /// Share of all samples left "not sure" (the engine connects them as humans).
    pub not_sure: f64,
    pub median_decision_ms: f64,
    pub p90_decision_ms: f64,
    /// Figures by language and noise level.
    pub by_group: BTreeMap<String, Group>,
    pub cpu_us_per_second_of_audio: f64,
    pub settings: AmdSettings,
}

fn share(n: u32, of: u32) -> f64 {
    if of == 0 {
        0.0
    } else {
        f64::from(n) / f64::from(of)
    }
}

/// Why the benchmark did not run.
#[derive(Debug, thiserror::Error)]
pub enum AmdBenchError {
    #[error(transparent)]
    Set(#[from] SetError),
    #[error("{}: the set has no samples", .0.display())]
    Empty(PathBuf),
    #[error(transparent)]
    Sample(#[from] PromptError),
}

pub fn run(dir: &Path, settings: &AmdSettings) -> Result<AmdBench, AmdBenchError> {
    let samples = read_set(dir)?;
    if samples.is_empty() {
        return Err(AmdBenchError::Empty(dir.to_path_buf()));
    }
    let mut all = Group::default();
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut decisions = Vec::new();
    let mut audio_s = 0.0;
    let started = Instant::now();
    for s in &samples {
        let audio = crate::media::prompt::load(&s.file)?;
        audio_s += audio.samples.len() as f64 / 8000.0;
        let d = crate::media::amd::detect(&audio.samples, settings);
        decisions.push(f64::from(d.after_ms));
        let key = format!("{}/{}", s.language, s.noise);
        for g in [&mut all, groups.entry(key).or_default()] {
            g.samples += 1;
            let correct = (d.verdict == Verdict::Human && s.human)
                || (d.verdict == Verdict::Machine && !s.human);
            g.correct += u32::from(correct);
            if s.human {
                g.humans += 1;
                g.human_as_machine += u32::from(d.verdict == Verdict::Machine);
            } else {
                g.machines += 1;
                g.machine_as_human += u32::from(d.verdict == Verdict::Human);
            }
            g.not_sure += u32::from(d.verdict == Verdict::NotSure);
        }
    }
    let cpu = started.elapsed().as_secs_f64();
    decisions.sort_by(f64::total_cmp);
    let pct = |q: f64| decisions[((decisions.len() - 1) as f64 * q).round() as usize];
    Ok(AmdBench {
        set: dir.display().to_string(),
        samples: all.samples,
        accuracy: share(all.correct, all.samples),
        human_as_machine: share(all.human_as_machine, all.humans),
        machine_as_human: share(all.machine_as_human, all.machines),
        not_sure: share(all.not_sure, all.samples),
        median_decision_ms: pct(0.5),
        p90_decision_ms: pct(0.9),
        by_group: groups,
        cpu_us_per_second_of_audio: cpu * 1e6 / audio_s.max(1e-9),
        settings: settings.clone(),
    })
}
