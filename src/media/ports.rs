//! RTP ports: a configured range of even ports (RTP on the even one, RTCP on the odd one after
//! it, RFC 3550 §11), handed out oldest-released first, and not handed out again for a grace
//! period after release, so a late packet of an old call never lands in a new one.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PortsError {
    #[error(
        "the RTP port range {0}-{1} is empty or odd-sized: give an even first port and at least 2 ports"
    )]
    BadRange(u16, u16),
    #[error("every RTP port of {0}-{1} is in use (or in its grace period): widen the range")]
    Exhausted(u16, u16),
}

/// The range, and which ports are free since when.
#[derive(Debug)]
pub struct RtpPorts {
    first: u16,
    last: u16,
    grace: Duration,
    /// Free even ports with the instant they became usable, oldest first.
    free: VecDeque<(u16, Instant)>,
}

impl RtpPorts {
    /// Even ports from `first` to `last` (inclusive).
    pub fn new(
        first: u16,
        last: u16,
        grace: Duration,
        now: Instant,
    ) -> Result<RtpPorts, PortsError> {
        if !first.is_multiple_of(2) || last <= first {
            return Err(PortsError::BadRange(first, last));
        }
        let free = (first..=last).step_by(2).map(|p| (p, now)).collect();
        Ok(RtpPorts {
            first,
            last,
            grace,
            free,
        })
    }

    /// How many ports are free (in grace or not).
    pub fn free(&self) -> usize {
        self.free.len()
    }

    /// An even port out of grace, with a UDP socket bound to it on `ip`. Ports some other
    /// program holds are skipped (and put back at the end of the line).
    pub fn bind(&mut self, ip: IpAddr, now: Instant) -> Result<(u16, UdpSocket), PortsError> {
        let mut tries = self.free.len();
        while tries > 0 {
            tries -= 1;
            let Some(&(port, usable)) = self.free.front() else {
                break;
            };
            if usable > now {
                break;
            }
            self.free.pop_front();
            match UdpSocket::bind(SocketAddr::new(ip, port)) {
                Ok(socket) => return Ok((port, socket)),
                Err(_) => self.free.push_back((port, now + self.grace)),
            }
        }
        Err(PortsError::Exhausted(self.first, self.last))
    }

    /// A port back in the pool, usable again after the grace period.
    pub fn release(&mut self, port: u16, now: Instant) {
        if (self.first..=self.last).contains(&port) && port.is_multiple_of(2) {
            self.free.push_back((port, now + self.grace));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_even_and_rest_after_release() {
        let now = Instant::now();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        // A range nobody else uses on a test machine is not guaranteed: take a free one.
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        let base = probe.local_addr().unwrap().port() & !1;
        drop(probe);
        let mut ports = RtpPorts::new(base, base + 3, Duration::from_secs(10), now).unwrap();
        assert_eq!(ports.free(), 2);
        let (a, sa) = ports.bind(ip, now).unwrap();
        let (b, _sb) = ports.bind(ip, now).unwrap();
        assert!(a % 2 == 0 && b % 2 == 0 && a != b);
        assert!(matches!(
            ports.bind(ip, now),
            Err(PortsError::Exhausted(..))
        ));
        drop(sa);
        ports.release(a, now);
        assert!(ports.bind(ip, now).is_err(), "still in its grace period");
        let later = now + Duration::from_secs(11);
        assert_eq!(ports.bind(ip, later).unwrap().0, a);
    }

    #[test]
    fn bad_ranges_are_refused() {
        let now = Instant::now();
        assert!(RtpPorts::new(10001, 10010, Duration::ZERO, now).is_err());
        assert!(RtpPorts::new(10000, 10000, Duration::ZERO, now).is_err());
    }
}
