//! The client side: multibulk and inline commands, parsed incrementally.

use bytes::{Buf, BytesMut};

use super::command::{ArgSpans, Command};
use super::{find_crlf, parse_i64, Command as Cmd, Limits, ProtocolError};

/// Parses commands out of a client's input buffer.
///
/// Keeps its place inside a multibulk that has not fully arrived, so each argument's header is
/// read once however the bytes are split. Completed commands are split off the front of the
/// buffer without copying.
///
/// Until told the client has authenticated ([`set_unauthenticated`]), a parser can hold it to
/// Redis's tighter bounds for unauthenticated clients.
///
/// [`set_unauthenticated`]: RequestParser::set_unauthenticated
#[derive(Debug)]
pub struct RequestParser {
    /// The bounds in force: `own`, or tighter ones for an unauthenticated client.
    limits: Limits,
    state: State,
    /// The bounds the parser was made with; read only to word an error.
    own: Limits,
}

#[derive(Debug)]
enum State {
    /// Between commands: the buffer starts at a command's first byte.
    Idle,
    /// Inside a multibulk: `pos` is where the next argument's `$` header starts.
    Multibulk {
        remaining: usize,
        pos: usize,
        args: ArgSpans,
    },
}

impl RequestParser {
    pub fn new(limits: Limits) -> RequestParser {
        RequestParser {
            limits,
            state: State::Idle,
            own: limits,
        }
    }

    /// Holds the client to Redis's bounds for clients that have not authenticated (at most
    /// [`Limits::UNAUTHENTICATED_MAX_ARRAY_LEN`] arguments per command, each at most
    /// [`Limits::UNAUTHENTICATED_MAX_BULK_LEN`] bytes), or, with `false`, back to the
    /// parser's own limits. A command past them fails with
    /// [`ProtocolError::UnauthenticatedMultibulkLength`] or
    /// [`ProtocolError::UnauthenticatedBulkLength`]. Applies from the next header read.
    pub fn set_unauthenticated(&mut self, unauthenticated: bool) {
        self.limits = if unauthenticated {
            Limits {
                max_array_len: self
                    .own
                    .max_array_len
                    .min(Limits::UNAUTHENTICATED_MAX_ARRAY_LEN),
                max_bulk_len: self
                    .own
                    .max_bulk_len
                    .min(Limits::UNAUTHENTICATED_MAX_BULK_LEN),
                ..self.own
            }
        } else {
            self.own
        };
    }

    /// True when some bytes of a command have been read but not the whole command.
    pub fn is_mid_command(&self) -> bool {
        matches!(self.state, State::Multibulk { .. })
    }

