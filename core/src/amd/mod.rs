//! Answering-machine detection: audio frames in, a verdict out (human, machine, not sure) with
//! the time it took. Pure: no clock, the frames are the clock.
//!
//! It is Asterisk's `app_amd` as its C source does it (Asterisk 18-22; `docs/media.md` says
//! where each rule comes from): a frame is silent when its mean absolute sample is below the
//! silence threshold; a run of silence after speech means a person who said "Hello?" and is
//! waiting (human); a long greeting, too many words, or a long silence at the start mean a
//! machine; nothing decided within the analysis time is "not sure".

use serde::{Deserialize, Serialize};

/// The detector's settings (Asterisk's `amd.conf` names and defaults), in ms unless said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmdSettings {
    /// Silence at the start longer than this: a machine (nobody said anything).
    pub initial_silence_ms: u32,
    /// Speech in the greeting longer than this (in total): a machine reading its message.
    pub greeting_ms: u32,
    /// Silence after the greeting this long: a person waiting for an answer.
    pub after_greeting_silence_ms: u32,
    /// Give up (not sure) after this much audio.
    pub total_analysis_ms: u32,
    /// Speech this long counts as a word.
    pub min_word_length_ms: u32,
    /// Silence this long ends a word.
    pub between_words_silence_ms: u32,
    /// More words than this in the greeting: a machine. (Asterisk's default is 2; 3 lets a
    /// person say "Hello, Anna speaking": measured in `docs/benchmarks.md`.)
    pub max_words: u32,
    /// Mean absolute sample value below which a frame is silence (0-32767).
    pub silence_threshold: u32,
    /// One word longer than this: a machine.
    pub max_word_length_ms: u32,
    /// A steady tone (a voicemail's beep) this long: a machine. 0: not listened for. (Not in
    /// Asterisk: it catches the short greetings, "Leave a message" and the beep.)
    pub beep_ms: u32,
}

impl Default for AmdSettings {
    fn default() -> Self {
        AmdSettings {
            initial_silence_ms: 2500,
            greeting_ms: 1500,
            after_greeting_silence_ms: 800,
            total_analysis_ms: 5000,
            min_word_length_ms: 100,
            between_words_silence_ms: 50,
            max_words: 3,
            silence_threshold: 256,
            max_word_length_ms: 5000,
            beep_ms: 200,
        }
    }
}

impl AmdSettings {
    /// Asterisk's own defaults (app_amd): two words, no beep detection.
    pub fn asterisk() -> AmdSettings {
        AmdSettings {
            max_words: 2,
            beep_ms: 0,
            ..AmdSettings::default()
        }
    }

    /// Problems, as (field, what to do).
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        let ms = [
            ("initial_silence_ms", self.initial_silence_ms),
            ("greeting_ms", self.greeting_ms),
            ("after_greeting_silence_ms", self.after_greeting_silence_ms),
            ("total_analysis_ms", self.total_analysis_ms),
            ("min_word_length_ms", self.min_word_length_ms),
            ("between_words_silence_ms", self.between_words_silence_ms),
            ("max_word_length_ms", self.max_word_length_ms),
        ];
        for (field, v) in ms {
            if v == 0 || v > 60_000 {
                out.push((field, "use 1 to 60000 ms"));
            }
        }
        if self.beep_ms > 60_000 {
            out.push(("beep_ms", "use 0 (off) to 60000 ms"));
        }
        if self.max_words == 0 || self.max_words > 100 {
            out.push(("max_words", "use 1 to 100 words"));
        }
        if self.silence_threshold == 0 || self.silence_threshold > 32_767 {
            out.push((
                "silence_threshold",
                "use 1 to 32767 (a mean sample value; 256 is Asterisk's)",
            ));
        }
        out
    }
}

/// What the detector concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Human,
    Machine,
    #[serde(rename = "notsure")]
    NotSure,
}

