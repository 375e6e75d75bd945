//! Finding the end of a reply frame without building it.

use smallvec::SmallVec;

use super::{find_crlf, parse_i64, Limits, ProtocolError};

/// Finds where the next complete frame ends, for any RESP2 or RESP3 frame.
///
/// Incremental: when the frame is not all there it remembers how far it got (the stack of
/// elements still expected at each depth and the offset of the next element), so the next call
/// continues from that element instead of from the frame's first byte. An attribute (`|`) is
/// counted together with the frame it annotates, so one call always yields one whole reply.
#[derive(Debug)]
pub struct FrameScanner {
    limits: Limits,
    pos: usize,
    stack: SmallVec<[usize; 8]>,
}

impl FrameScanner {
    pub fn new(limits: Limits) -> FrameScanner {
        FrameScanner {
            limits,
            pos: 0,
            stack: SmallVec::new(),
        }
    }

    /// The length of the complete frame at the front of `buf`, or `Ok(None)` if more bytes are
    /// needed. `buf` must start at the same place on every call until a frame is returned, and
    /// may only have grown at its end in between.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        loop {
            match self.scan_element(buf)? {
                Element::Incomplete => return Ok(None),
                Element::Open => continue,
                Element::Complete => {}
            }
            loop {
                match self.stack.last_mut() {
                    None => {
                        let len = self.pos;
                        self.pos = 0;
                        return Ok(Some(len));
                    }
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        self.stack.pop();
                    }
                }
            }
        }
    }

    fn scan_element(&mut self, buf: &[u8]) -> Result<Element, ProtocolError> {
        let pos = self.pos;
        let Some(&ty) = buf.get(pos) else {
            return Ok(Element::Incomplete);
        };
        let Some(cr) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > self.limits.max_inline_len {
                return Err(ProtocolError::HeaderTooLong(self.limits.max_inline_len));
            }
            return Ok(Element::Incomplete);
        };
        let line = &buf[pos + 1..cr];
        let next = cr + 2;
        match ty {
            b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' => {
                self.pos = next;
                Ok(Element::Complete)
            }
            b'$' | b'!' | b'=' => {
                if line == b"?" {
                    return Err(ProtocolError::Streamed);
                }
                let len = parse_i64(line).ok_or(ProtocolError::InvalidBulkLength)?;
                if len == -1 && ty == b'$' {
                    self.pos = next;
                    return Ok(Element::Complete);
                }
                if len < 0 || len as u64 > self.limits.max_bulk_len as u64 {
                    return Err(ProtocolError::InvalidBulkLength);
                }
                let end = next + len as usize;
                if buf.len() < end + 2 {
                    return Ok(Element::Incomplete);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err(ProtocolError::MissingCrlf);
                }
                self.pos = end + 2;
                Ok(Element::Complete)
            }
            b'*' | b'%' | b'~' | b'>' | b'|' => {
                if line == b"?" {
                    return Err(ProtocolError::Streamed);
                }
                let n = parse_i64(line).ok_or(ProtocolError::InvalidMultibulkLength)?;
                if n == -1 && ty == b'*' {
                    self.pos = next;
                    return Ok(Element::Complete);
                }
                if n < 0 || n as u64 > self.limits.max_array_len as u64 {
                    return Err(ProtocolError::InvalidMultibulkLength);
                }
                let n = n as usize;
                let count = match ty {
                    b'%' => n * 2,
                    // The attribute's pairs, then the frame it is attached to.
                    b'|' => n * 2 + 1,
                    _ => n,
                };
                self.pos = next;
                if count == 0 {
                    return Ok(Element::Complete);
                }
                if self.stack.len() >= self.limits.max_depth {
                    return Err(ProtocolError::TooDeep(self.limits.max_depth));
                }
                self.stack.push(count);
                Ok(Element::Open)
            }
            other => Err(ProtocolError::InvalidType(other)),
        }
    }
}

enum Element {
    /// A scalar (or an empty aggregate) ended: one element less is expected above it.
    Complete,
    /// An aggregate started: its elements follow.
    Open,
    Incomplete,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        FrameScanner::new(Limits::default()).scan(input)
    }

    #[test]
    fn scalars_and_aggregates() {
        assert_eq!(scan(b"+OK\r\n"), Ok(Some(5)));
        assert_eq!(scan(b"$-1\r\n"), Ok(Some(5)));
        assert_eq!(scan(b"*-1\r\n"), Ok(Some(5)));
        assert_eq!(scan(b"*0\r\n+x"), Ok(Some(4)));
        assert_eq!(scan(b"*2\r\n$1\r\na\r\n:1\r\n+next"), Ok(Some(15)));
        assert_eq!(scan(b"%1\r\n+a\r\n*1\r\n_\r\n"), Ok(Some(15)));
        assert_eq!(scan(b"|1\r\n+k\r\n+v\r\n:7\r\n"), Ok(Some(16)));
        assert_eq!(scan(b"*2\r\n$1\r\na\r\n"), Ok(None));
    }

    #[test]
    fn resumes_mid_aggregate() {
        let input = b"*3\r\n:1\r\n*2\r\n$3\r\nabc\r\n:2\r\n,1.5\r\n";
        let mut s = FrameScanner::new(Limits::default());
        for end in 0..input.len() {
            assert_eq!(s.scan(&input[..end]), Ok(None), "prefix of {end}");
        }
        assert_eq!(s.scan(input), Ok(Some(input.len())));
    }

    #[test]
    fn bounds() {
        let limits = Limits {
            max_depth: 2,
            max_array_len: 4,
            max_bulk_len: 3,
            ..Limits::default()
        };
        let run = |i: &[u8]| FrameScanner::new(limits).scan(i);
        assert_eq!(run(b"*1\r\n*1\r\n*1\r\n"), Err(ProtocolError::TooDeep(2)));
        assert_eq!(run(b"*5\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(run(b"$4\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(run(b"?\r\n"), Err(ProtocolError::InvalidType(b'?')));
        assert_eq!(run(b"$?\r\n"), Err(ProtocolError::Streamed));
    }
}
