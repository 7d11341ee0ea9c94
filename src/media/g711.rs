//! G.711 (ITU-T): μ-law (PCMU, RTP payload type 0) and A-law (PCMA, 8), 8 kHz. Decoding is a
//! 256-entry table; encoding the standard segment search. No C, no allocation.

/// An audio codec predial speaks on RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Pcmu,
    Pcma,
}

impl Codec {
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    pub fn decode(self, byte: u8) -> i16 {
        match self {
            Codec::Pcmu => ULAW_TO_LINEAR[byte as usize],
            Codec::Pcma => ALAW_TO_LINEAR[byte as usize],
        }
    }

    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => linear_to_ulaw(sample),
            Codec::Pcma => linear_to_alaw(sample),
        }
    }

    /// Decodes a payload into `out` (cleared first).
    pub fn decode_into(self, payload: &[u8], out: &mut Vec<i16>) {
        out.clear();
        out.extend(payload.iter().map(|&b| self.decode(b)));
    }

    /// Encodes samples into `out` (cleared first).
    pub fn encode_into(self, samples: &[i16], out: &mut Vec<u8>) {
        out.clear();
        out.extend(samples.iter().map(|&s| self.encode(s)));
    }

    /// The byte of silence.
    pub fn silence(self) -> u8 {
        self.encode(0)
    }
}

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;

/// μ-law: sign, 3-bit segment, 4-bit mantissa, inverted.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(ULAW_CLIP) + ULAW_BIAS;
    let exponent = (7 - ((s as u32) << 17).leading_zeros().min(7)) as i32;
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 as i32 | mantissa) as u8
}

const fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// A-law: sign, 3-bit segment, 4-bit mantissa, even bits inverted (0x55).
pub fn linear_to_alaw(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (sign, magnitude) = if s >= 0 { (0x80, s) } else { (0x00, -s - 1) };
    let magnitude = magnitude.min(0x7FFF);
    let byte = if magnitude < 256 {
        (magnitude >> 4) as u8
    } else {
        // Segment 1..7: the position of the highest bit above bit 7.
        let segment = (31 - (magnitude as u32).leading_zeros()) as i32 - 7;
        let mantissa = (magnitude >> (segment + 3)) & 0x0F;
        ((segment << 4) | mantissa) as u8
    };
    (byte | sign) ^ 0x55
}

const fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let sign = a & 0x80;
    let segment = ((a >> 4) & 0x07) as i32;
    let mantissa = (a & 0x0F) as i32;
    let magnitude = if segment == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (segment - 1)
    };
    if sign != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn ulaw_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_to_linear(i as u8);
        i += 1;
    }
    t
}

const fn alaw_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_to_linear(i as u8);
        i += 1;
    }
    t
}

static ULAW_TO_LINEAR: [i16; 256] = ulaw_table();
static ALAW_TO_LINEAR: [i16; 256] = alaw_table();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_survives_a_round_trip() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for byte in 0..=255u8 {
                let linear = codec.decode(byte);
                let again = codec.encode(linear);
                // μ-law has two codes for zero (0x7F and 0xFF); both decode to 0.
                assert_eq!(
                    codec.decode(again),
                    linear,
                    "{codec:?} {byte:#04x} -> {linear} -> {again:#04x}"
                );
            }
        }
    }

    #[test]
    fn known_values() {
        // ITU-T G.711: silence codes and full scale.
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(Codec::Pcmu.decode(0x00), -32124);
        assert_eq!(Codec::Pcmu.decode(0x80), 32124);
        assert_eq!(Codec::Pcma.decode(0x55), -8);
        assert_eq!(Codec::Pcma.decode(0xD5), 8);
        assert_eq!(Codec::Pcma.decode(0xAA), 32256);
    }

    #[test]
    fn encoding_error_is_within_the_segment_step() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for s in (-32000i32..32000).step_by(7) {
                let s = s as i16;
                let back = i32::from(codec.decode(codec.encode(s)));
                let err = (back - i32::from(s)).abs();
                // The step doubles per segment: at most 1/16 of the magnitude, plus a little.
                let bound = (i32::from(s).abs() / 16).max(16) + 8;
                assert!(
                    err <= bound,
                    "{codec:?} {s} -> {back} (err {err} > {bound})"
                );
            }
        }
    }
}
