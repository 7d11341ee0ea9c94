//! DTMF as RTP telephone-events (RFC 4733): reading the digits a caller presses, and sending
//! digits. An event is repeated while the key is held and its end is sent three times; a digit
//! is reported once, when its end first arrives (or when the next event starts without an end
//! having been seen).

/// The digit of an event code: 0-9, *, #, A-D.
pub fn digit(code: u8) -> Option<char> {
    match code {
        0..=9 => Some((b'0' + code) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + code - 12) as char),
        _ => None,
    }
}

/// The event code of a digit.
pub fn code(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// One telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub code: u8,
    pub end: bool,
    pub volume: u8,
    /// In timestamp units (samples at 8 kHz).
    pub duration: u16,
}

impl Event {
    pub fn parse(payload: &[u8]) -> Option<Event> {
        if payload.len() < 4 {
            return None;
        }
        Some(Event {
            code: payload[0],
            end: payload[1] & 0x80 != 0,
            volume: payload[1] & 0x3F,
            duration: u16::from_be_bytes([payload[2], payload[3]]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.code,
            (if self.end { 0x80 } else { 0 }) | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }
}

/// A digit heard, and how long the key was held (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digit {
    pub digit: char,
    pub duration_ms: u32,
}

fn report(code: u8, duration: u16) -> Option<Digit> {
    digit(code).map(|d| Digit {
        digit: d,
        duration_ms: u32::from(duration) / 8,
    })
}

/// Turns telephone-event packets into digits, each once.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    /// The event in progress: its RTP timestamp, code, longest duration seen, and whether it
    /// was reported.
    current: Option<(u32, u8, u16, bool)>,
    /// Timestamps of the last events left behind: a late repeat of one is ignored.
    past: [Option<u32>; 4],
}

impl DtmfReceiver {
    /// A packet of the telephone-event payload type, with its RTP timestamp.
    pub fn packet(&mut self, timestamp: u32, payload: &[u8]) -> Option<Digit> {
        let e = Event::parse(payload)?;
        if self.past.contains(&Some(timestamp)) {
            return None;
        }
        let mut out = None;
        match self.current {
            Some((ts, code, duration, reported)) if ts == timestamp => {
                let duration = duration.max(e.duration);
                if e.end && !reported {
                    out = report(code, duration);
                }
                self.current = Some((ts, code, duration, reported || e.end));
            }
            previous => {
                if let Some((ts, ..)) = previous {
                    self.past.rotate_right(1);
                    self.past[0] = Some(ts);
                }
                // A new event: an earlier one whose end was lost is reported now.
                if let Some((_, code, duration, false)) = previous {
                    out = report(code, duration);
                }
                self.current = Some((timestamp, e.code, e.duration, false));
                // It ends in its first packet (a short press, or the rest was lost): report it,
                // unless the older one took this turn; then its next end repeat (or `flush`)
                // will.
                if e.end && out.is_none() {
                    out = report(e.code, e.duration);
                    self.current = Some((timestamp, e.code, e.duration, true));
                }
            }
        }
        out
    }

    /// The event in progress, if its end never came (called when the stream goes quiet).
    pub fn flush(&mut self) -> Option<Digit> {
        match self.current.take() {
            Some((_, code, duration, false)) => report(code, duration),
            _ => None,
        }
    }
}

/// The payloads that send `digit` for `duration_ms`: one every 20 ms with the duration so far
/// (the first marked), then the end three times. All share one RTP timestamp.
pub fn packets(digit: char, duration_ms: u32, volume: u8) -> Option<Vec<(bool, [u8; 4])>> {
    let code = code(digit)?;
    let total = (duration_ms.clamp(40, 2_000) * 8) as u16;
    let mut out = Vec::new();
    let mut d = 160u16;
    while d < total {
        out.push((
            out.is_empty(),
            Event {
                code,
                end: false,
                volume,
                duration: d,
            }
            .to_bytes(),
        ));
        d += 160;
    }
    for _ in 0..3 {
        out.push((
            out.is_empty(),
            Event {
                code,
                end: true,
                volume,
                duration: total,
            }
            .to_bytes(),
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digit_is_reported_once() {
        let mut rx = DtmfReceiver::default();
        let sent = packets('5', 100, 10).unwrap();
        assert!(sent[0].0, "the first packet is marked");
        let heard: Vec<Digit> = sent
            .iter()
            .filter_map(|(_, p)| rx.packet(8_000, p))
            .collect();
        assert_eq!(
            heard,
            [Digit {
                digit: '5',
                duration_ms: 100
            }]
        );
        // The next press, same digit, new timestamp.
        let again: Vec<Digit> = sent
            .iter()
            .filter_map(|(_, p)| rx.packet(9_600, p))
            .collect();
        assert_eq!(again.len(), 1);
        // A late repeat of the first press's end changes nothing.
        assert_eq!(rx.packet(8_000, &sent.last().unwrap().1), None);
        assert_eq!(rx.flush(), None);
    }

    #[test]
    fn a_lost_end_is_made_up_for() {
        let mut rx = DtmfReceiver::default();
        let sent = packets('#', 200, 10).unwrap();
        let without_end: Vec<_> = sent.iter().filter(|(_, p)| p[1] & 0x80 == 0).collect();
        for (_, p) in &without_end {
            assert_eq!(rx.packet(100, p), None);
        }
        // The next digit starts: the '#' is reported then.
        let next = packets('1', 100, 10).unwrap();
        assert_eq!(rx.packet(5_000, &next[0].1).map(|d| d.digit), Some('#'));
        let rest: Vec<char> = next[1..]
            .iter()
            .filter_map(|(_, p)| rx.packet(5_000, p))
            .map(|d| d.digit)
            .collect();
        assert_eq!(rest, ['1']);
    }

    #[test]
    fn codes_and_digits() {
        for d in "0123456789*#ABCD".chars() {
            assert_eq!(digit(code(d).unwrap()), Some(d));
        }
        assert_eq!(code('x'), None);
        assert_eq!(Event::parse(&[1, 2]), None);
    }
}
