//! Whom each SIP call and media leg of the engine reaches. The SIP agent and the media pool
//! carry a call's party as an opaque tag (`u64`); only this file knows how a party is written
//! in one, so the rest of the engine matches on the kind instead of testing bits.

use predial_core::dialer::AttemptId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Party {
    /// The callee of an outbound attempt.
    Callee(AttemptId),
    /// A caller of an inbound call (the core names inbound calls `AttemptId::inbound`).
    Caller(AttemptId),
    /// The operator's phone, rung for an attempt or an inbound call.
    Operator(AttemptId),
}

/// The tag bit of operators' calls: above every attempt and inbound call id.
const OPERATOR: u64 = 1 << 62;

impl Party {
    /// Its tag, as the SIP agent and the media pool carry it.
    pub fn tag(self) -> u64 {
        match self {
            Party::Callee(a) | Party::Caller(a) => a.0,
            Party::Operator(a) => a.0 | OPERATOR,
        }
    }

    /// The party a tag names.
    pub fn of_tag(tag: u64) -> Party {
        if tag & OPERATOR != 0 {
            return Party::Operator(AttemptId(tag & !OPERATOR));
        }
        let a = AttemptId(tag);
        if a.is_inbound() {
            Party::Caller(a)
        } else {
            Party::Callee(a)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_party_comes_back_from_its_tag() {
        for p in [
            Party::Callee(AttemptId(1)),
            Party::Callee(AttemptId(AttemptId::INBOUND - 1)),
            Party::Caller(AttemptId::inbound(7)),
            Party::Operator(AttemptId(42)),
            Party::Operator(AttemptId::inbound(7)),
        ] {
            assert_eq!(Party::of_tag(p.tag()), p, "{p:?}");
        }
        assert_ne!(
            Party::Operator(AttemptId(5)).tag(),
            Party::Callee(AttemptId(5)).tag(),
            "an operator's call and its callee's are told apart"
        );
    }
}
