//! Importing a lead file into the store (`predial leads import`): read in batches, each batch
//! checked by the intake and handed to the writer while the next is read.

use std::io::BufRead;

use serde::Serialize;

use super::file::{Format, Reader};
use super::intake::{Counts, FlushError, Intake, Source, Verdict};
use crate::store::now_ms;

/// A line that was not taken, and why.
#[derive(Debug, Clone, Serialize)]
pub struct BadLine {
    pub line: u64,
    pub field: String,
    pub error: String,
    pub message: String,
    /// destination_refused: the rule that refused the number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Imported {
    pub lines: u64,
    #[serde(flatten)]
    pub counts: Counts,
    /// Lines that are not leads at all (bad JSON, no phone column).
    pub malformed: u64,
    pub bad_lines: Vec<BadLine>,
    pub seconds: f64,
    pub leads_per_s: f64,
}

/// Records per batch.
const BATCH: usize = 10_000;
/// Bad lines kept for the report (all are counted).
const KEEP_BAD: usize = 10_000;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Read(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] FlushError),
}

/// Imports leads into `campaign` (a lead's own `campaign` field is overridden). `progress` is
/// called with the bytes read so far after each batch.
pub async fn import<R: BufRead>(
    intake: &mut Intake,
    input: R,
    format: Format,
    campaign: &str,
    mut progress: impl FnMut(u64),
) -> Result<Imported, ImportError> {
    let started = std::time::Instant::now();
    let mut reader = Reader::new(input, format);
    let mut report = Imported::default();
    let mut records = Vec::with_capacity(BATCH);
    let mut in_flight = None;
    loop {
        records.clear();
        let more = reader.read(BATCH, &mut records)?;
        let now = now_ms();
        for (line, record) in records.drain(..) {
            report.lines += 1;
            let mut lead = match record {
                Ok(lead) => lead,
                Err(e) => {
                    let message = e.to_string();
                    report.malformed += 1;
                    report.counts.invalid += 1;
                    if report.bad_lines.len() < KEEP_BAD {
                        let (field, message) = match message.split_once(": ") {
                            Some((f, m)) if !f.contains(' ') => (f.to_string(), m.to_string()),
                            _ => (String::new(), message),
                        };
                        report.bad_lines.push(BadLine {
                            line,
                            field,
                            error: "malformed".into(),
                            message,
                            rule: None,
                        });
                    }
                    continue;
                }
            };
            lead.campaign = Some(campaign.to_string());
            let verdict = intake.take(lead, Source::Import, now);
            report.counts.add(&verdict);
            if let Verdict::Invalid {
                error,
                field,
                message,
                rule,
            } = verdict
                && report.bad_lines.len() < KEEP_BAD
            {
                report.bad_lines.push(BadLine {
                    line,
                    field,
                    error,
                    message,
                    rule,
                });
            }
        }
        // Write this batch while the next is read; at most one batch waits.
        let flush = intake.start_flush();
        if let Some(previous) = in_flight.replace(flush) {
            super::intake::Flush::wait(previous).await?;
        }
        progress(reader.bytes);
        if !more {
            break;
        }
    }
    if let Some(last) = in_flight {
        last.wait().await?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.leads_per_s = report.lines as f64 / report.seconds.max(1e-9);
    Ok(report)
}