/// Why, in Asterisk's words (AMDCAUSE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Silence after a short greeting.
    Human,
    /// Nothing said for the initial silence.
    InitialSilence,
    /// The greeting went on too long.
    LongGreeting,
    /// Too many words.
    MaxWords,
    /// One word too long.
    MaxWordLength,
    /// The analysis time ran out.
    TooLong,
    /// A voicemail's beep.
    Beep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub cause: Cause,
    /// Audio time analysed when it decided.
    pub after_ms: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    InWord,
    InSilence,
}

/// One detection: feed it the callee's audio from the answer on.
#[derive(Debug, Clone)]
pub struct Amd {
    s: AmdSettings,
    in_initial_silence: bool,
    in_greeting: bool,
    voice_ms: u32,
    consecutive_voice_ms: u32,
    total_ms: u32,
    words: u32,
    state: State,
    /// The silence detector's run of silent frames (Asterisk's dsp->totalsilence), ms.
    silence_run_ms: u32,
    /// The silence the decisions look at (Asterisk's `dspsilence`): the detector's run after a
    /// frame of audio, grown by gaps without audio.
    dspsilence: u32,
    /// The tone heard in a row: its frequency (Hz) and how long (ms).
    tone: Option<(u32, u32)>,
    decided: Option<Decision>,
}

impl Amd {
    pub fn new(settings: AmdSettings) -> Amd {
        Amd {
            s: settings,
            in_initial_silence: true,
            in_greeting: false,
            voice_ms: 0,
            consecutive_voice_ms: 0,
            total_ms: 0,
            words: 0,
            // Asterisk starts "in a word": speech at the very start is not counted as one.
            state: State::InWord,
            silence_run_ms: 0,
            dspsilence: 0,
            tone: None,
            decided: None,
        }
    }

    /// The decision, once made.
    pub fn decision(&self) -> Option<Decision> {
        self.decided
    }

    /// A frame of 8 kHz samples (normally 160: 20 ms). Returns the decision when this frame
    /// makes it; after that, further frames change nothing.
    pub fn frame(&mut self, samples: &[i16]) -> Option<Decision> {
        if self.decided.is_some() {
            return None;
        }
        let frame_ms = (samples.len() / 8) as u32;
        self.total_ms += frame_ms;
        if self.total_ms >= self.s.total_analysis_ms {
            return self.decide(Verdict::NotSure, Cause::TooLong);
        }
        // The silence detector: mean absolute amplitude against the threshold.
        let silent = if samples.is_empty() {
            false
        } else {
            let sum: u64 = samples.iter().map(|&x| u64::from(x.unsigned_abs())).sum();
            (sum / samples.len() as u64) < u64::from(self.s.silence_threshold)
        };
        if silent {
            self.silence_run_ms += frame_ms;
        } else {
            self.silence_run_ms = 0;
        }
        self.dspsilence = self.silence_run_ms;
        if self.s.beep_ms > 0 {
            let tone = if silent { None } else { tone(samples) };
            self.tone = match (self.tone, tone) {
                (Some((f, ms)), Some(g)) if f.abs_diff(g) <= 60 => Some((f, ms + frame_ms)),
                (_, Some(g)) => Some((g, frame_ms)),
                (_, None) => None,
            };
            if self.tone.is_some_and(|(_, ms)| ms >= self.s.beep_ms) {
                return self.decide(Verdict::Machine, Cause::Beep);
            }
        }
        self.analyse(frame_ms)
    }

    /// `ms` of no audio (a gap in the stream, comfort noise): counts as silence, as Asterisk
    /// counts a CNG frame, without touching the silence detector's own run.
    pub fn no_audio(&mut self, ms: u32) -> Option<Decision> {
        if self.decided.is_some() {
            return None;
        }
        self.total_ms += ms;
        if self.total_ms >= self.s.total_analysis_ms {
            return self.decide(Verdict::NotSure, Cause::TooLong);
        }
        self.dspsilence += ms;
        if self.dspsilence > 0 {
            self.silence_branch(self.dspsilence)
        } else {
            self.analyse(0)
        }
    }

