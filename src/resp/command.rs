//! A client's command: its bytes as sent, plus where each argument lies in them.

use bytes::{BufMut, Bytes, BytesMut};
use smallvec::SmallVec;

use super::encode::write_array_header;

/// Argument offsets, `start..end` into [`Command::raw`]; most commands fit inline.
pub(crate) type ArgSpans = SmallVec<[(u32, u32); 6]>;

/// One command: always a valid RESP multibulk of bulk strings (inline commands are re-encoded),
/// so it can be written to a backend as it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    raw: Bytes,
    args: ArgSpans,
}

impl Command {
    pub(crate) fn from_parts(raw: Bytes, args: ArgSpans) -> Command {
        debug_assert!(!args.is_empty());
        Command { raw, args }
    }

    /// Encodes a command from its arguments. Panics if there are none: a command has a name.
    pub fn from_args<I, A>(args: I) -> Command
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let args: SmallVec<[A; 8]> = args.into_iter().collect();
        assert!(!args.is_empty(), "a command needs a name");
        let payload: usize = args.iter().map(|a| a.as_ref().len() + 16).sum();
        let mut buf = BytesMut::with_capacity(payload + 16);
        write_array_header(&mut buf, args.len());
        let mut spans = ArgSpans::with_capacity(args.len());
        for a in &args {
            let a = a.as_ref();
            buf.put_u8(b'$');
            let mut n = itoa::Buffer::new();
            buf.put_slice(n.format(a.len()).as_bytes());
            buf.put_slice(b"\r\n");
            let start = buf.len();
            buf.put_slice(a);
            spans.push((to_u32(start), to_u32(buf.len())));
            buf.put_slice(b"\r\n");
        }
        Command {
            raw: buf.freeze(),
            args: spans,
        }
    }

    /// The whole command as RESP, exactly as the client sent it (for multibulk input).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    pub fn argc(&self) -> usize {
        self.args.len()
    }

    /// The `i`th argument; `arg(0)` is the command name as the client spelled it.
    /// Panics if `i >= argc()`.
    pub fn arg(&self, i: usize) -> &[u8] {
        let (s, e) = self.args[i];
        &self.raw[s as usize..e as usize]
    }

    /// The `i`th argument without copying it.
    pub fn arg_bytes(&self, i: usize) -> Bytes {
        let (s, e) = self.args[i];
        self.raw.slice(s as usize..e as usize)
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        (i < self.argc()).then(|| self.arg(i))
    }

    pub fn name(&self) -> &[u8] {
        self.arg(0)
    }

    pub fn args(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.argc()).map(|i| self.arg(i))
    }

    /// The size a reply to this command should not be blamed for: the request's own bytes.
    pub fn len_bytes(&self) -> usize {
        self.raw.len()
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a command never exceeds 4 GiB: the query buffer limit is lower")
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for a in self.args() {
            l.entry(&String::from_utf8_lossy(a));
        }
        l.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_args_encodes_multibulk() {
        let c = Command::from_args(["SET", "k", ""]);
        assert_eq!(&c.raw()[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        assert_eq!(c.argc(), 3);
        assert_eq!(c.arg(1), b"k");
        assert_eq!(c.arg(2), b"");
        assert_eq!(c.name(), b"SET");
        assert_eq!(c.get(3), None);
    }
}
