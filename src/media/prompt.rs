//! Prompts: WAV files read into 8 kHz mono samples, and played as a sequence in 20 ms frames.
//!
//! Any PCM WAV is taken (8/16/24/32-bit integer or float, any rate, mono or stereo): it is mixed
//! down to mono and resampled to 8 kHz. The shipped prompts are 8 kHz mono 16-bit already.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use super::g711::Codec;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;
pub const RATE: u32 = 8_000;

#[derive(Debug, Error)]
pub enum PromptError {
    #[error(
        "{path}: cannot read it as a WAV file ({reason}); convert it with `sox IN -r 8000 -c 1 -b 16 OUT.wav`"
    )]
    Read { path: PathBuf, reason: String },
    #[error("{path}: empty (no samples)")]
    Empty { path: PathBuf },
}

/// A prompt's audio: 8 kHz mono.
#[derive(Debug, Clone)]
pub struct Audio {
    pub name: String,
    pub samples: Arc<[i16]>,
}

impl Audio {
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(RATE)
    }
}

/// Reads a WAV file as 8 kHz mono.
pub fn load(path: &Path) -> Result<Audio, PromptError> {
    let err = |reason: String| PromptError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if let Some((codec, channels, rate, data)) = g711_wav(&bytes) {
        // hound reads PCM and float only; G.711 WAVs (format 6 and 7) are read here.
        let mono: Vec<f32> = data
            .chunks(usize::from(channels.max(1)))
            .map(|c| {
                c.iter().map(|&b| f32::from(codec.decode(b))).sum::<f32>()
                    / c.len() as f32
                    / 32768.0
            })
            .collect();
        return finish(path, &mono, rate);
    }
    let mut reader =
        hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|e| err(e.to_string()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let raw: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| err(e.to_string()))?
        }
    };
    let mono: Vec<f32> = raw
        .chunks(channels)
        .map(|c| c.iter().sum::<f32>() / c.len() as f32)
        .collect();
    finish(path, &mono, spec.sample_rate)
}

fn finish(path: &Path, mono: &[f32], rate: u32) -> Result<Audio, PromptError> {
    if mono.is_empty() {
        return Err(PromptError::Empty {
            path: path.to_path_buf(),
        });
    }
    let resampled = resample(mono, rate.max(1), RATE);
    let samples: Vec<i16> = resampled
        .iter()
        .map(|v| (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    Ok(Audio {
        name: path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
        samples: samples.into(),
    })
}

/// A WAV file of G.711 samples: (codec, channels, rate, the data bytes).
fn g711_wav(bytes: &[u8]) -> Option<(Codec, u16, u32, &[u8])> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let u16_at = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut at = 12;
    let mut format = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32_at(at + 4)? as usize;
        let body = at + 8;
        if id == b"fmt " {
            let codec = match u16_at(body)? {
                6 => Codec::Pcma,
                7 => Codec::Pcmu,
                _ => return None,
            };
            format = Some((codec, u16_at(body + 2)?, u32_at(body + 4)?));
        } else if id == b"data" {
            let (codec, channels, rate) = format?;
            let end = (body + size).min(bytes.len());
            return Some((codec, channels, rate, &bytes[body..end]));
        }
        at = body + size + (size & 1);
    }
    None
}

