//! What `SCAN`, `HSCAN`, `SSCAN` and `ZSCAN` share: the cursor, the options, the empty reply.

use crate::node::error::CmdError;
use crate::node::reply::Reply;
use crate::resp::{parse_i64, Command};

/// Parses `SCAN`-style options after the cursor: `MATCH pattern`, `COUNT n`.
pub(super) fn scan_options(
    cmd: &Command,
    from: usize,
) -> Result<(Option<Vec<u8>>, usize), CmdError> {
    let (mut pattern, mut count) = (None, 10usize);
    let mut i = from;
    while i < cmd.argc() {
        let opt = cmd.arg(i);
        let value = cmd.get(i + 1).ok_or(CmdError::Syntax)?;
        if opt.eq_ignore_ascii_case(b"MATCH") {
            pattern = Some(value.to_vec());
        } else if opt.eq_ignore_ascii_case(b"COUNT") {
            let n = parse_i64(value).ok_or(CmdError::NotInteger)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = n as usize;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok((pattern, count))
}

/// A cursor argument as Redis reads one (`strtoul`): decimal digits after an optional sign, a
/// minus wrapping around as in C, the empty string meaning 0; leading space, other bytes and
/// overflow are an invalid cursor.
pub(super) fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::text("ERR invalid cursor");
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if !digits.iter().all(u8::is_ascii_digit) || (digits.is_empty() && !arg.is_empty()) {
        return Err(invalid());
    }
    let mut n: u64 = 0;
    for d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative { n.wrapping_neg() } else { n })
}

/// The reply to a scan of a key that does not exist: cursor 0, nothing.
pub(super) fn write_empty_scan(out: &mut Reply) {
    out.array(2);
    out.bulk(b"0");
    out.array(0);
}
