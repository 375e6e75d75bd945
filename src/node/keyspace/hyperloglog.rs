//! HyperLogLog as Redis 7.0 stores it: a plain string value, so that an HLL written by
//! redis-server counts the same here and ours is byte for byte what redis-server writes.
//!
//! The layout, all of it Redis's:
//!
//! ```text
//! "HYLL" | encoding (0 dense, 1 sparse) | 3 unused bytes | cached cardinality (u64 LE) | data
//! ```
//!
//! The cardinality cache is valid while the top bit of its last byte is clear; any change to
//! the registers sets that bit, and `PFCOUNT` on one key recomputes and stores it (a read that
//! writes).
//!
//! - *Dense* data is 16384 six-bit registers packed from the least significant bit of each
//!   byte (12288 bytes).
//! - *Sparse* data is a run-length code of the same registers: `ZERO` (`00xxxxxx`, 1–64 zero
//!   registers), `XZERO` (`01xxxxxx yyyyyyyy`, 1–16384 zero registers) and `VAL`
//!   (`1vvvvvxx`, 1–4 registers of value 1–32). A new HLL is sparse; it turns dense when a
//!   register needs a value above 32 or when the string would outgrow `hll-sparse-max-bytes`.
//!
//! Sparse updates split and merge opcodes exactly as Redis's `hllSparseSet` does, because the
//! bytes are visible (`GET`, `DUMP`, replication) and must match. Corrupt data (which any client
//! can `SET`) is read defensively: past the end reads as zero, as the string's terminator does
//! in Redis, and nothing indexes outside the buffer.

use thiserror::Error;

/// Registers per HLL (2^14).
pub const REGISTERS: usize = 1 << P;
/// Bytes before the registers.
pub const HEADER_LEN: usize = 16;
/// Length of a dense HLL: the header and 16384 six-bit registers.
pub const DENSE_LEN: usize = HEADER_LEN + (REGISTERS * BITS).div_ceil(8);

/// Bits of the hash that pick the register.
const P: u32 = 14;
/// Bits of the hash left to count zeros in.
const Q: usize = 64 - P as usize;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// Redis's seed for hashing elements.
const SEED: u64 = 0xadc8_3b19;
/// 0.5 / ln(2): the estimator's constant for m → ∞.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const ENCODING_DENSE: u8 = 0;
const ENCODING_SPARSE: u8 = 1;
const CACHE_INVALID: u8 = 0x80;

const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;

/// Why a string cannot be used as an HLL; the texts are Redis's replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HllError {
    /// The string is not an HLL at all (too short, wrong magic, unknown encoding, a dense HLL
    /// of the wrong length).
    #[error("WRONGTYPE Key is not a valid HyperLogLog string value.")]
    NotHll,
    /// The header is right but the sparse data does not describe exactly 16384 registers.
    #[error("INVALIDOBJ Corrupted HLL object detected")]
    Corrupt,
}

/// The two stored representations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

impl Encoding {
    /// As `PFDEBUG ENCODING` names it.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }
    }
}

/// Redis's `isHLLObjectOrReply` test on a string's bytes.
pub fn check(hll: &[u8]) -> Result<Encoding, HllError> {
    if hll.len() < HEADER_LEN || &hll[..4] != b"HYLL" {
        return Err(HllError::NotHll);
    }
    match hll[4] {
        ENCODING_DENSE if hll.len() == DENSE_LEN => Ok(Encoding::Dense),
        ENCODING_SPARSE => Ok(Encoding::Sparse),
        _ => Err(HllError::NotHll),
    }
}

/// An empty HLL, sparse: the header and one `XZERO` covering every register.
pub fn new_sparse() -> Vec<u8> {
    let mut hll = Vec::with_capacity(HEADER_LEN + 2);
    hll.extend_from_slice(b"HYLL");
    hll.push(ENCODING_SPARSE);
    hll.extend_from_slice(&[0; 11]);
    for _ in 0..REGISTERS.div_ceil(SPARSE_XZERO_MAX_LEN) {
        hll.extend_from_slice(&xzero(SPARSE_XZERO_MAX_LEN.min(REGISTERS)));
    }
    hll
}

/// The encoding of a checked HLL.
fn encoding(hll: &[u8]) -> Encoding {
    if hll[4] == ENCODING_DENSE {
        Encoding::Dense
    } else {
        Encoding::Sparse
    }
}