    fn analyse(&mut self, frame_ms: u32) -> Option<Decision> {
        if self.dspsilence > 0 {
            return self.silence_branch(self.dspsilence);
        }
        // Voice.
        self.consecutive_voice_ms += frame_ms;
        self.voice_ms += frame_ms;
        if self.consecutive_voice_ms >= self.s.min_word_length_ms && self.state == State::InSilence
        {
            self.words += 1;
            self.state = State::InWord;
        }
        if self.consecutive_voice_ms >= self.s.max_word_length_ms {
            return self.decide(Verdict::Machine, Cause::MaxWordLength);
        }
        if self.words > self.s.max_words {
            return self.decide(Verdict::Machine, Cause::MaxWords);
        }
        if self.in_greeting && self.voice_ms >= self.s.greeting_ms {
            return self.decide(Verdict::Machine, Cause::LongGreeting);
        }
        if self.consecutive_voice_ms >= self.s.min_word_length_ms && !self.in_greeting {
            self.in_initial_silence = false;
            self.in_greeting = true;
        }
        None
    }

    fn silence_branch(&mut self, silence_ms: u32) -> Option<Decision> {
        if silence_ms >= self.s.between_words_silence_ms {
            self.state = State::InSilence;
            self.consecutive_voice_ms = 0;
        }
        if self.in_initial_silence && silence_ms >= self.s.initial_silence_ms {
            return self.decide(Verdict::Machine, Cause::InitialSilence);
        }
        if self.in_greeting && silence_ms >= self.s.after_greeting_silence_ms {
            return self.decide(Verdict::Human, Cause::Human);
        }
        None
    }

    fn decide(&mut self, verdict: Verdict, cause: Cause) -> Option<Decision> {
        self.decided = Some(Decision {
            verdict,
            cause,
            after_ms: self.total_ms,
        });
        self.decided
    }
}

