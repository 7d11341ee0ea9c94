//! `predial amd FILE.wav...`: answering-machine detection on recordings, with a campaign's
//! settings as flags.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use predial_core::amd::{AmdSettings, Verdict};
use serde::Serialize;

/// The detector's settings as flags (defaults: Asterisk's app_amd, but 3 words and beeps heard).
#[derive(Debug, Args, Clone)]
pub struct AmdFlags {
    /// Silence at the start longer than this: a machine.
    #[arg(long, value_name = "MS", default_value_t = 2500)]
    pub initial_silence_ms: u32,
    /// Greeting speech longer than this: a machine.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub greeting_ms: u32,
    /// Silence after the greeting this long: a human.
    #[arg(long, value_name = "MS", default_value_t = 800)]
    pub after_greeting_silence_ms: u32,
    /// Give up (not sure) after this much audio.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub total_analysis_ms: u32,
    /// Speech this long counts as a word.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub min_word_length_ms: u32,
    /// Silence this long ends a word.
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub between_words_silence_ms: u32,
    /// More words than this: a machine.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_words: u32,
    /// Mean absolute sample value below which a frame is silence.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub silence_threshold: u32,
    /// One word longer than this: a machine.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub max_word_length_ms: u32,
    /// A steady tone (a voicemail's beep) this long: a machine. 0: off.
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub beep_ms: u32,
}

impl AmdFlags {
    pub fn settings(&self) -> anyhow::Result<AmdSettings> {
        let s = AmdSettings {
            initial_silence_ms: self.initial_silence_ms,
            greeting_ms: self.greeting_ms,
            after_greeting_silence_ms: self.after_greeting_silence_ms,
            total_analysis_ms: self.total_analysis_ms,
            min_word_length_ms: self.min_word_length_ms,
            between_words_silence_ms: self.between_words_silence_ms,
            max_words: self.max_words,
            silence_threshold: self.silence_threshold,
            max_word_length_ms: self.max_word_length_ms,
            beep_ms: self.beep_ms,
        };
        if let Some((field, what)) = s.problems().first() {
            bail!("--{}: {what}", field.replace('_', "-"));
        }
        Ok(s)
    }
}

#[derive(Debug, Args)]
pub struct AmdArgs {
    /// WAV files (8 kHz, or resampled): what was heard after the call was answered.
    #[arg(required = true, value_name = "FILE.wav")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    flags: AmdFlags,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Result {
    file: String,
    verdict: Verdict,
    cause: predial_core::amd::Cause,
    decision_ms: u32,
}

pub fn amd(args: AmdArgs) -> anyhow::Result<ExitCode> {
    let settings = args.flags.settings()?;
    let mut results = Vec::new();
    for f in &args.files {
        let d = predial::media::amd::detect_file(f, &settings)?;
        results.push(Result {
            file: f.display().to_string(),
            verdict: d.verdict,
            cause: d.cause,
            decision_ms: d.after_ms,
        });
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "results": results, "settings": settings })
        );
    } else {
        for r in &results {
            let verdict = serde_json::to_value(r.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let cause = serde_json::to_value(r.cause)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            println!(
                "{:<8} {:>5} ms  {:<16} {}",
                verdict, r.decision_ms, cause, r.file
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