/// The cached cardinality, if it is still valid.
pub fn cached_count(hll: &[u8]) -> Option<u64> {
    let card: [u8; 8] = hll[8..16].try_into().ok()?;
    (card[7] & CACHE_INVALID == 0).then(|| u64::from_le_bytes(card))
}

/// Stores `count` as the valid cached cardinality.
pub fn set_cached_count(hll: &mut [u8], count: u64) {
    hll[8..16].copy_from_slice(&count.to_le_bytes());
}

/// Marks the cached cardinality stale.
pub fn invalidate_cache(hll: &mut [u8]) {
    hll[15] |= CACHE_INVALID;
}

// ---------------------------------------------------------------------------------------------
// Hashing

/// MurmurHash2, 64-bit (`MurmurHash64A`), reading words little-endian as Redis does on every
/// architecture.
pub fn murmur_hash64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    // Redis passes the length as a C `int`; element lengths are far below 2^31.
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut k = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register `element` falls in and the length of its hash's `0…01` run (1 to 51): Redis's
/// `hllPatLen`.
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur_hash64a(element, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // The bit above the Q used bits ends the run at Q + 1 at most.
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------------------------
// Dense registers

/// Register `index` of packed six-bit registers; bits past the buffer read as zero.
fn dense_get(registers: &[u8], index: usize) -> u8 {
    let byte = index * BITS / 8;
    let shift = (index * BITS) & 7;
    let b0 = u32::from(registers[byte]);
    let b1 = u32::from(registers.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> shift) | (b1 << (8 - shift))) & u32::from(REGISTER_MAX)) as u8
}

/// Sets register `index` of packed six-bit registers to `value` (at most 63).
fn dense_put(registers: &mut [u8], index: usize, value: u8) {
    let byte = index * BITS / 8;
    let shift = (index * BITS) & 7;
    let v = u32::from(value);
    let max = u32::from(REGISTER_MAX);
    registers[byte] &= !(max << shift) as u8;
    registers[byte] |= (v << shift) as u8;
    // The last register fits in its byte: nothing spills past the buffer.
    if let Some(next) = registers.get_mut(byte + 1) {
        *next &= !(max >> (8 - shift)) as u8;
        *next |= (v >> (8 - shift)) as u8;
    }
}

/// Raises a dense register to `count`; whether it changed.
fn dense_raise(registers: &mut [u8], index: usize, count: u8) -> bool {
    if count > dense_get(registers, index) {
        dense_put(registers, index, count);
        true
    } else {
        false
    }
}

// ---------------------------------------------------------------------------------------------
// Sparse opcodes

/// One decoded sparse opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `ZERO` or `XZERO`: `len` zero registers, in `width` bytes.
    Zeros { len: usize, width: usize },
    /// `VAL`: `len` registers of `value`.
    Val { value: u8, len: usize },
}

impl Op {
    fn len(self) -> usize {
        match self {
            Op::Zeros { len, .. } | Op::Val { len, .. } => len,
        }
    }

    fn width(self) -> usize {
        match self {
            Op::Zeros { width, .. } => width,
            Op::Val { .. } => 1,
        }
    }
}

/// The opcode at `at` (which is inside `data`); an `XZERO` cut short by the end reads its
/// missing byte as zero.
fn op_at(data: &[u8], at: usize) -> Op {
    let b = data[at];
    if b & 0x80 != 0 {
        Op::Val {
            value: ((b >> 2) & 0x1f) + 1,
            len: usize::from(b & 0x3) + 1,
        }
    } else if b & 0x40 != 0 {
        let low = data.get(at + 1).copied().unwrap_or(0);
        Op::Zeros {
            len: (usize::from(b & 0x3f) << 8 | usize::from(low)) + 1,
            width: 2,
        }
    } else {
        Op::Zeros {
            len: usize::from(b & 0x3f) + 1,
            width: 1,
        }
    }
}

fn val(value: u8, len: usize) -> u8 {
    0x80 | (value - 1) << 2 | (len - 1) as u8
}

fn xzero(len: usize) -> [u8; 2] {
    let l = len - 1;
    [0x40 | (l >> 8) as u8, (l & 0xff) as u8]
}