/// The frequency (Hz) of a frame that is one steady tone (most of its energy at one frequency
/// between 300 and 3000 Hz), or `None`. The zero crossings give the candidate frequency; the
/// Goertzel power around it says whether the energy is really there.
fn tone(samples: &[i16]) -> Option<u32> {
    let n = samples.len();
    if n < 80 {
        return None;
    }
    let energy: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if energy <= 0.0 {
        return None;
    }
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] >= 0) != (w[1] >= 0))
        .count();
    let estimate = crossings as f64 * 8000.0 / (2.0 * (n - 1) as f64);
    if !(300.0..=3000.0).contains(&estimate) {
        return None;
    }
    let mut best = (0.0f64, 0.0f64);
    for step in -4..=4 {
        let f = estimate + f64::from(step) * 12.5;
        let w = 2.0 * std::f64::consts::PI * f / 8000.0;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in samples {
            let s0 = f64::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        if power > best.0 {
            best = (power, f);
        }
    }
    // A pure tone on the frequency: power = (N·A/2)², energy = N·A²/2, so the share is 1.
    let share = 2.0 * best.0 / (n as f64 * energy);
    (share >= 0.7).then(|| best.1.round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: [i16; 160] = [10; 160];
    const V: [i16; 160] = [3000; 160];

    fn run(frames: &[(&[i16; 160], usize)]) -> Option<Decision> {
        let mut amd = Amd::new(AmdSettings::asterisk());
        for (frame, n) in frames {
            for _ in 0..*n {
                if let Some(d) = amd.frame(&frame[..]) {
                    return Some(d);
                }
            }
        }
        None
    }

    // The traces of Asterisk's C logic, frame by frame (20 ms frames, default settings).
    #[test]
    fn hello_then_silence_is_a_human() {
        let d = run(&[(&S, 15), (&V, 25), (&S, 100)]).unwrap();
        assert_eq!(
            (d.verdict, d.cause, d.after_ms),
            (Verdict::Human, Cause::Human, 1600)
        );
    }

    #[test]
    fn a_long_greeting_is_a_machine() {
        let d = run(&[(&S, 15), (&V, 200)]).unwrap();
        assert_eq!(
            (d.verdict, d.cause, d.after_ms),
            (Verdict::Machine, Cause::LongGreeting, 1800)
        );
    }

    #[test]
    fn three_words_are_a_machine() {
        let mut frames: Vec<(&[i16; 160], usize)> = vec![(&S, 15)];
        for _ in 0..3 {
            frames.push((&V, 10));
            frames.push((&S, 5));
        }
        let d = run(&frames).unwrap();
        assert_eq!((d.verdict, d.cause), (Verdict::Machine, Cause::MaxWords));
    }

    #[test]
    fn silence_from_the_start_is_a_machine() {
        let d = run(&[(&S, 200)]).unwrap();
        assert_eq!(
            (d.verdict, d.cause, d.after_ms),
            (Verdict::Machine, Cause::InitialSilence, 2500)
        );
    }

    #[test]
    fn speech_at_once_then_silence_is_a_human() {
        let d = run(&[(&V, 25), (&S, 100)]).unwrap();
        assert_eq!(d.verdict, Verdict::Human);
    }

    #[test]
    fn undecided_after_the_analysis_time_is_not_sure() {
        // Clicks of 20 ms, 60 ms apart: never a word (100 ms), never a long silence.
        let mut amd = Amd::new(AmdSettings::asterisk());
        let mut d = None;
        for i in 0..300 {
            let frame = if i % 4 == 0 { &V } else { &S };
            d = d.or(amd.frame(&frame[..]));
        }
        let d = d.unwrap();
        assert_eq!(
            (d.verdict, d.cause, d.after_ms),
            (Verdict::NotSure, Cause::TooLong, 5000)
        );
    }

    #[test]
    fn a_beep_is_a_machine_and_speech_is_not_a_beep() {
        let beep: Vec<i16> = (0..8000)
            .map(|i| {
                ((i as f64 * 2.0 * std::f64::consts::PI * 1000.0 / 8000.0).sin() * 8000.0) as i16
            })
            .collect();
        let mut amd = Amd::new(AmdSettings::default());
        let mut d = None;
        for _ in 0..15 {
            d = d.or(amd.frame(&S));
        }
        for f in beep.chunks(160) {
            d = d.or(amd.frame(f));
        }
        let d = d.unwrap();
        assert_eq!(
            (d.verdict, d.cause, d.after_ms),
            (Verdict::Machine, Cause::Beep, 500)
        );
        // A voiced sound: a fundamental and its harmonics is no tone.
        let vowel: Vec<i16> = (0..160)
            .map(|i| {
                let t = i as f64 * 2.0 * std::f64::consts::PI / 8000.0;
                ((120.0 * t).sin() * 3000.0
                    + (240.0 * t).sin() * 2500.0
                    + (360.0 * t).sin() * 2000.0
                    + (720.0 * t).sin() * 1500.0) as i16
            })
            .collect();
        assert_eq!(tone(&vowel), None);
        assert!(tone(&beep[..160]).is_some_and(|f| f.abs_diff(1000) <= 25));
    }

    #[test]
    fn the_threshold_is_a_mean_absolute_value() {
        let mut amd = Amd::new(AmdSettings::default());
        // Mean |x| exactly 256 is voice (strictly below is silence).
        let edge: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 256 } else { -256 })
            .collect();
        amd.frame(&edge);
        assert_eq!(amd.silence_run_ms, 0);
        let below: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 255 } else { -255 })
            .collect();
        amd.frame(&below);
        assert_eq!(amd.silence_run_ms, 20);
    }
}
