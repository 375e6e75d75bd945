//! CRC-64/Jones as Redis computes it (`crc64.c`): reflected, polynomial 0xad93d23594c935a9,
//! initial value and final xor 0. `DUMP` payloads and RDB files end with it, little-endian.

/// The polynomial, bit-reversed for the reflected (LSB-first) algorithm.
const POLY_REFLECTED: u64 = 0xad93_d235_94c9_35a9u64.reverse_bits();

/// One table entry per byte value, built at compile time.
const TABLE: [u64; 256] = build_table();

const fn build_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// Continues the checksum `crc` over `data` (`crc64(0, data)` for a fresh one, as Redis).
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_test_vector() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn continues_across_pieces() {
        let data = b"This is a test of the emergency broadcast system.";
        let (a, b) = data.split_at(17);
        assert_eq!(crc64(crc64(0, a), b), crc64(0, data));
        assert_eq!(crc64(0, b""), 0);
    }
}
