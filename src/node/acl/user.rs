//! An ACL user: its flags, password hashes and selectors, changed by rules as `ACL SETUSER`,
//! `user` directives and the ACL file write them (Redis 7.0's `ACLSetUser`).

use super::password::hex_digest;
use super::selector::{has_spaces, Denial, Selector};
use super::RuleError;
use crate::command::CommandSpec;
use crate::resp::Command;

/// `skip-sanitize-payload` / `sanitize-payload`, when either was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sanitize {
    Skip,
    Always,
}

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Vec<u8>,
    pub enabled: bool,
    pub nopass: bool,
    pub sanitize: Option<Sanitize>,
    /// SHA-256 hex digests of the passwords, in the order they were added.
    pub passwords: Vec<String>,
    /// The root selector first, then the `(...)` selectors in the order they were added.
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user as Redis creates one: off, no password, allowed nothing (but all channels
    /// when `acl-pubsub-default` is `allchannels`).
    pub fn new(name: &[u8], all_channels: bool) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(all_channels)],
        }
    }

    /// The `default` user of a fresh server: `on nopass ~* &* +@all`.
    pub fn new_default() -> User {
        let mut user = User::new(b"default", false);
        for rule in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = user.apply(rule.as_bytes(), false);
        }
        user
    }

    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// Whether the user may run anything at all, so that commands need no check: one
    /// selector that allows every command, key and channel.
    pub fn unrestricted(&self) -> bool {
        self.selectors.len() == 1 && self.selectors[0].allows_everything()
    }

    /// Whether `password` logs this user in (an enabled user, with `nopass` or a matching
    /// hash).
    pub fn accepts(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hashed = hex_digest(password);
        // Compared in full every time, so the time taken tells nothing about the hashes.
        self.passwords.iter().fold(false, |found, p| {
            found | constant_time_eq(p.as_bytes(), hashed.as_bytes())
        })
    }

    /// Applies one rule (Redis's `ACLSetUser`); `all_channels` is `acl-pubsub-default`.
    pub fn apply(&mut self, op: &[u8], all_channels: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = Some(Sanitize::Skip);
        } else if is("sanitize-payload") {
            self.sanitize = Some(Sanitize::Always);
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hex_digest(&op[1..])
            } else {
                valid_hash(&op[1..])?
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hex_digest(&op[1..])
            } else {
                valid_hash(&op[1..])?
            };
            let at = self
                .passwords
                .iter()
                .position(|p| *p == hash)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let inner = &op[1..op.len() - 1];
            self.selectors
                .push(Selector::from_rules(inner, all_channels)?);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            self.nopass = false;
            self.passwords.clear();
            let root = &mut self.selectors[0];
            root.all_keys = false;
            root.keys.clear();
            root.all_channels = all_channels;
            root.channels.clear();
            self.enabled = false;
            self.sanitize = Some(Sanitize::Always);
            self.selectors.truncate(1);
            self.selectors[0].apply(b"-@all")?;
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// Whether the user may run `cmd`: some selector allows all of it. Otherwise the refusal
    /// Redis reports: a command refusal only if no selector got past the command, else the
    /// last key or channel no selector allowed.
    pub fn check(&self, spec: &CommandSpec, cmd: &Command) -> Result<(), Denial> {
        let mut keys = None;
        let mut relevant = Denial::Command;
        for selector in &self.selectors {
            match selector.check(spec, cmd, &mut keys) {
                Ok(()) => return Ok(()),
                Err(denial) => {
                    if denial.outranks(relevant) {
                        relevant = denial;
                    }
                }
            }
        }
        Err(relevant)
    }

    /// Whether some selector allows the channel (`literal`: a `PSUBSCRIBE` pattern).
    pub fn allows_channel(&self, channel: &[u8], literal: bool) -> bool {
        self.selectors
            .iter()
            .any(|s| s.allows_channel(channel, literal))
    }

    /// The flags as Redis names them, in its order.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            flags.push("nopass");
        }
        match self.sanitize {
            Some(Sanitize::Skip) => flags.push("skip-sanitize-payload"),
            Some(Sanitize::Always) => flags.push("sanitize-payload"),
            None => {}
        }
        flags
    }

    /// The user as rules (`ACL LIST`, the ACL file), without the `user <name>` prefix.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for flag in self.flag_names() {
            out.extend_from_slice(flag.as_bytes());
            out.push(b' ');
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&self.selectors[0].describe());
        for s in &self.selectors[1..] {
            out.extend_from_slice(b" (");
            out.extend_from_slice(&s.describe());
            out.push(b')');
        }
        out
    }

    /// `user <name> <rules>`, a line of `ACL LIST` and of the ACL file.
    pub fn line(&self) -> Vec<u8> {
        let mut out = b"user ".to_vec();
        out.extend_from_slice(&self.name);
        out.push(b' ');
        out.extend_from_slice(&self.describe());
        out
    }
}