    /// The next complete command at the front of `buf`, removed from it; `Ok(None)` when more
    /// bytes are needed. After an error the connection must be closed: the stream is lost.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Command>, ProtocolError> {
        loop {
            match &mut self.state {
                State::Idle => {
                    let Some(&first) = buf.first() else {
                        return Ok(None);
                    };
                    if first != b'*' {
                        match self.parse_inline(buf)? {
                            Inline::Command(c) => return Ok(Some(c)),
                            Inline::Empty => continue,
                            Inline::Incomplete => return Ok(None),
                        }
                    }
                    let Some(cr) = find_crlf(buf, 1) else {
                        if buf.len() > self.limits.max_inline_len {
                            return Err(ProtocolError::TooBigMultibulkCount);
                        }
                        return Ok(None);
                    };
                    let count =
                        parse_i64(&buf[1..cr]).ok_or(ProtocolError::InvalidMultibulkLength)?;
                    if count > self.limits.max_array_len as i64 {
                        return Err(array_len_error(count, &self.own));
                    }
                    if count <= 0 {
                        // Redis reads `*0` and `*-1` as nothing at all.
                        buf.advance(cr + 2);
                        continue;
                    }
                    self.state = State::Multibulk {
                        remaining: count as usize,
                        pos: cr + 2,
                        args: ArgSpans::new(),
                    };
                }
                State::Multibulk {
                    remaining,
                    pos,
                    args,
                } => {
                    while *remaining > 0 {
                        let Some(&ty) = buf.get(*pos) else {
                            return Ok(None);
                        };
                        if ty != b'$' {
                            return Err(ProtocolError::ExpectedBulk(ty));
                        }
                        let Some(cr) = find_crlf(buf, *pos + 1) else {
                            if buf.len() - *pos > self.limits.max_inline_len {
                                return Err(ProtocolError::TooBigBulkCount);
                            }
                            return Ok(None);
                        };
                        let Some(len) = parse_i64(&buf[*pos + 1..cr])
                            .filter(|&n| n >= 0 && n as u64 <= self.limits.max_bulk_len as u64)
                        else {
                            return Err(bulk_len_error(&buf[*pos + 1..cr], &self.own));
                        };
                        let len = len as usize;
                        let start = cr + 2;
                        let end = start + len;
                        if buf.len() < end + 2 {
                            return Ok(None);
                        }
                        if &buf[end..end + 2] != b"\r\n" {
                            return Err(ProtocolError::MissingCrlf);
                        }
                        args.push((span(start), span(end)));
                        *pos = end + 2;
                        *remaining -= 1;
                    }
                    let total = *pos;
                    let args = std::mem::take(args);
                    self.state = State::Idle;
                    let raw = buf.split_to(total).freeze();
                    return Ok(Some(Cmd::from_parts(raw, args)));
                }
            }
        }
    }

    fn parse_inline(&self, buf: &mut BytesMut) -> Result<Inline, ProtocolError> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(Inline::Incomplete);
        };
        if nl > self.limits.max_inline_len {
            return Err(ProtocolError::TooBigInline);
        }
        let line = buf.split_to(nl + 1);
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let args = split_inline(line)?;
        if args.is_empty() {
            return Ok(Inline::Empty);
        }
        Ok(Inline::Command(Cmd::from_args(args)))
    }
}

/// Why a multibulk count over the bounds in force was refused: over the parser's own limit,
/// or only over the tighter one for unauthenticated clients (Redis checks in that order).
#[cold]
fn array_len_error(count: i64, limits: &Limits) -> ProtocolError {
    if count > limits.max_array_len as i64 {
        ProtocolError::InvalidMultibulkLength
    } else {
        ProtocolError::UnauthenticatedMultibulkLength
    }
}

/// Why a bulk length was refused: not a length, over the parser's own limit, or only over
/// the tighter one for unauthenticated clients.
#[cold]
fn bulk_len_error(header: &[u8], limits: &Limits) -> ProtocolError {
    match parse_i64(header) {
        Some(n) if n >= 0 && n as u64 <= limits.max_bulk_len as u64 => {
            ProtocolError::UnauthenticatedBulkLength
        }
        _ => ProtocolError::InvalidBulkLength,
    }
}

enum Inline {
    Command(Command),
    Empty,
    Incomplete,
}

