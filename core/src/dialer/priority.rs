//! Priority classes: the order in which due leads of one campaign are dialled (seed 001).
//! Class 0 is dialled first; within a class, the lead due longest goes first.

use super::policy::PriorityVariant;

/// Classes of variant 1.
pub const NEW: u8 = 0;
pub const ONE_ATTEMPT: u8 = 1;
pub const CALLBACK: u8 = 2;
pub const REDIAL: u8 = 3;

/// Variant 2 has one class per number of attempts made (0 = new), up to 10.
const VARIANT_TWO_CLASSES: usize = 11;

pub fn class_count(variant: PriorityVariant) -> usize {
    match variant {
        PriorityVariant::One => 4,
        PriorityVariant::Two => VARIANT_TWO_CLASSES,
    }
}

/// The class of a due lead that has had `attempts` attempts; `callback` when a callback was
/// agreed in a conversation and has not been completed yet.
pub fn class_of(variant: PriorityVariant, attempts: u8, callback: bool) -> u8 {
    match variant {
        PriorityVariant::One => {
            if attempts == 0 {
                NEW
            } else if callback {
                CALLBACK
            } else if attempts == 1 {
                ONE_ATTEMPT
            } else {
                REDIAL
            }
        }
        PriorityVariant::Two => attempts.min(VARIANT_TWO_CLASSES as u8 - 1),
    }
}

/// A class's name for reports and events.
pub fn class_name(variant: PriorityVariant, class: u8) -> String {
    match (variant, class) {
        (_, 0) => "new".into(),
        (PriorityVariant::One, ONE_ATTEMPT) => "one_attempt".into(),
        (PriorityVariant::One, CALLBACK) => "callback".into(),
        (PriorityVariant::One, _) => "redial".into(),
        (PriorityVariant::Two, n) => format!("attempts_{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_one_follows_seed_001() {
        let v = PriorityVariant::One;
        assert_eq!(class_of(v, 0, false), NEW);
        assert_eq!(class_of(v, 1, false), ONE_ATTEMPT);
        assert_eq!(class_of(v, 1, true), CALLBACK);
        assert_eq!(class_of(v, 4, true), CALLBACK);
        assert_eq!(class_of(v, 2, false), REDIAL);
        assert_eq!(class_of(v, 9, false), REDIAL);
        assert_eq!(class_name(v, CALLBACK), "callback");
    }

    #[test]
    fn variant_two_is_fewest_attempts_first() {
        let v = PriorityVariant::Two;
        for n in 0..=10 {
            assert_eq!(class_of(v, n, n % 2 == 0), n);
            assert!(usize::from(n) < class_count(v));
        }
        assert_eq!(class_name(v, 3), "attempts_3");
    }
}