/// Redis refuses spaces and NUL in user names.
pub fn valid_name(name: &[u8]) -> bool {
    !has_spaces(name)
}

fn valid_hash(hash: &[u8]) -> Result<String, RuleError> {
    if hash.len() != 64 || !hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(hash).into_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Joins rules that spread one selector over several arguments (`(~a` `+get)`) back into
/// one, as Redis does for `ACL SETUSER` and configuration lines. Err: the index of the
/// argument whose parenthesis is never closed.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, &op) in args.iter().enumerate() {
        if let Some((start, mut selector)) = open.take() {
            selector.push(b' ');
            selector.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(selector);
            } else {
                open = Some((start, selector));
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((i, op.to_vec()));
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::Command;

    fn user(rules: &[&str]) -> User {
        let mut u = User::new(b"u", false);
        for r in rules {
            u.apply(r.as_bytes(), false).unwrap();
        }
        u
    }

    fn line(u: &User) -> String {
        String::from_utf8(u.line()).unwrap()
    }

    #[test]
    fn describes_like_redis() {
        assert_eq!(
            line(&User::new_default()),
            "user default on nopass ~* &* +@all"
        );
        assert_eq!(
            line(&user(&["reset"])),
            "user u off sanitize-payload resetchannels -@all"
        );
        assert_eq!(
            line(&user(&["on", ">a", ">a", ">b", "<a"])),
            "user u on #3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d resetchannels -@all"
        );
        assert_eq!(
            line(&user(&["()", "(+get ~a)"])),
            "user u off resetchannels -@all (resetchannels -@all) (~a resetchannels -@all +get)"
        );
        let mut u = User::new(b"u", true);
        u.apply(b"(+get)", true).unwrap();
        assert_eq!(line(&u), "user u off &* -@all (&* -@all +get)");
    }

    #[test]
    fn passwords() {
        let u = user(&["on", ">secret"]);
        assert!(u.accepts(b"secret"));
        assert!(!u.accepts(b"other"));
        let off = user(&[">secret"]);
        assert!(!off.accepts(b"secret"));
        assert!(user(&["on", "nopass"]).accepts(b"anything"));
        let mut u = user(&[]);
        assert_eq!(u.apply(b"<zz", false), Err(RuleError::NoSuchPassword));
        assert_eq!(u.apply(b"#abc", false), Err(RuleError::BadHash));
        assert_eq!(u.apply(b"(on)", false), Err(RuleError::Syntax));
    }

    /// Whatever the rules, the description rebuilds the same permissions.
    #[test]
    fn descriptions_rebuild_the_user() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        const POOL: &[&str] = &[
            "on",
            "off",
            "nopass",
            ">a",
            ">b",
            "<a",
            "~k*",
            "%R~r*",
            "%W~w*",
            "allkeys",
            "resetkeys",
            "&c*",
            "allchannels",
            "resetchannels",
            "+@all",
            "-@all",
            "+get",
            "-get",
            "+client",
            "-client|kill",
            "+client|list",
            "+select|0",
            "+select|1",
            "+config|get",
            "-config",
            "(+set ~s*)",
            "(&x +publish)",
            "clearselectors",
            "reset",
            "skip-sanitize-payload",
        ];
        const CATS: &[&str] = &[
            "read",
            "write",
            "admin",
            "fast",
            "slow",
            "dangerous",
            "string",
        ];
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let mut u = User::new(b"u", false);
            for _ in 0..rng.gen_range(1..10) {
                let rule = if rng.gen_bool(0.4) {
                    let sign = if rng.gen_bool(0.5) { '+' } else { '-' };
                    format!("{sign}@{}", CATS[rng.gen_range(0..CATS.len())])
                } else {
                    POOL[rng.gen_range(0..POOL.len())].to_string()
                };
                let _ = u.apply(rule.as_bytes(), false);
            }
            let described = u.describe();
            let words: Vec<&[u8]> = described.split(|&b| b == b' ').collect();
            let mut again = User::new(b"u", false);
            for rule in merge_selector_args(&words).unwrap() {
                again.apply(&rule, false).unwrap();
            }
            assert_eq!(
                again.describe(),
                described,
                "{}",
                String::from_utf8_lossy(&described)
            );
            for (a, b) in u.selectors.iter().zip(&again.selectors) {
                assert!(a.commands.same_commands(&b.commands));
            }
        }
    }

    /// Rules made of the characters rules are parsed by never panic, and whatever they
    /// build still describes itself.
    #[test]
    fn arbitrary_rules_never_panic() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        const ALPHABET: &[u8] = b"+-@~%&()|<>#!RWrw *a\"\\'\0\tgetclinsu";
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..20_000 {
            let len = rng.gen_range(0..12);
            let rule: Vec<u8> = (0..len)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
                .collect();
            let mut u = User::new(b"u", rng.gen_bool(0.5));
            let _ = u.apply(&rule, false);
            let _ = u.describe();
            let _ = merge_selector_args(&[&rule, b"x)"]);
        }
    }

    #[test]
    fn checks_pick_the_refusal_redis_reports() {
        let table = crate::command::table();
        let run = |u: &User, args: &[&str]| {
            let cmd = Command::from_args(args);
            let spec = table.lookup(&cmd).unwrap();
            u.check(spec, &cmd)
        };
        assert!(User::new_default().unrestricted());
        let u = user(&["+get", "+mget", "~a*", "(+mget ~b*)", "(+set ~z)"]);
        assert!(!u.unrestricted());
        assert_eq!(run(&u, &["GET", "a1"]), Ok(()));
        assert_eq!(run(&u, &["MGET", "b1", "b2"]), Ok(()));
        assert_eq!(run(&u, &["DEL", "a1"]), Err(Denial::Command));
        // Both selectors that know MGET refuse a key: the later argument is reported.
        assert_eq!(run(&u, &["MGET", "a1", "b1"]), Err(Denial::Key(2)));
        assert_eq!(run(&u, &["MGET", "c1", "a1"]), Err(Denial::Key(1)));
        let u = user(&["+publish", "+psubscribe", "&news.*", "~*"]);
        assert_eq!(run(&u, &["PUBLISH", "news.a", "m"]), Ok(()));
        assert_eq!(run(&u, &["PUBLISH", "sport", "m"]), Err(Denial::Channel(1)));
        assert_eq!(run(&u, &["PSUBSCRIBE", "news.*"]), Ok(()));
        assert_eq!(run(&u, &["PSUBSCRIBE", "news.a"]), Err(Denial::Channel(1)));
        // First-argument rules.
        let u = user(&["+select|0", "+client|list"]);
        assert_eq!(run(&u, &["SELECT", "0"]), Ok(()));
        assert_eq!(run(&u, &["SELECT", "1"]), Err(Denial::Command));
        assert_eq!(run(&u, &["CLIENT", "LIST"]), Ok(()));
        assert_eq!(run(&u, &["CLIENT", "KILL", "x"]), Err(Denial::Command));
        // AUTH is for everybody.
        assert_eq!(run(&u, &["AUTH", "x"]), Ok(()));
    }

    #[test]
    fn selector_arguments_merge() {
        let args: Vec<&[u8]> = vec![b"on", b"(+get", b"~a)", b"(~b)"];
        assert_eq!(
            merge_selector_args(&args).unwrap(),
            vec![b"on".to_vec(), b"(+get ~a)".to_vec(), b"(~b)".to_vec()]
        );
        let args: Vec<&[u8]> = vec![b"on", b"(~a"];
        assert_eq!(merge_selector_args(&args), Err(1));
        let args: Vec<&[u8]> = vec![b"("];
        assert_eq!(merge_selector_args(&args), Err(0));
    }
}
