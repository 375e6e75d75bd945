//! A raw RESP connection: writes any bytes, reads replies exactly as they came.
//!
//! The `redis` crate hides what went over the wire; protocol tests need to send malformed frames,
//! one huge pipelined write, or inline commands, and to compare replies byte for byte.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a read may block before the test fails instead of hanging.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// One decoded reply, RESP2 or RESP3.
#[derive(Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    /// `$-1` (RESP2 nil bulk) is `Bulk(None)`.
    Bulk(Option<Vec<u8>>),
    /// `*-1` (RESP2 nil array) is `Array(None)`.
    Array(Option<Vec<Reply>>),
    /// RESP3 `_`.
    Null,
    /// RESP3 `,`, kept as sent.
    Double(String),
    /// RESP3 `#`.
    Boolean(bool),
    /// RESP3 `(`, kept as sent.
    BigNumber(String),
    /// RESP3 `!`.
    BlobError(Vec<u8>),
    /// RESP3 `=`: format and text.
    Verbatim(String, Vec<u8>),
    /// RESP3 `%`.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 `~`.
    Set(Vec<Reply>),
    /// RESP3 `>`.
    Push(Vec<Reply>),
    /// RESP3 `|`: attributes, then the reply they annotate.
    Attribute(Vec<(Reply, Reply)>, Box<Reply>),
}

impl Reply {
    /// A bulk string reply holding `bytes`.
    pub fn bulk(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(Some(bytes.as_ref().to_vec()))
    }

    /// An array of bulk strings.
    pub fn bulks<I: IntoIterator<Item = B>, B: AsRef<[u8]>>(items: I) -> Reply {
        Reply::Array(Some(items.into_iter().map(Reply::bulk).collect()))
    }

    /// The error text (without the `-`), if this is an error.
    pub fn as_error(&self) -> Option<&str> {
        match self {
            Reply::Error(text) => Some(text),
            _ => None,
        }
    }

    /// Whether this is an error of any kind.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_) | Reply::BlobError(_))
    }

    /// The bytes of a bulk, simple or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(Some(bytes)) | Reply::Verbatim(_, bytes) => Some(bytes),
            Reply::Simple(text) => Some(text.as_bytes()),
            _ => None,
        }
    }

    /// The elements of an array, set or push reply.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(Some(items)) | Reply::Set(items) | Reply::Push(items) => Some(items),
            _ => None,
        }
    }

    /// Decodes one reply from the front of `input`: the reply and the bytes it took, or `None`
    /// if `input` holds only part of one. Panics on bytes that are not RESP: the peer under test
    /// broke the protocol.
    pub fn parse(input: &[u8]) -> Option<(Reply, usize)> {
        let mut cursor = Cursor { input, pos: 0 };
        let reply = cursor.reply()?;
        Some((reply, cursor.pos))
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Simple(text) => write!(f, "+{text}"),
            Reply::Error(text) => write!(f, "-{text}"),
            Reply::Integer(n) => write!(f, ":{n}"),
            Reply::Bulk(None) => write!(f, "(nil)"),
            Reply::Bulk(Some(bytes)) => write!(f, "\"{}\"", abbreviated(bytes)),
            Reply::Array(None) => write!(f, "(nil array)"),
            Reply::Array(Some(items)) => f.debug_list().entries(items).finish(),
            Reply::Null => write!(f, "(null)"),
            Reply::Double(text) => write!(f, ",{text}"),
            Reply::Boolean(b) => write!(f, "#{}", if *b { 't' } else { 'f' }),
            Reply::BigNumber(text) => write!(f, "({text}"),
            Reply::BlobError(bytes) => write!(f, "!\"{}\"", abbreviated(bytes)),
            Reply::Verbatim(format, bytes) => write!(f, "={format}:\"{}\"", abbreviated(bytes)),
            Reply::Map(pairs) => f
                .debug_map()
                .entries(pairs.iter().map(|(k, v)| (k, v)))
                .finish(),
            Reply::Set(items) => write!(f, "~{items:?}"),
            Reply::Push(items) => write!(f, ">{items:?}"),
            Reply::Attribute(attrs, reply) => write!(f, "|{attrs:?} {reply:?}"),
        }
    }
}