/// Linear-interpolation resampling, after a moving-average low-pass when going down (enough
/// for speech on a telephone line).
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let filtered: Vec<f32> = if from > to {
        let width = (from / to).max(1) as usize;
        let mut acc = 0.0f32;
        let mut out = Vec::with_capacity(input.len());
        for (i, &x) in input.iter().enumerate() {
            acc += x;
            if i >= width {
                acc -= input[i - width];
            }
            out.push(acc / width.min(i + 1) as f32);
        }
        out
    } else {
        input.to_vec()
    };
    let ratio = f64::from(from) / f64::from(to);
    let n = ((input.len() as f64) / ratio).floor() as usize;
    (0..n)
        .map(|i| {
            let pos = i as f64 * ratio;
            let k = pos.floor() as usize;
            let frac = (pos - k as f64) as f32;
            let a = filtered[k.min(filtered.len() - 1)];
            let b = filtered[(k + 1).min(filtered.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

/// Plays prompts one after another in 20 ms frames; the last frame is padded with silence.
#[derive(Debug, Clone)]
pub struct Player {
    queue: Vec<Audio>,
    index: usize,
    offset: usize,
    /// Repeat the whole sequence (hold music).
    looping: bool,
}

impl Player {
    pub fn new(queue: Vec<Audio>, looping: bool) -> Player {
        Player {
            queue,
            index: 0,
            offset: 0,
            looping,
        }
    }

    /// The next 20 ms, or `None` when the sequence is over.
    pub fn next_frame(&mut self) -> Option<[i16; FRAME]> {
        let mut frame = [0i16; FRAME];
        let mut filled = 0;
        while filled < FRAME {
            if self.index >= self.queue.len() {
                if self.looping && self.queue.iter().any(|a| !a.samples.is_empty()) {
                    self.index = 0;
                    self.offset = 0;
                } else {
                    break;
                }
            }
            let audio = &self.queue[self.index].samples;
            let take = (FRAME - filled).min(audio.len() - self.offset.min(audio.len()));
            frame[filled..filled + take].copy_from_slice(&audio[self.offset..self.offset + take]);
            filled += take;
            self.offset += take;
            if self.offset >= audio.len() {
                self.index += 1;
                self.offset = 0;
                // Each prompt starts on a frame of its own: the rest of this one is silence.
                if filled > 0 {
                    break;
                }
            }
        }
        (filled > 0).then_some(frame)
    }

    /// Total length of the sequence (one pass), ms.
    pub fn duration_ms(&self) -> u64 {
        self.queue.iter().map(Audio::duration_ms).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(n: usize) -> Audio {
        Audio {
            name: "t".into(),
            samples: vec![100i16; n].into(),
        }
    }

    #[test]
    fn frames_are_20_ms_and_prompts_start_on_their_own_frame() {
        let mut p = Player::new(vec![audio(200), audio(160)], false);
        let a = p.next_frame().unwrap();
        assert_eq!(a[159], 100);
        let b = p.next_frame().unwrap();
        assert_eq!((b[39], b[40]), (100, 0), "the first prompt's tail, padded");
        let c = p.next_frame().unwrap();
        assert_eq!(c[0], 100);
        assert!(p.next_frame().is_none());
    }

    #[test]
    fn looping_goes_round() {
        let mut p = Player::new(vec![audio(160)], true);
        for _ in 0..5 {
            assert!(p.next_frame().is_some());
        }
    }

    #[test]
    fn resampling_keeps_the_length_in_time() {
        let one_second: Vec<f32> = (0..22_050).map(|i| (i as f32 * 0.01).sin()).collect();
        let out = resample(&one_second, 22_050, 8_000);
        assert!((7_990..=8_000).contains(&out.len()), "{}", out.len());
    }

    #[test]
    fn a_wav_file_round_trips() {
        let path = std::env::temp_dir().join(format!("predial-prompt-{}.wav", std::process::id()));
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..16_000 {
            let v = ((i as f32 * 0.05).sin() * 10_000.0) as i16;
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        let a = load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(a.duration_ms(), 1000);
        let peak = a.samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((8_000..=10_500).contains(&peak), "{peak}");
        // The same as G.711 u-law WAV (what sox writes with -e u-law).
        let ulaw = path.with_extension("ul.wav");
        let mut f = Vec::new();
        let data: Vec<u8> = a.samples.iter().map(|&s| Codec::Pcmu.encode(s)).collect();
        f.extend_from_slice(b"RIFF");
        f.extend_from_slice(&(4 + 26 + 8 + data.len() as u32).to_le_bytes());
        f.extend_from_slice(b"WAVEfmt ");
        f.extend_from_slice(&18u32.to_le_bytes());
        for v in [7u16, 1] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&8000u32.to_le_bytes());
        f.extend_from_slice(&8000u32.to_le_bytes());
        for v in [1u16, 8, 0] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(b"data");
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&data);
        std::fs::write(&ulaw, &f).unwrap();
        let u = load(&ulaw).unwrap();
        std::fs::remove_file(&ulaw).unwrap();
        assert_eq!(u.samples.len(), a.samples.len());
        let missing = load(Path::new("/nonexistent/x.wav")).unwrap_err();
        assert!(missing.to_string().contains("sox"), "{missing}");
    }
}
