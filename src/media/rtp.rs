//! RTP packets (RFC 3550) in and out, over `rtp-rs`.
//!
//! What leaves a leg is one continuous stream whatever feeds it (a prompt, then the relayed
//! voice of the other leg, then a prompt again): one SSRC, sequence numbers without gaps and
//! timestamps that keep counting, with the marker bit on the first packet after a switch of
//! source (RFC 3551 §4.1), so the far end's jitter buffer resynchronises instead of dropping.

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

/// The parts of an arriving packet predial uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incoming<'a> {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Reads a datagram as RTP; `None` for anything else (RTCP, STUN, junk).
pub fn parse(datagram: &[u8]) -> Option<Incoming<'_>> {
    let r = RtpReader::new(datagram).ok()?;
    // RTCP shares the port under rtcp-mux: payload types 72-76 (with the marker bit) are its
    // packet types 200-204.
    if (72..=76).contains(&r.payload_type()) {
        return None;
    }
    Some(Incoming {
        payload_type: r.payload_type(),
        marker: r.mark(),
        sequence: u16::from(r.sequence_number()),
        timestamp: r.timestamp(),
        ssrc: r.ssrc(),
        payload: r.payload(),
    })
}

/// The stream a leg sends: its own SSRC, sequence and timestamp.
#[derive(Debug, Clone)]
pub struct OutStream {
    ssrc: u32,
    next_seq: u16,
    next_ts: u32,
    /// The source that fed the last packet, to set the marker bit when it changes.
    source: Option<u32>,
    /// The last timestamp of the current source as it arrived, and where it was mapped to.
    mapping: Option<(u32, u32)>,
}

impl OutStream {
    pub fn new(ssrc: u32, first_seq: u16, first_ts: u32) -> OutStream {
        OutStream {
            ssrc,
            next_seq: first_seq,
            next_ts: first_ts,
            source: None,
            mapping: None,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Builds the next packet of `samples` samples from `source` (a prompt's id, or the SSRC of
    /// the relayed stream) into `buf`; returns its length.
    pub fn next(
        &mut self,
        source: u32,
        payload_type: u8,
        payload: &[u8],
        samples: u32,
        buf: &mut Vec<u8>,
    ) -> usize {
        let marker = self.source != Some(source);
        if marker {
            self.source = Some(source);
            self.mapping = None;
        }
        let ts = self.next_ts;
        self.next_ts = self.next_ts.wrapping_add(samples);
        self.emit(payload_type, marker, ts, payload, buf)
    }

    /// Relays a packet of another stream: its timestamp gaps (silence suppression, a late
    /// packet) are kept, shifted onto this stream's clock; a new source restarts the mapping.
    pub fn relay(&mut self, packet: &Incoming<'_>, payload_type: u8, buf: &mut Vec<u8>) -> usize {
        let source_changed = self.source != Some(packet.ssrc);
        if source_changed {
            self.source = Some(packet.ssrc);
            self.mapping = None;
        }
        let ts = match self.mapping {
            Some((their, ours)) => ours.wrapping_add(packet.timestamp.wrapping_sub(their)),
            None => self.next_ts,
        };
        if self.mapping.is_none() {
            self.mapping = Some((packet.timestamp, ts));
        }
        let samples = packet.payload.len() as u32;
        // Keep the clock moving forward past this packet for whatever comes next.
        let end = ts.wrapping_add(samples);
        if end.wrapping_sub(self.next_ts) < u32::MAX / 2 {
            self.next_ts = end;
        }
        self.emit(
            payload_type,
            source_changed || packet.marker,
            ts,
            packet.payload,
            buf,
        )
    }

    /// A packet with this stream's timestamp as given (telephone-events keep one timestamp for
    /// the whole event).
    pub fn event(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
        buf: &mut Vec<u8>,
    ) -> usize {
        self.emit(payload_type, marker, timestamp, payload, buf)
    }

    /// The timestamp the next packet will carry.
    pub fn now_ts(&self) -> u32 {
        self.next_ts
    }

    /// Moves the clock on by `samples` (time passed with nothing sent).
    pub fn skip(&mut self, samples: u32) {
        self.next_ts = self.next_ts.wrapping_add(samples);
    }

    fn emit(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
        buf: &mut Vec<u8>,
    ) -> usize {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        buf.clear();
        buf.resize(12 + payload.len(), 0);
        let builder = RtpPacketBuilder::new()
            .payload_type(payload_type & 0x7F)
            .marked(marker)
            .sequence(Seq::from(seq))
            .timestamp(timestamp)
            .ssrc(self.ssrc)
            .payload(payload);
        // The buffer is sized for a 12-byte header (no CSRC, no extension) and the payload.
        let n = builder.build_into_unchecked(buf);
        buf.truncate(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_stays_continuous_across_sources() {
        let mut out = OutStream::new(0xABCD, 65_534, 1_000);
        let mut buf = Vec::new();
        // A prompt: two packets.
        out.next(1, 0, &[0xFF; 160], 160, &mut buf);
        let p = parse(&buf).unwrap();
        assert!(p.marker);
        assert_eq!((p.sequence, p.timestamp, p.ssrc), (65_534, 1_000, 0xABCD));
        out.next(1, 0, &[0xFF; 160], 160, &mut buf);
        let p = parse(&buf).unwrap();
        assert!(!p.marker);
        assert_eq!((p.sequence, p.timestamp), (65_535, 1_160));
        // Then the relayed call: another SSRC, timestamps far away.
        let mut theirs = Vec::new();
        let mut src = OutStream::new(0x1234, 7, 9_000_000);
        src.next(5, 0, &[1; 160], 160, &mut theirs);
        let relayed = parse(&theirs).unwrap();
        out.relay(&relayed, 0, &mut buf);
        let p = parse(&buf).unwrap();
        assert!(p.marker, "a new source is marked");
        assert_eq!((p.sequence, p.timestamp, p.ssrc), (0, 1_320, 0xABCD));
        // A gap of one packet in their stream stays a gap in ours.
        src.skip(160);
        src.next(5, 0, &[1; 160], 160, &mut theirs);
        out.relay(&parse(&theirs).unwrap(), 0, &mut buf);
        let p = parse(&buf).unwrap();
        assert!(!p.marker);
        assert_eq!((p.sequence, p.timestamp), (1, 1_640));
    }

    #[test]
    fn junk_and_rtcp_are_not_rtp() {
        assert!(parse(b"").is_none());
        assert!(parse(b"hello").is_none());
        // An RTCP receiver report under rtcp-mux (PT 201 = marker + 73).
        let rr = [0x81, 0xC9, 0x00, 0x07, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(parse(&rr).is_none());
    }
}