/// Escaped bytes, cut short when long: a 1 MiB value in a failure message helps nobody.
fn abbreviated(bytes: &[u8]) -> String {
    const SHOWN: usize = 200;
    let escaped = bytes[..bytes.len().min(SHOWN)].escape_ascii().to_string();
    if bytes.len() > SHOWN {
        format!("{escaped}... ({} bytes)", bytes.len())
    } else {
        escaped
    }
}

struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn reply(&mut self) -> Option<Reply> {
        let kind = *self.input.get(self.pos)?;
        self.pos += 1;
        let line = self.line()?;
        let reply = match kind {
            b'+' => Reply::Simple(text(line)),
            b'-' => Reply::Error(text(line)),
            b':' => Reply::Integer(number(line)),
            b'$' => match number(line) {
                -1 => Reply::Bulk(None),
                len => Reply::Bulk(Some(self.blob(len)?)),
            },
            b'*' => match number(line) {
                -1 => Reply::Array(None),
                len => Reply::Array(Some(self.replies(len)?)),
            },
            b'_' => Reply::Null,
            b',' => Reply::Double(text(line)),
            b'#' => Reply::Boolean(line == b"t"),
            b'(' => Reply::BigNumber(text(line)),
            b'!' => Reply::BlobError(self.blob(number(line))?),
            b'=' => {
                let blob = self.blob(number(line))?;
                let (format, body) = blob.split_at(blob.len().min(4));
                let format = String::from_utf8_lossy(format)
                    .trim_end_matches(':')
                    .to_string();
                Reply::Verbatim(format, body.to_vec())
            }
            b'%' => Reply::Map(self.pairs(number(line))?),
            b'~' => Reply::Set(self.replies(number(line))?),
            b'>' => Reply::Push(self.replies(number(line))?),
            b'|' => {
                let attrs = self.pairs(number(line))?;
                Reply::Attribute(attrs, Box::new(self.reply()?))
            }
            other => panic!(
                "not a RESP reply: type byte {:?} in {:?}",
                char::from(other),
                abbreviated(self.input)
            ),
        };
        Some(reply)
    }

    /// The rest of the current line, without its CRLF.
    fn line(&mut self) -> Option<&'a [u8]> {
        let rest = &self.input[self.pos..];
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        self.pos += end + 2;
        Some(&rest[..end])
    }

    fn blob(&mut self, len: i64) -> Option<Vec<u8>> {
        let len = usize::try_from(len).expect("negative blob length");
        let end = self.pos + len;
        if self.input.len() < end + 2 {
            return None;
        }
        assert_eq!(
            &self.input[end..end + 2],
            b"\r\n",
            "blob not followed by CRLF"
        );
        let blob = self.input[self.pos..end].to_vec();
        self.pos = end + 2;
        Some(blob)
    }

    fn replies(&mut self, len: i64) -> Option<Vec<Reply>> {
        (0..len).map(|_| self.reply()).collect()
    }

    fn pairs(&mut self, len: i64) -> Option<Vec<(Reply, Reply)>> {
        (0..len)
            .map(|_| Some((self.reply()?, self.reply()?)))
            .collect()
    }
}

