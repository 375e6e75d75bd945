//! `CLIENT PAUSE`: while a pause lasts, the dataset stays as it is. Writes (or, under `ALL`,
//! all commands) wait; keys whose time has come read as missing but are not deleted, and
//! neither active expiry nor eviction deletes anything, as in Redis 7.0.

/// What a pause holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseKind {
    /// Commands that may write or replicate (`CLIENT PAUSE … WRITE`).
    Write,
    /// Every command (`CLIENT PAUSE …` or `… ALL`).
    All,
}

/// A pause in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub kind: PauseKind,
    /// Unix milliseconds; the pause lasts while the clock is at or before it.
    pub end: i64,
}

impl Pause {
    /// A further `CLIENT PAUSE` while this one lasts: the stricter kind and the later end win.
    pub fn extend(self, kind: PauseKind, end: i64) -> Pause {
        Pause {
            kind: self.kind.max(kind),
            end: self.end.max(end),
        }
    }

    /// Whether the pause is over at `now`.
    pub fn is_over(&self, now: i64) -> bool {
        self.end < now
    }

    /// Whether a command waits: any under `ALL`; under `WRITE`, those that may write or
    /// replicate.
    pub fn holds(&self, may_write: bool) -> bool {
        self.kind == PauseKind::All || may_write
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stricter_kind_and_the_later_end_win() {
        let p = Pause {
            kind: PauseKind::Write,
            end: 100,
        };
        assert_eq!(
            p.extend(PauseKind::All, 50),
            Pause {
                kind: PauseKind::All,
                end: 100
            }
        );
        assert_eq!(p.extend(PauseKind::Write, 200).end, 200);
        assert!(!p.is_over(100) && p.is_over(101));
        assert!(p.holds(true) && !p.holds(false));
    }
}
