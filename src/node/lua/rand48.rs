//! The deterministic random generator behind a script's `math.random`.
//!
//! Redis replaces Lua's `math.random` with its own 48-bit linear congruential generator (the
//! `lrand48` recurrence). Redis 7.0 no longer reseeds it before each script (scripts replicate
//! their effects): one sequence runs through the process's life from `lrand48`'s initial
//! state, and `math.randomseed` reseeds it. We keep the same recurrence and state so the
//! numbers match.

/// The `lrand48` state: 48 bits.
#[derive(Debug, Clone, Copy)]
pub struct Rand48 {
    x: u64,
}

const MASK: u64 = (1 << 48) - 1;
const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
/// Redis divides by `INT32_MAX` (`REDIS_LRAND48_MAX`).
const MAX: u64 = i32::MAX as u64;

impl Default for Rand48 {
    /// `lrand48`'s state before any seeding: `0x1234ABCD330E`.
    fn default() -> Rand48 {
        Rand48 {
            x: 0x1234_ABCD_330E,
        }
    }
}

impl Rand48 {
    /// `srand48(seed)`: the seed's low 32 bits above the fixed `0x330E`.
    pub fn seeded(seed: i32) -> Rand48 {
        Rand48 {
            x: ((u64::from(seed as u32) << 16) | 0x330E) & MASK,
        }
    }

    /// The next 31-bit value (`lrand48`).
    pub fn next_u31(&mut self) -> u64 {
        self.x = (A.wrapping_mul(self.x).wrapping_add(C)) & MASK;
        self.x >> 17
    }

    /// A number in [0, 1), as Redis's `math.random` computes it.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u31() % MAX) as f64 / MAX as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_first_draws() {
        // A fresh redis-server 7.0: EVAL "return {math.random(), math.random(100),
        // math.random(5,10)}" answers 0, 85, 7.
        let mut r = Rand48::default();
        assert!(r.next_unit() < 1.0);
        assert_eq!((r.next_unit() * 100.0).floor() as i64 + 1, 85);
        assert_eq!((r.next_unit() * 6.0).floor() as i64 + 5, 7);
    }
}