fn span(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Splits an inline command line into arguments the way Redis's `sdssplitargs` does:
/// whitespace separates, `"..."` understands `\n \r \t \b \a \\ \" \xHH`, `'...'` understands
/// `\'`, and a closing quote must be followed by whitespace or the end of the line.
fn split_inline(line: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i == n {
            return Ok(args);
        }
        let mut cur = Vec::new();
        loop {
            if i == n {
                break;
            }
            match line[i] {
                b'"' => {
                    i += 1;
                    loop {
                        if i >= n {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        match line[i] {
                            b'\\'
                                if i + 3 < n
                                    && line[i + 1] == b'x'
                                    && line[i + 2].is_ascii_hexdigit()
                                    && line[i + 3].is_ascii_hexdigit() =>
                            {
                                cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                                i += 4;
                            }
                            b'\\' if i + 1 < n => {
                                cur.push(match line[i + 1] {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    b'b' => 8,
                                    b'a' => 7,
                                    c => c,
                                });
                                i += 2;
                            }
                            b'"' => {
                                i += 1;
                                if i < n && !is_space(line[i]) {
                                    return Err(ProtocolError::UnbalancedQuotes);
                                }
                                break;
                            }
                            c => {
                                cur.push(c);
                                i += 1;
                            }
                        }
                    }
                }
                b'\'' => {
                    i += 1;
                    loop {
                        if i >= n {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        match line[i] {
                            b'\\' if i + 1 < n && line[i + 1] == b'\'' => {
                                cur.push(b'\'');
                                i += 2;
                            }
                            b'\'' => {
                                i += 1;
                                if i < n && !is_space(line[i]) {
                                    return Err(ProtocolError::UnbalancedQuotes);
                                }
                                break;
                            }
                            c => {
                                cur.push(c);
                                i += 1;
                            }
                        }
                    }
                }
                c if is_space(c) => break,
                c => {
                    cur.push(c);
                    i += 1;
                }
            }
        }
        args.push(cur);
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = RequestParser::new(Limits::default());
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(c) = p.parse(&mut buf)? {
            out.push(c.args().map(<[u8]>::to_vec).collect());
        }
        Ok(out)
    }

    fn strs(v: &[&[&str]]) -> Vec<Vec<Vec<u8>>> {
        v.iter()
            .map(|c| c.iter().map(|a| a.as_bytes().to_vec()).collect())
            .collect()
    }

    #[test]
    fn multibulk_keeps_raw_bytes() {
        let input = b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n";
        let mut p = RequestParser::new(Limits::default());
        let mut buf = BytesMut::from(&input[..]);
        let c = p.parse(&mut buf).unwrap().unwrap();
        assert_eq!(&c.raw()[..], &input[..]);
        assert_eq!(c.arg(1), b"foo");
        assert!(buf.is_empty());
    }

    #[test]
    fn partial_input_waits_and_resumes() {
        let input = b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n";
        let mut p = RequestParser::new(Limits::default());
        let mut buf = BytesMut::new();
        for (i, b) in input.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let r = p.parse(&mut buf).unwrap();
            assert_eq!(r.is_some(), i == input.len() - 1);
        }
    }

    #[test]
    fn inline_commands_split_like_redis() {
        assert_eq!(
            parse_all(b"PING\r\nSET a  b\n").unwrap(),
            strs(&[&["PING"], &["SET", "a", "b"]])
        );
        assert_eq!(
            parse_all(b"SET \"a b\" 'c d'\r\n").unwrap(),
            strs(&[&["SET", "a b", "c d"]])
        );
        assert_eq!(
            parse_all(b"ECHO \"\\x41\\n\"\r\n").unwrap(),
            vec![vec![b"ECHO".to_vec(), b"A\n".to_vec()]]
        );
        assert_eq!(parse_all(b"\r\n\r\n").unwrap(), strs(&[]));
        assert_eq!(
            parse_all(b"ECHO \"a\"b\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            parse_all(b"ECHO \"ab\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
    }

    #[test]
    fn empty_multibulk_is_ignored() {
        assert_eq!(
            parse_all(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n").unwrap(),
            strs(&[&["PING"]])
        );
    }

    #[test]
    fn errors_use_redis_wording() {
        assert_eq!(
            parse_all(b"*1\r\n$abc\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*x\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*2\r\n+foo\r\n"),
            Err(ProtocolError::ExpectedBulk(b'+'))
        );
        assert_eq!(
            ProtocolError::ExpectedBulk(b'+').to_string(),
            "expected '$', got '+'"
        );
        assert_eq!(
            parse_all(b"*1\r\n$3\r\nfooXY"),
            Err(ProtocolError::MissingCrlf)
        );
    }

    #[test]
    fn limits_are_enforced_before_the_bytes_arrive() {
        let limits = Limits {
            max_bulk_len: 10,
            max_array_len: 3,
            max_inline_len: 16,
            ..Limits::default()
        };
        let run = |input: &[u8]| {
            let mut p = RequestParser::new(limits);
            p.parse(&mut BytesMut::from(input))
        };
        assert_eq!(
            run(b"*1\r\n$11\r\n").unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(
            run(b"*4\r\n").unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        assert_eq!(run(&[b'A'; 17]).unwrap_err(), ProtocolError::TooBigInline);
        assert_eq!(
            run(b"*11111111111111111").unwrap_err(),
            ProtocolError::TooBigMultibulkCount
        );
        // A huge announced bulk that is within limits waits without allocating for it.
        let mut p = RequestParser::new(Limits::default());
        let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\n"[..]);
        assert_eq!(p.parse(&mut buf).unwrap(), None);
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn unauthenticated_clients_get_redis_bounds() {
        let run = |limits: Limits, input: &[u8]| {
            let mut p = RequestParser::new(limits);
            p.set_unauthenticated(true);
            p.parse(&mut BytesMut::from(input))
        };
        let limits = Limits::default();
        // Ten arguments of 16 KiB each are still fine.
        let big = vec![b'x'; Limits::UNAUTHENTICATED_MAX_BULK_LEN];
        let mut ten = b"*10\r\n".to_vec();
        for _ in 0..10 {
            ten.extend_from_slice(b"$16384\r\n");
            ten.extend_from_slice(&big);
            ten.extend_from_slice(b"\r\n");
        }
        assert_eq!(run(limits, &ten).unwrap().unwrap().argc(), 10);
        assert_eq!(
            run(limits, b"*11\r\n").unwrap_err(),
            ProtocolError::UnauthenticatedMultibulkLength
        );
        assert_eq!(
            run(limits, b"*1\r\n$16385\r\n").unwrap_err(),
            ProtocolError::UnauthenticatedBulkLength
        );
        // What the parser's own limits refuse keeps its own error, as in Redis.
        assert_eq!(
            run(limits, b"*1\r\n$-2\r\n").unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(
            run(limits, b"*1\r\n$536870913\r\n").unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(
            run(limits, b"*16777217\r\n").unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        assert_eq!(
            run(limits, b"*x\r\n").unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        // Tighter configured limits stay in force.
        let tight = Limits {
            max_array_len: 3,
            max_bulk_len: 100,
            ..Limits::default()
        };
        assert_eq!(
            run(tight, b"*4\r\n").unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        assert_eq!(
            run(tight, b"*1\r\n$101\r\n").unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
        // Inline commands are not bounded further, as in Redis.
        assert!(run(limits, &[b"GET ", &big[..], b"\r\n"].concat())
            .unwrap()
            .is_some());
        assert_eq!(
            ProtocolError::UnauthenticatedMultibulkLength.to_string(),
            "unauthenticated multibulk length"
        );
        assert_eq!(
            ProtocolError::UnauthenticatedBulkLength.to_string(),
            "unauthenticated bulk length"
        );
    }

    #[test]
    fn bounds_switch_between_commands() {
        let mut p = RequestParser::new(Limits::default());
        p.set_unauthenticated(true);
        let eleven = b"*11\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n$1\r\ni\r\n$1\r\nj\r\n";
        let mut buf = BytesMut::from(&b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"[..]);
        buf.extend_from_slice(eleven);
        // AUTH is read under the tight bounds; the client then authenticates, and the
        // command already waiting in the buffer is read under the parser's own.
        let auth = p.parse(&mut buf).unwrap().unwrap();
        assert_eq!(auth.arg(1), b"pw");
        p.set_unauthenticated(false);
        assert_eq!(p.parse(&mut buf).unwrap().unwrap().argc(), 11);
        // RESET: tight again.
        p.set_unauthenticated(true);
        buf.extend_from_slice(eleven);
        assert_eq!(
            p.parse(&mut buf).unwrap_err(),
            ProtocolError::UnauthenticatedMultibulkLength
        );
    }
}
