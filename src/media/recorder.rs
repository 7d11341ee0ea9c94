//! Recording a bridged call: one stereo WAV, 8 kHz 16-bit, the callee on the left and the
//! operator on the right, in step.
//!
//! Each side's audio is placed by its RTP timestamps (steady, unlike arrival times), anchored at
//! the moment its first packet arrived; a gap in a side is silence, a late or repeated packet is
//! dropped. The two sides are written together as far as both have arrived; a side more than a
//! second behind is filled with silence so the file keeps growing.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use thiserror::Error;

use super::prompt::RATE;

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("recording {path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The person called: left channel.
    Callee,
    /// The operator: right channel.
    Operator,
}

#[derive(Debug, Default)]
struct Track {
    /// Samples not yet written.
    pending: VecDeque<i16>,
    /// The sample index (from the start of the recording) of `pending[0]`.
    start: u64,
    /// The stream being placed: its SSRC, and the sample index its timestamp 0 maps to.
    anchor: Option<(u32, i64)>,
}

impl Track {
    fn end(&self) -> u64 {
        self.start + self.pending.len() as u64
    }

    fn place(&mut self, index: u64, samples: &[i16]) {
        let end = self.end();
        if index + samples.len() as u64 <= end {
            return; // late or repeated
        }
        if index > end {
            // A gap: silence.
            let gap = (index - end).min(u64::from(RATE) * 10);
            self.pending.extend(std::iter::repeat_n(0, gap as usize));
        }
        let skip = end.saturating_sub(index) as usize;
        self.pending.extend(&samples[skip.min(samples.len())..]);
    }
}

/// Bytes of samples (5 s) between two updates of the header's sizes while recording.
const HEADER_EVERY: u64 = 5 * RATE as u64 * 4;

/// A stereo 16-bit WAV written in blocks. The sizes in its header are brought up to date every
/// 5 s of audio and when it is closed, so a crash leaves a playable file of all but the last
/// few seconds.
struct WavOut {
    file: BufWriter<File>,
    data_bytes: u64,
    /// `data_bytes` when the header was last written.
    in_header: u64,
    block: Vec<u8>,
}

impl WavOut {
    fn create(file: File) -> std::io::Result<WavOut> {
        let mut file = BufWriter::with_capacity(64 * 1024, file);
        file.write_all(&header(0))?;
        Ok(WavOut {
            file,
            data_bytes: 0,
            in_header: 0,
            block: Vec::with_capacity(4096),
        })
    }