fn text(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

fn number(line: &[u8]) -> i64 {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a RESP length or integer: {:?}", line.escape_ascii()))
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A TCP connection that speaks RESP by hand.
pub struct RawConn {
    stream: TcpStream,
    /// Bytes read but not yet returned as replies.
    buffer: Vec<u8>,
}

impl RawConn {
    /// Connects to `addr`; reads fail after [`READ_TIMEOUT`].
    #[track_caller]
    pub fn connect(addr: SocketAddr) -> RawConn {
        RawConn::try_connect(addr).unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"))
    }

    /// Connects to `addr`, or says why not.
    pub fn try_connect(addr: SocketAddr) -> io::Result<RawConn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(RawConn {
            stream,
            buffer: Vec::new(),
        })
    }

    /// The socket, e.g. to clone it for a writer thread.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub fn set_read_timeout(&self, timeout: Duration) {
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("set read timeout");
    }

    /// Writes `bytes` as they are, in one `write_all`.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("cannot write {} bytes: {e}", bytes.len()));
    }

    /// Sends one command as a RESP array.
    pub fn send_command<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send(&encode_command(args));
    }

    /// Sends one command and reads its reply.
    pub fn request<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send_command(args);
        self.read_reply()
    }

    /// Sends one command and returns its reply's exact bytes.
    #[track_caller]
    pub fn request_raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send_command(args);
        self.read_raw_reply()
    }

    /// Reads one reply; panics on EOF, on a read error or after the read timeout.
    #[track_caller]
    pub fn read_reply(&mut self) -> Reply {
        let raw = self.read_raw_reply();
        Reply::parse(&raw).expect("a whole reply").0
    }

    /// Reads one reply and returns its bytes exactly as they came, for byte-for-byte comparison.
    #[track_caller]
    pub fn read_raw_reply(&mut self) -> Vec<u8> {
        match self.try_read_raw_reply() {
            Ok(Some(raw)) => raw,
            Ok(None) => panic!(
                "connection closed while waiting for a reply (unparsed: {:?})",
                abbreviated(&self.buffer)
            ),
            Err(e) => panic!("reading a reply failed: {e}"),
        }
    }

    /// Reads one reply's bytes; `Ok(None)` if the peer closed the connection first.
    pub fn try_read_raw_reply(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some((_, len)) = Reply::parse(&self.buffer) {
                return Ok(Some(self.buffer.drain(..len).collect()));
            }
            if self.fill()? == 0 {
                return Ok(None);
            }
        }
    }

    /// Asserts that nothing arrives for `wait`: `command`, sent last, is still held back
    /// (blocked, paused). Reads then time out after [`READ_TIMEOUT`] again.
    #[track_caller]
    pub fn assert_no_reply_within(&mut self, wait: Duration, command: &[&str]) {
        self.set_read_timeout(wait);
        match self.try_read_raw_reply() {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Ok(Some(raw)) => panic!(
                "{command:?} was answered while it should wait: {:?}",
                raw.escape_ascii().to_string()
            ),
            Ok(None) => panic!("the connection closed while {command:?} should wait"),
            Err(e) => panic!("reading while {command:?} should wait failed: {e}"),
        }
        self.set_read_timeout(READ_TIMEOUT);
    }

    /// Waits for the peer to close the connection, failing if it sends anything more first.
    /// A reset counts as closed: either way the client can tell the connection is gone.
    #[track_caller]
    pub fn assert_closed(&mut self) {
        let result = self.fill();
        match result {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Ok(_) => panic!(
                "expected the connection to be closed, got more bytes: {:?}",
                abbreviated(&self.buffer)
            ),
            Err(e) => panic!("expected the connection to be closed, read failed: {e}"),
        }
    }

    /// Reads what the socket has into the buffer; `Ok(0)` at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }
}

/// Sends each command to both connections (the proxy and a reference server), one at a time,
/// and requires the same reply bytes.
#[track_caller]
pub fn assert_same_replies(proxy: &mut RawConn, redis: &mut RawConn, commands: &[&[&str]]) {
    for command in commands {
        proxy.send(&encode_command(command));
        redis.send(&encode_command(command));
        let (ours, theirs) = (proxy.read_raw_reply(), redis.read_raw_reply());
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "{command:?}"
        );
    }
}
