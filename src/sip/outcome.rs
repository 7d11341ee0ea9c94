//! How a call attempt ended, in SIP terms, and what that means for the lead (the core's
//! `Outcome`) and for the trunk (did the trunk fail, or did the callee say no?).

use predial_core::dialer::Outcome;

/// How a call that was not answered ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A final SIP response from the far end (or the trunk).
    Status(u16),
    /// We cancelled it: it rang out (our ring timeout).
    RingTimeout,
    /// No response at all (transaction timeout) or the transport failed.
    NoResponse,
    /// It could not even be sent (no route, bad address, local error).
    LocalFailure,
}

/// What an ending means for the trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkVerdict {
    /// The trunk carried the call; the answer is the callee's.
    Fine,
    /// The trunk is in trouble (overloaded, refusing us, not answering): try another.
    Failing,
}

/// Maps an unanswered call's ending to the lead's outcome and the trunk's health.
///
/// - 486 Busy Here, 600 Busy Everywhere: busy.
/// - our ring timeout, 480 Temporarily Unavailable, 408 after ringing, 487 (cancelled): no answer.
/// - 404, 484, 604: the number does not exist.
/// - 603 Decline: rejected.
/// - 503 and other 5xx: congestion on the way (unreachable); a 503 before any ringing means the
///   trunk is overloaded or down.
/// - 401/407 left after our credentials, 403: the trunk refuses us (trunk failure).
/// - no response at all, a transport or local error: trunk failure.
pub fn classify(ending: Ending, rang: bool) -> (Outcome, TrunkVerdict) {
    use Outcome::*;
    use TrunkVerdict::*;
    match ending {
        Ending::RingTimeout => (NoAnswer, Fine),
        Ending::NoResponse if rang => (NoAnswer, Fine),
        Ending::NoResponse | Ending::LocalFailure => (TrunkFailure, Failing),
        Ending::Status(code) => match code {
            486 | 600 => (Busy, Fine),
            480 | 487 => (NoAnswer, Fine),
            408 if rang => (NoAnswer, Fine),
            408 => (TrunkFailure, Failing),
            404 | 484 | 604 => (InvalidNumber, Fine),
            603 => (Rejected, Fine),
            401 | 403 | 407 => (TrunkFailure, Failing),
            503 if !rang => (Unreachable, Failing),
            500..=599 => (Unreachable, Fine),
            // Other 4xx (bad request, unsupported media...) and anything else: the call could
            // not reach the callee; retried like congestion.
            _ => (Unreachable, Fine),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_endings_map_to_outcomes() {
        assert_eq!(classify(Ending::Status(486), true).0, Outcome::Busy);
        assert_eq!(classify(Ending::Status(600), false).0, Outcome::Busy);
        assert_eq!(classify(Ending::RingTimeout, true).0, Outcome::NoAnswer);
        assert_eq!(classify(Ending::Status(480), true).0, Outcome::NoAnswer);
        assert_eq!(
            classify(Ending::Status(404), false).0,
            Outcome::InvalidNumber
        );
        assert_eq!(
            classify(Ending::Status(484), false).0,
            Outcome::InvalidNumber
        );
        assert_eq!(classify(Ending::Status(603), true).0, Outcome::Rejected);
        assert_eq!(
            classify(Ending::Status(503), false),
            (Outcome::Unreachable, TrunkVerdict::Failing)
        );
        assert_eq!(
            classify(Ending::Status(503), true),
            (Outcome::Unreachable, TrunkVerdict::Fine)
        );
        assert_eq!(
            classify(Ending::Status(407), false),
            (Outcome::TrunkFailure, TrunkVerdict::Failing)
        );
        assert_eq!(
            classify(Ending::NoResponse, false),
            (Outcome::TrunkFailure, TrunkVerdict::Failing)
        );
        assert_eq!(classify(Ending::Status(408), true).0, Outcome::NoAnswer);
    }
}