/// `ZERO` or `XZERO` for `len` zero registers, appended to `seq`.
fn push_zeros(seq: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        seq.extend_from_slice(&xzero(len));
    } else {
        seq.push((len - 1) as u8);
    }
}

/// Walks the sparse opcodes after the header.
fn sparse_ops(hll: &[u8]) -> impl Iterator<Item = Op> + '_ {
    let mut at = HEADER_LEN;
    std::iter::from_fn(move || {
        if at >= hll.len() {
            return None;
        }
        let op = op_at(hll, at);
        at += op.width();
        Some(op)
    })
}

// ---------------------------------------------------------------------------------------------
// Updates

/// Adds `element` (Redis's `hllAdd`); whether a register changed. A sparse HLL may turn
/// dense, keeping its cache bytes.
pub fn add(hll: &mut Vec<u8>, element: &[u8], sparse_max_bytes: usize) -> Result<bool, HllError> {
    let (index, count) = pattern(element);
    raise(hll, index, count, sparse_max_bytes)
}

/// Raises register `index` to `count` if it is lower, in either encoding; whether it changed.
pub fn raise(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max_bytes: usize,
) -> Result<bool, HllError> {
    match encoding(hll) {
        Encoding::Dense => Ok(dense_raise(&mut hll[HEADER_LEN..], index, count)),
        Encoding::Sparse => sparse_raise(hll, index, count, sparse_max_bytes),
    }
}

/// Redis's `hllSparseSet`: finds the opcode covering `index`, splits it around the register,
/// then merges equal neighbouring `VAL`s; turns dense when `count` does not fit a `VAL` or the
/// string would grow past `sparse_max_bytes`.
fn sparse_raise(
    hll: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max_bytes: usize,
) -> Result<bool, HllError> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    // Step 1: the opcode covering `index`, the one before it, and its first register.
    let mut at = HEADER_LEN;
    let mut prev = None;
    let mut first = 0usize;
    let op = loop {
        if at >= hll.len() {
            return Err(HllError::Corrupt);
        }
        let op = op_at(hll, at);
        if index < first + op.len() {
            break op;
        }
        prev = Some(at);
        at += op.width();
        first += op.len();
    };
    let has_next = at + op.width() < hll.len();

    // Step 2: the trivial updates in place, or the split sequence.
    let trivial = match op {
        Op::Val { value, .. } if value >= count => return Ok(false),
        Op::Val { len: 1, .. } | Op::Zeros { len: 1, width: 1 } => true,
        _ => false,
    };
    if trivial {
        hll[at] = val(count, 1);
    } else {
        let last = first + op.len() - 1;
        let mut seq = Vec::with_capacity(5);
        match op {
            Op::Zeros { .. } => {
                if index != first {
                    push_zeros(&mut seq, index - first);
                }
                seq.push(val(count, 1));
                if index != last {
                    push_zeros(&mut seq, last - index);
                }
            }
            Op::Val { value, .. } => {
                if index != first {
                    seq.push(val(value, index - first));
                }
                seq.push(val(count, 1));
                if index != last {
                    seq.push(val(value, last - index));
                }
            }
        }
        // Step 3: the sequence replaces the opcode.
        let old_width = op.width();
        if seq.len() > old_width && hll.len() + seq.len() - old_width > sparse_max_bytes {
            return promote(hll, index, count);
        }
        let new_len = hll.len() + seq.len() - old_width;
        if has_next {
            hll.splice(at..at + old_width, seq);
        } else {
            // The opcode ends the string (an `XZERO` may even be cut short): Redis writes the
            // sequence at its place and sets the length, dropping what lands past it.
            hll.truncate(at);
            hll.extend_from_slice(&seq);
            hll.truncate(new_len);
        }
    }

    // Step 4: merge adjacent equal `VAL`s, scanning at most five opcodes from the previous one.
    let mut p = prev.unwrap_or(HEADER_LEN);
    let mut scan = 5;
    while p < hll.len() && scan > 0 {
        scan -= 1;
        match op_at(hll, p) {
            Op::Zeros { width, .. } => p += width,
            Op::Val { value, len } => {
                if p + 1 < hll.len() {
                    if let Op::Val {
                        value: next_value,
                        len: next_len,
                    } = op_at(hll, p + 1)
                    {
                        if next_value == value && len + next_len <= SPARSE_VAL_MAX_LEN {
                            hll[p + 1] = val(value, len + next_len);
                            hll.remove(p);
                            // Again from here: the merged run may merge with the next.
                            continue;
                        }
                    }
                }
                p += 1;
            }
        }
    }
    invalidate_cache(hll);
    Ok(true)
}