    fn frame(&mut self, left: i16, right: i16) -> std::io::Result<()> {
        self.block.extend_from_slice(&left.to_le_bytes());
        self.block.extend_from_slice(&right.to_le_bytes());
        if self.block.len() >= 4096 {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> std::io::Result<()> {
        self.file.write_all(&self.block)?;
        self.data_bytes += self.block.len() as u64;
        self.block.clear();
        if self.data_bytes - self.in_header >= HEADER_EVERY {
            use std::os::unix::fs::FileExt;
            self.file.flush()?;
            let sizes = header(self.data_bytes.min(u64::from(u32::MAX - 44)) as u32);
            self.file.get_ref().write_at(&sizes, 0)?;
            self.in_header = self.data_bytes;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.flush_block()?;
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&header(self.data_bytes.min(u64::from(u32::MAX - 44)) as u32))?;
        file.sync_data()
    }
}

/// The 44-byte header of a stereo 8 kHz 16-bit PCM WAV with `data` bytes of samples.
fn header(data: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&(36 + data).to_le_bytes());
    h[8..16].copy_from_slice(b"WAVEfmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // PCM
    h[22..24].copy_from_slice(&2u16.to_le_bytes()); // channels
    h[24..28].copy_from_slice(&RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(RATE * 4).to_le_bytes()); // bytes per second
    h[32..34].copy_from_slice(&4u16.to_le_bytes()); // block align
    h[34..36].copy_from_slice(&16u16.to_le_bytes()); // bits
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

/// What a recorded call is, for its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// A campaign's call (named by its attempt id).
    Outbound,
    /// A caller's call to a queue (named by predial's number for it).
    Inbound,
    /// A call made by hand (`predial call`, benchmarks).
    Test,
}

/// A recording's file name, made by predial from what it knows: the time the recording
/// started (UTC) and predial's own id of the call, `20261204-143012-out-17.wav`. Never from a
/// Call-ID, a From or To, SDP or API text, so no caller can choose where a file is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingName(String);

impl RecordingName {
    pub fn new(kind: CallKind, id: u64, at: SystemTime) -> RecordingName {
        let at: chrono::DateTime<chrono::Utc> = at.into();
        let kind = match kind {
            CallKind::Outbound => "out",
            CallKind::Inbound => "in",
            CallKind::Test => "call",
        };
        RecordingName(format!("{}-{kind}-{id}", at.format("%Y%m%d-%H%M%S")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Creates a new file only its owner may read (0600), never one that exists: `NAME.wav`, else
/// `NAME-2.wav`, ... (two calls with the same id in one second, after a restart).
fn create_private(dir: &Path, name: &RecordingName) -> std::io::Result<(PathBuf, File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut last = None;
    for n in 1..=100 {
        let file_name = if n == 1 {
            format!("{}.wav", name.0)
        } else {
            format!("{}-{n}.wav", name.0)
        };
        let path = dir.join(file_name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free file name")))
}

pub struct Recorder {
    path: PathBuf,
    writer: Option<WavOut>,
    started: Instant,
    tracks: [Track; 2],
    written: u64,
}

impl Recorder {
    /// Starts `DIR/NAME.wav`, a new file only predial's user may read; `DIR` is made (0700)
    /// when missing.
    pub fn create(dir: &Path, name: &RecordingName, now: Instant) -> Result<Recorder, RecordError> {
        let err = |path: &Path, e: &dyn std::fmt::Display| RecordError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if !dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| err(dir, &e))?;
        }
        let (path, file) = create_private(dir, name).map_err(|e| err(dir, &e))?;
        let writer = WavOut::create(file).map_err(|e| err(&path, &e))?;
        Ok(Recorder {
            path,
            writer: Some(writer),
            started: now,
            tracks: [Track::default(), Track::default()],
            written: 0,
        })
    }

    /// A recorder that writes nothing (left behind when a call's recording is taken out to be
    /// finished while its leg still holds a handle).
    pub fn detached() -> Recorder {
        Recorder {
            path: PathBuf::new(),
            writer: None,
            started: Instant::now(),
            tracks: [Track::default(), Track::default()],
            written: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Audio of one side: decoded samples of an RTP packet with its SSRC and timestamp,
    /// arrived at `now`.
    pub fn push(&mut self, side: Side, ssrc: u32, timestamp: u32, samples: &[i16], now: Instant) {
        let arrived = (now.saturating_duration_since(self.started).as_micros() as u64
            * u64::from(RATE)
            / 1_000_000) as i64;
        let track = &mut self.tracks[side as usize];
        let ts = i64::from(timestamp);
        let base = match track.anchor {
            Some((s, base)) if s == ssrc && (base + ts - arrived).abs() < i64::from(RATE) * 2 => {
                base
            }
            // A new stream (or one that jumped): anchor it where it arrived.
            _ => {
                let base = arrived.max(track.end() as i64) - ts;
                track.anchor = Some((ssrc, base));
                base
            }
        };
        let index = (base + ts).max(0) as u64;
        track.place(index, samples);
        self.flush(false);
    }

    fn flush(&mut self, all: bool) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        let [a, b] = &mut self.tracks;
        let (ae, be) = (a.end(), b.end());
        let mut upto = ae.min(be);
        let lead = ae.max(be);
        if all {
            upto = lead;
        } else if lead > upto + u64::from(RATE) {
            upto = lead - u64::from(RATE);
        }
        while self.written < upto {
            let l = take(a, self.written);
            let r = take(b, self.written);
            if writer.frame(l, r).is_err() {
                self.writer = None;
                return;
            }
            self.written += 1;
        }
    }

    /// Writes what is left and closes the file; returns its path and length.
    pub fn finish(mut self) -> Result<(PathBuf, Duration), RecordError> {
        self.flush(true);
        let seconds = self.written as f64 / f64::from(RATE);
        if let Some(w) = self.writer.take() {
            w.finish().map_err(|e| RecordError::Io {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok((self.path.clone(), Duration::from_secs_f64(seconds)))
    }
}

/// The sample of `track` at `index`, or silence; the track moves past it.
fn take(track: &mut Track, index: u64) -> i16 {
    while track.start < index {
        track.pending.pop_front();
        track.start += 1;
    }
    if index < track.start {
        return 0;
    }
    track.start += 1;
    track.pending.pop_front().unwrap_or(0)
}

/// Deletes recordings in `dir` older than `keep`; returns how many.
pub fn sweep(dir: &Path, keep: Duration, now: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "wav") {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > keep));
        if old && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_land_in_step() {
        let dir = std::env::temp_dir().join(format!("predial-rec-{}", std::process::id()));
        let t0 = Instant::now();
        let name = RecordingName::new(CallKind::Test, 1, SystemTime::now());
        let mut rec = Recorder::create(&dir, &name, t0).unwrap();
        // One second of each side, 20 ms packets; the operator starts 100 ms later.
        for i in 0..50u32 {
            let at = t0 + Duration::from_millis(u64::from(i) * 20);
            rec.push(Side::Callee, 1, 1000 + i * 160, &[1000; 160], at);
            rec.push(
                Side::Operator,
                2,
                5000 + i * 160,
                &[-1000; 160],
                at + Duration::from_millis(100),
            );
        }
        let (path, length) = rec.finish().unwrap();
        let mut r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.spec().channels, 2);
        let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
        let frames = s.len() / 2;
        assert!((8_700..=8_900).contains(&frames), "{frames}");
        assert!((length.as_secs_f64() - 1.1).abs() < 0.02, "{length:?}");
        // At 50 ms: callee speaking, operator not yet.
        assert_eq!((s[2 * 400], s[2 * 400 + 1]), (1000, 0));
        // At 500 ms: both.
        assert_eq!((s[2 * 4000], s[2 * 4000 + 1]), (1000, -1000));
        assert_eq!(
            sweep(
                &dir,
                Duration::ZERO,
                SystemTime::now() + Duration::from_secs(1)
            ),
            1
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_recording_cut_short_is_still_playable() {
        let dir = std::env::temp_dir().join(format!("predial-rec-cut-{}", std::process::id()));
        let t0 = Instant::now();
        let name = RecordingName::new(CallKind::Test, 2, SystemTime::now());
        let mut rec = Recorder::create(&dir, &name, t0).unwrap();
        // 7 s of both sides, then the process "dies": the recorder is never finished.
        for i in 0..350u32 {
            let at = t0 + Duration::from_millis(u64::from(i) * 20);
            rec.push(Side::Callee, 1, i * 160, &[700; 160], at);
            rec.push(Side::Operator, 2, i * 160, &[-700; 160], at);
        }
        let path = rec.path().to_path_buf();
        std::mem::forget(rec);
        let r = hound::WavReader::open(&path).unwrap();
        let seconds = r.duration() as f64 / 8000.0;
        assert!((5.0..7.1).contains(&seconds), "{seconds}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn recordings_are_named_by_predial_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("predial-rec-name-{}", std::process::id()));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        let name = RecordingName::new(CallKind::Inbound, 7, at);
        assert_eq!(name.as_str(), "20261130-005320-in-7");
        let a = Recorder::create(&dir, &name, Instant::now()).unwrap();
        let b = Recorder::create(&dir, &name, Instant::now()).unwrap();
        assert_ne!(
            a.path(),
            b.path(),
            "a second call of that name gets its own file"
        );
        assert_eq!(b.path().parent(), Some(dir.as_path()));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(a.path()), 0o600);
        assert_eq!(mode(&dir), 0o700);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn repeats_are_dropped_and_gaps_are_silence() {
        let mut t = Track::default();
        t.place(0, &[1; 160]);
        t.place(0, &[2; 160]);
        t.place(320, &[3; 160]);
        assert_eq!(t.end(), 480);
        assert_eq!(t.pending[100], 1);
        assert_eq!(t.pending[200], 0);
        assert_eq!(t.pending[400], 3);
    }
}