/// Turns the HLL dense, then raises the register (which always changes it).
fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, HllError> {
    to_dense(hll)?;
    dense_raise(&mut hll[HEADER_LEN..], index, count);
    Ok(true)
}

/// Converts a sparse HLL to dense (Redis's `hllSparseToDense`), keeping the whole header but
/// the encoding byte; whether it converted (false: already dense). Fails, changing nothing,
/// when the opcodes do not cover exactly 16384 registers.
pub fn to_dense(hll: &mut Vec<u8>) -> Result<bool, HllError> {
    if encoding(hll) == Encoding::Dense {
        return Ok(false);
    }
    if !sparse_is_whole(hll) {
        return Err(HllError::Corrupt);
    }
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER_LEN].copy_from_slice(&hll[..HEADER_LEN]);
    dense[4] = ENCODING_DENSE;
    let registers = &mut dense[HEADER_LEN..];
    let mut idx = 0usize;
    for op in sparse_ops(hll) {
        if let Op::Val { value, len } = op {
            for i in idx..idx + len {
                dense_put(registers, i, value);
            }
        }
        idx += op.len();
    }
    *hll = dense;
    Ok(true)
}

/// Raises each of `max` to the HLL's register (Redis's `hllMerge`); a sparse HLL that does not
/// cover exactly 16384 registers is corrupt, and merges nothing.
pub fn merge_into(max: &mut [u8; REGISTERS], hll: &[u8]) -> Result<(), HllError> {
    match encoding(hll) {
        Encoding::Dense => {
            let registers = &hll[HEADER_LEN..];
            for (i, m) in max.iter_mut().enumerate() {
                *m = (*m).max(dense_get(registers, i));
            }
            Ok(())
        }
        Encoding::Sparse => {
            if !sparse_is_whole(hll) {
                return Err(HllError::Corrupt);
            }
            let mut idx = 0usize;
            for op in sparse_ops(hll) {
                if let Op::Val { value, len } = op {
                    for m in &mut max[idx..idx + len] {
                        *m = (*m).max(value);
                    }
                }
                idx += op.len();
            }
            Ok(())
        }
    }
}

/// Whether the sparse opcodes cover exactly the 16384 registers. Redis 7.0.15 as Debian ships
/// it (with the CVE-2025-32023 fix) refuses any overrun, even one that only the last opcode
/// makes, before converting or merging.
fn sparse_is_whole(hll: &[u8]) -> bool {
    let mut covered = 0usize;
    for op in sparse_ops(hll) {
        covered += op.len();
        if covered > REGISTERS {
            return false;
        }
    }
    covered == REGISTERS
}

// ---------------------------------------------------------------------------------------------
// Counting

/// How many registers hold each value (0 to 63).
type Histogram = [u64; 64];

/// The estimated cardinality of a checked HLL (not its cache); a sparse HLL that does not cover
/// exactly 16384 registers is corrupt.
pub fn count(hll: &[u8]) -> Result<u64, HllError> {
    let mut histogram: Histogram = [0; 64];
    match encoding(hll) {
        Encoding::Dense => {
            let registers = &hll[HEADER_LEN..];
            for i in 0..REGISTERS {
                histogram[usize::from(dense_get(registers, i))] += 1;
            }
        }
        Encoding::Sparse => {
            let mut idx = 0usize;
            for op in sparse_ops(hll) {
                let value = match op {
                    Op::Zeros { .. } => 0,
                    Op::Val { value, .. } => usize::from(value),
                };
                histogram[value] += op.len() as u64;
                idx += op.len();
            }
            if idx != REGISTERS {
                return Err(HllError::Corrupt);
            }
        }
    }
    Ok(estimate(&histogram))
}

/// The estimated cardinality of registers kept one per byte (the union `PFCOUNT` builds).
pub fn count_registers(registers: &[u8; REGISTERS]) -> u64 {
    let mut histogram: Histogram = [0; 64];
    for &r in registers {
        histogram[usize::from(r & REGISTER_MAX)] += 1;
    }
    estimate(&histogram)
}

/// Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog
/// sketches", arXiv:1702.01284), in the order of operations Redis 7.0's `hllCount` uses, so
/// the rounding is the same.
fn estimate(histogram: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histogram[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histogram[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histogram[0] as f64 / m);
    // `llroundl`: halves away from zero; beyond a long long (z is 0 when every register is at
    // its maximum) x86 answers LLONG_MIN, which Redis then reads back as 2^63.
    let e = (ALPHA_INF * m * m / z).round();
    if e < 9_223_372_036_854_775_808.0 {
        e as u64
    } else {
        1 << 63
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if previous == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        // Redis writes `pow(1 - x, 2)`, which compilers turn into this exact product.
        z -= (1.0 - x) * (1.0 - x) * y;
        if previous == z {
            return z / 3.0;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Debugging

/// Every register of a dense HLL (`PFDEBUG GETREG`).
pub fn dense_registers(hll: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let registers = &hll[HEADER_LEN..];
    (0..REGISTERS).map(move |i| dense_get(registers, i))
}

/// A sparse HLL's opcodes as `PFDEBUG DECODE` prints them (`Z:16384`, `z:3`, `v:2,1`).
pub fn decode_sparse(hll: &[u8]) -> String {
    let mut text = String::new();
    let mut at = HEADER_LEN;
    while at < hll.len() {
        let op = op_at(hll, at);
        if !text.is_empty() {
            text.push(' ');
        }
        match op {
            Op::Zeros { len, width: 2 } => text.push_str(&format!("Z:{len}")),
            Op::Zeros { len, .. } => text.push_str(&format!("z:{len}")),
            Op::Val { value, len } => text.push_str(&format!("v:{value},{len}")),
        }
        at += op.width();
    }
    text
}

/// Redis's `PFSELFTEST`: register access on random values, then ten million elements added to
/// a dense and a sparse HLL whose counts must agree and stay within six standard errors.
/// The error is Redis's reply text.
pub fn self_test(sparse_max_bytes: usize) -> Result<(), String> {
    use rand::Rng;
    const CYCLES: usize = 1000;
    let mut rng = rand::thread_rng();
    let mut dense = vec![0u8; DENSE_LEN];
    let mut expected = [0u8; REGISTERS];

    // Test 1: every register keeps its value without disturbing its neighbours.
    for _ in 0..CYCLES {
        for (i, e) in expected.iter_mut().enumerate() {
            *e = rng.gen::<u8>() & REGISTER_MAX;
            dense_put(&mut dense[HEADER_LEN..], i, *e);
        }
        for (i, &e) in expected.iter().enumerate() {
            let got = dense_get(&dense[HEADER_LEN..], i);
            if got != e {
                return Err(format!(
                    "TESTFAILED Register {i} should be {e} but is {got}"
                ));
            }
        }
    }

    // Test 2: approximation error, dense and sparse side by side.
    dense[HEADER_LEN..].fill(0);
    let mut sparse = new_sparse();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint: u64 = 1;
    let seed: u64 = rng.gen();
    for j in 1..=10_000_000u64 {
        let element = (j ^ seed).to_le_bytes();
        let (index, run) = pattern(&element);
        dense_raise(&mut dense[HEADER_LEN..], index, run);
        raise(&mut sparse, index, run, sparse_max_bytes).map_err(|e| e.to_string())?;
        if j != checkpoint {
            continue;
        }
        if j < (sparse_max_bytes / 2) as u64 && encoding(&sparse) != Encoding::Sparse {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let dense_count = count(&dense).map_err(|e| e.to_string())?;
        if count(&sparse).map_err(|e| e.to_string())? != dense_count {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = checkpoint.abs_diff(dense_count);
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!(
                "TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"
            ));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sparse_with(elements: &[&[u8]], max: usize) -> Vec<u8> {
        let mut hll = new_sparse();
        for e in elements {
            add(&mut hll, e, max).unwrap();
        }
        hll
    }

    #[test]
    fn an_empty_hll_is_one_xzero() {
        let hll = new_sparse();
        assert_eq!(hll.len(), 18);
        assert_eq!(&hll[..5], b"HYLL\x01");
        assert_eq!(&hll[16..], &[0x7f, 0xff]);
        assert_eq!(check(&hll), Ok(Encoding::Sparse));
        assert_eq!(count(&hll), Ok(0));
        assert_eq!(cached_count(&hll), Some(0));
    }

    /// Register and run length of single elements, as redis-server 7.0's `PFDEBUG DECODE`
    /// shows them after one `PFADD`.
    #[test]
    fn elements_hash_to_redis_registers() {
        let cases: &[(&[u8], &str)] = &[
            (b"a", "Z:12711 v:2,1 Z:3672"),
            (b"b", "Z:15780 v:1,1 Z:603"),
            (b"hello", "Z:9216 v:1,1 Z:7167"),
            (b"foobar", "Z:1910 v:4,1 Z:14473"),
            (b"12345678", "Z:10579 v:3,1 Z:5804"),
            (b"", "Z:5938 v:2,1 Z:10445"),
        ];
        for (element, decoded) in cases {
            let hll = sparse_with(&[element], 3000);
            assert_eq!(decode_sparse(&hll), *decoded, "{element:?}");
        }
    }

    /// `PFADD small elem:1 … elem:200` on redis-server 7.0: the same bytes, the same count.
    #[test]
    fn sparse_bytes_and_count_match_redis() {
        let elements: Vec<Vec<u8>> = (1..=200)
            .map(|i| format!("elem:{i}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = elements.iter().map(|e| e.as_slice()).collect();
        let mut hll = sparse_with(&refs, 3000);
        assert_eq!(hll.len(), 494);
        assert_eq!(
            &hll[16..40],
            &[
                0x42, 0x9f, 0x80, 0x03, 0x81, 0x17, 0x88, 0x40, 0x97, 0x8c, 0x01, 0x80, 0x41, 0x1a,
                0x84, 0x03, 0x80, 0x3f, 0x84, 0x08, 0x84, 0x40, 0x42, 0x80
            ]
        );
        assert_eq!(cached_count(&hll), None);
        let n = count(&hll).unwrap();
        assert_eq!(n, 200);
        set_cached_count(&mut hll, n);
        assert_eq!(&hll[8..16], &[200, 0, 0, 0, 0, 0, 0, 0]);
    }

    /// Counts redis-server 7.0 answered for `elem:1…1000` (sparse, 1914 bytes) and
    /// `e1…e100000` (dense), and for their union.
    #[test]
    fn counts_match_redis() {
        let mut big = new_sparse();
        for i in 1..=1000 {
            add(&mut big, format!("elem:{i}").as_bytes(), 3000).unwrap();
        }
        assert_eq!(big.len(), 1914);
        assert_eq!(count(&big), Ok(1005));
        let mut huge = new_sparse();
        for i in 1..=100_000 {
            add(&mut huge, format!("e{i}").as_bytes(), 3000).unwrap();
        }
        assert_eq!(check(&huge), Ok(Encoding::Dense));
        assert_eq!(count(&huge), Ok(100_853));
        let mut max = [0u8; REGISTERS];
        merge_into(&mut max, &huge).unwrap();
        merge_into(&mut max, &big).unwrap();
        assert_eq!(count_registers(&max), 102_052);
    }

    #[test]
    fn dense_registers_round_trip_without_touching_neighbours() {
        let mut regs = vec![0u8; DENSE_LEN - HEADER_LEN];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8, "register {i}");
        }
        dense_put(&mut regs, REGISTERS - 1, 0);
        assert_eq!(
            dense_get(&regs, REGISTERS - 2),
            ((REGISTERS - 2) % 64) as u8
        );
        assert_eq!(dense_get(&regs, REGISTERS - 1), 0);
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        assert_eq!(dense.len(), DENSE_LEN);
        for i in 0..2000u32 {
            let e = i.to_le_bytes();
            let a = add(&mut sparse, &e, 100_000).unwrap();
            let b = add(&mut dense, &e, 100_000).unwrap();
            assert_eq!(a, b);
        }
        assert_eq!(check(&sparse), Ok(Encoding::Sparse));
        assert_eq!(count(&sparse), count(&dense));
        let mut converted = sparse.clone();
        assert_eq!(to_dense(&mut converted), Ok(true));
        assert_eq!(&converted[HEADER_LEN..], &dense[HEADER_LEN..]);
        assert_eq!(to_dense(&mut converted), Ok(false));
    }

    #[test]
    fn adjacent_equal_values_merge() {
        let mut hll = new_sparse();
        for i in 100..104 {
            raise(&mut hll, i, 3, 3000).unwrap();
        }
        assert_eq!(decode_sparse(&hll), "Z:100 v:3,4 Z:16280");
        raise(&mut hll, 104, 3, 3000).unwrap();
        assert_eq!(decode_sparse(&hll), "Z:100 v:3,4 v:3,1 Z:16279");
        assert_eq!(raise(&mut hll, 101, 2, 3000), Ok(false));
        raise(&mut hll, 101, 5, 3000).unwrap();
        assert_eq!(decode_sparse(&hll), "Z:100 v:3,1 v:5,1 v:3,3 Z:16279");
        raise(&mut hll, 0, 1, 3000).unwrap();
        raise(&mut hll, 16383, 1, 3000).unwrap();
        assert_eq!(
            decode_sparse(&hll),
            "v:1,1 Z:99 v:3,1 v:5,1 v:3,3 Z:16278 v:1,1"
        );
    }

    #[test]
    fn sparse_turns_dense_on_size_or_value() {
        let mut hll = new_sparse();
        assert_eq!(raise(&mut hll, 7, 33, 3000), Ok(true));
        assert_eq!(check(&hll), Ok(Encoding::Dense));
        assert_eq!(dense_registers(&hll).nth(7), Some(33));

        let mut small = new_sparse();
        let mut i = 0u32;
        while check(&small) == Ok(Encoding::Sparse) {
            assert!(small.len() <= 40);
            add(&mut small, &i.to_le_bytes(), 40).unwrap();
            i += 1;
        }
        assert_eq!(small.len(), DENSE_LEN);
        assert_eq!(count(&small), Ok(u64::from(i)));
    }

    #[test]
    fn corrupt_and_foreign_strings_are_refused_without_panics() {
        assert_eq!(check(b"HYLL"), Err(HllError::NotHll));
        assert_eq!(
            check(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"),
            Err(HllError::NotHll)
        );
        assert_eq!(
            check(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0"),
            Err(HllError::NotHll)
        );
        assert_eq!(
            check(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0"),
            Err(HllError::NotHll)
        );
        let mut short = new_sparse();
        short.pop();
        assert_eq!(count(&short), Err(HllError::Corrupt));
        let mut max = [0u8; REGISTERS];
        assert_eq!(merge_into(&mut max, &short), Err(HllError::Corrupt));
        assert_eq!(to_dense(&mut short.clone()), Err(HllError::Corrupt));
        // One register too many, only at the last opcode: corrupt all the same.
        let mut overrun = new_sparse();
        overrun.push(val(1, 1));
        assert_eq!(count(&overrun), Err(HllError::Corrupt));
        assert_eq!(merge_into(&mut max, &overrun), Err(HllError::Corrupt));
        assert_eq!(to_dense(&mut overrun.clone()), Err(HllError::Corrupt));
        // ... but PFADD still finds its register in the first opcode, as Redis's does.
        assert_eq!(raise(&mut overrun, 5, 2, 3000), Ok(true));
        // Every byte string after a sparse header: no panic, whatever the outcome.
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..2000 {
            let mut hll = new_sparse();
            hll.truncate(HEADER_LEN);
            let n = rng.gen_range(0..12);
            hll.extend((0..n).map(|_| rng.gen::<u8>()));
            let _ = count(&hll);
            let _ = merge_into(&mut max, &hll);
            let _ = decode_sparse(&hll);
            for _ in 0..4 {
                let _ = raise(
                    &mut hll,
                    rng.gen_range(0..REGISTERS),
                    rng.gen_range(1..52),
                    30,
                );
                if check(&hll) != Ok(Encoding::Sparse) {
                    break;
                }
            }
        }
    }

    #[test]
    fn estimator_edges() {
        let empty = [0u8; REGISTERS];
        assert_eq!(count_registers(&empty), 0);
        // Every register at its maximum: z is 0, and redis-server 7.0 answers 2^63 (which
        // PFCOUNT replies as i64::MIN and caches with the invalid bit set).
        assert_eq!(count_registers(&[51u8; REGISTERS]), 1 << 63);
    }
}
