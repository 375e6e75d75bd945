//! A selector: one set of permissions (commands, key patterns, channel patterns). Every user
//! has a root selector (the rules written outside parentheses) and any number of further
//! selectors `(...)`; a command runs if one selector allows all of it (Redis 7.0).

use std::collections::BTreeMap;

use crate::command::{CommandSpec, Flags, KeySpecFlags};
use crate::node::glob;
use crate::resp::Command;

use super::command_set::{categories, category, lookup, with_subcommands, CommandSet};
use super::RuleError;

/// A key pattern with the access it grants (`~` both, `%R~` read, `%W~` write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub read: bool,
    pub write: bool,
}

impl KeyPattern {
    /// The pattern as a rule: `~p`, `%R~p` or `%W~p`.
    pub fn rule(&self) -> Vec<u8> {
        let mut out = match (self.read, self.write) {
            (true, false) => b"%R~".to_vec(),
            (false, true) => b"%W~".to_vec(),
            _ => b"~".to_vec(),
        };
        out.extend_from_slice(&self.pattern);
        out
    }
}

/// Why a selector refuses a command; ordered as Redis ranks them when choosing which
/// selector's refusal to report (a later key or channel argument wins a tie).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denial {
    Command,
    /// The argument at this index is a key no pattern allows.
    Key(usize),
    /// The argument at this index is a channel no pattern allows.
    Channel(usize),
}

impl Denial {
    fn rank(self) -> (u8, usize) {
        match self {
            Denial::Command => (1, 0),
            Denial::Key(i) => (2, i),
            Denial::Channel(i) => (4, i),
        }
    }

    /// Whether this refusal is the one to report rather than `other` (Redis: the worse
    /// reason, or the later argument for the same reason).
    pub fn outranks(self, other: Denial) -> bool {
        self.rank() > other.rank()
    }
}

/// One selector's permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub all_keys: bool,
    pub all_channels: bool,
    /// `+@all` / `allcommands` and no command removed since: every command, even one the
    /// table does not know.
    pub all_commands: bool,
    /// Set by `+@all` only, cleared by `-@all`: rule descriptions start from `+@all` rather
    /// than `-@all` (Redis's reserved "future commands" bit).
    pub future_commands: bool,
    pub commands: CommandSet,
    /// `+cmd|arg` rules: the first arguments allowed for an otherwise refused command, by id.
    pub first_args: BTreeMap<usize, Vec<Vec<u8>>>,
    pub keys: Vec<KeyPattern>,
    pub channels: Vec<Vec<u8>>,
}

impl Selector {
    /// A selector that allows nothing, except all channels when `acl-pubsub-default` is
    /// `allchannels`.
    pub fn new(all_channels: bool) -> Selector {
        Selector {
            all_keys: false,
            all_channels,
            all_commands: false,
            future_commands: false,
            commands: CommandSet::empty(),
            first_args: BTreeMap::new(),
            keys: Vec::new(),
            channels: Vec::new(),
        }
    }

    /// A selector from the rules between parentheses, `(~k* +get)`.
    pub fn from_rules(text: &[u8], all_channels: bool) -> Result<Selector, RuleError> {
        let mut selector = Selector::new(all_channels);
        let text = String::from_utf8_lossy(text);
        // Unbalanced quotes make Redis's splitter give up: the selector stays empty.
        let words = crate::node::config::split_args(&text).unwrap_or_default();
        for word in words {
            selector.apply(word.as_bytes())?;
        }
        Ok(selector)
    }

    /// Whether this selector allows everything: the default user's `+@all ~* &*`.
    pub fn allows_everything(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Applies one selector rule (Redis's `ACLSetSelector`).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Err(RuleError::Syntax);
        }
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if is("allkeys") || is("~*") {
            self.all_keys = true;
            self.keys.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.keys.clear();
        } else if is("allchannels") || is("&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.commands = CommandSet::full();
            self.all_commands = true;
            self.future_commands = true;
            self.first_args.clear();
        } else if is("nocommands") || is("-@all") {
            self.commands = CommandSet::empty();
            self.all_commands = false;
            self.future_commands = false;
            self.first_args.clear();
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAll);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
            self.all_channels = false;
        } else if op.len() >= 2 && (op[0] == b'+' || op[0] == b'-') && op[1] == b'@' {
            let cat = category(&op[2..]).ok_or(RuleError::UnknownName)?;
            if op[0] == b'+' {
                self.commands.add_all(&cat.affected);
            } else {
                self.commands.remove_all(&cat.affected);
                self.all_commands = false;
            }
            for id in 0..crate::command::table().len_all() {
                if cat.members.contains(id) {
                    self.first_args.remove(&id);
                }
            }
        } else if op[0] == b'+' {
            self.allow(&op[1..])?;
        } else if op[0] == b'-' {
            let spec = lookup(&op[1..]).ok_or(RuleError::UnknownName)?;
            self.change(spec, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        let (mut read, mut write) = (false, false);
        let mut offset = 1;
        if op[0] == b'%' {
            while offset < op.len() {
                match op[offset].to_ascii_uppercase() {
                    b'R' if !read => read = true,
                    b'W' if !write => write = true,
                    b'~' => {
                        offset += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
            if !read && !write {
                return Err(RuleError::Syntax);
            }
        } else {
            (read, write) = (true, true);
        }
        let pattern = &op[offset..];
        if read && write && pattern == b"*" {
            self.all_keys = true;
            self.keys.clear();
            return Ok(());
        }
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(existing) => {
                existing.read |= read;
                existing.write |= write;
            }
            None => self.keys.push(KeyPattern {
                pattern: pattern.to_vec(),
                read,
                write,
            }),
        }
        self.all_keys = false;
        Ok(())
    }

    /// `+name`: a command, a subcommand (`client|list`), or a first argument of a command
    /// without subcommands (`select|0`).
    fn allow(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let spec = lookup(name).ok_or(RuleError::UnknownName)?;
            self.change(spec, true);
            return Ok(());
        };
        let (base, arg) = (&name[..bar], &name[bar + 1..]);
        let spec = lookup(base).ok_or(RuleError::UnknownName)?;
        if spec.container_name().is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if arg.is_empty() {
            return Err(RuleError::Syntax);
        }
        if spec.is_container() {
            let sub = lookup(name).ok_or(RuleError::UnknownName)?;
            self.change(sub, true);
        } else {
            let args = self.first_args.entry(spec.id()).or_default();
            if !args.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
                args.push(arg.to_vec());
            }
        }
        Ok(())
    }

    /// Turns a command (with its subcommands) on or off, dropping its first-argument rules.
    fn change(&mut self, spec: &CommandSpec, on: bool) {
        let ids = with_subcommands(spec);
        if on {
            self.commands.add_all(&ids);
        } else {
            self.commands.remove_all(&ids);
            self.all_commands = false;
        }
        self.first_args.remove(&spec.id());
    }

    /// Whether the selector lets `cmd` (resolved to `spec`) run, given its keys.
    pub fn check(
        &self,
        spec: &CommandSpec,
        cmd: &Command,
        keys: &mut Option<crate::command::KeyRefs>,
    ) -> Result<(), Denial> {
        if !self.all_commands
            && !spec.flags().contains(Flags::NO_AUTH)
            && !self.commands.contains(spec.id())
        {
            let allowed = cmd.argc() >= 2
                && self.first_args.get(&spec.id()).is_some_and(|args| {
                    let at = if spec.container_name().is_some() {
                        2
                    } else {
                        1
                    };
                    cmd.get(at)
                        .is_some_and(|given| args.iter().any(|a| a.eq_ignore_ascii_case(given)))
                });
            if !allowed {
                return Err(Denial::Command);
            }
        }
        if !self.all_keys && spec.has_keys() {
            let keys = keys.get_or_insert_with(|| spec.keys_and_flags(cmd));
            for &(at, flags) in keys.iter() {
                if !self.allows_key(cmd.arg(at), flags) {
                    return Err(Denial::Key(at));
                }
            }
        }
        if !self.all_channels {
            let (from, literal) = match spec.full_name() {
                "publish" | "spublish" => (Some((1, 2)), false),
                "subscribe" | "ssubscribe" => (Some((1, cmd.argc())), false),
                "psubscribe" => (Some((1, cmd.argc())), true),
                _ => (None, false),
            };
            if let Some((first, end)) = from {
                for at in first..end.min(cmd.argc()) {
                    if !self.allows_channel(cmd.arg(at), literal) {
                        return Err(Denial::Channel(at));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether a key may be accessed the way `flags` says (Redis's `ACLSelectorCheckKey`).
    pub fn allows_key(&self, key: &[u8], flags: KeySpecFlags) -> bool {
        if self.all_keys {
            return true;
        }
        let need_read = flags.contains(KeySpecFlags::ACCESS);
        let need_write =
            flags.intersects(KeySpecFlags::INSERT | KeySpecFlags::DELETE | KeySpecFlags::UPDATE);
        self.keys.iter().any(|p| {
            (p.read || !need_read)
                && (p.write || !need_write)
                && glob::matches(&p.pattern, key, false)
        })
    }

    /// Whether a channel (or, `literal`, a pattern given to `PSUBSCRIBE`) is allowed: a
    /// channel matches the patterns as globs, a pattern must equal one of them.
    pub fn allows_channel(&self, channel: &[u8], literal: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if literal {
                    p == channel
                } else {
                    glob::matches(p, channel, false)
                }
            })
    }

    /// The selector as rules (`ACL LIST`): keys, channels, then commands.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.all_keys {
            out.extend_from_slice(b"~* ");
        } else {
            for k in &self.keys {
                out.extend_from_slice(&k.rule());
                out.push(b' ');
            }
        }
        if self.all_channels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        out.extend_from_slice(&self.describe_commands());
        out
    }

    /// The key patterns as `ACL GETUSER` shows them.
    pub fn keys_text(&self) -> Vec<u8> {
        if self.all_keys {
            return b"~*".to_vec();
        }
        join(self.keys.iter().map(KeyPattern::rule))
    }

    /// The channel patterns as `ACL GETUSER` shows them.
    pub fn channels_text(&self) -> Vec<u8> {
        if self.all_channels {
            return b"&*".to_vec();
        }
        join(self.channels.iter().map(|c| [b"&".as_slice(), c].concat()))
    }

    /// The command rules that rebuild this selector's command bits, as Redis 7.0 words them:
    /// `+@all` or `-@all`, then the categories that fit best, then single commands and first
    /// arguments. The single commands come in table order (Redis's order is its hash table's,
    /// which changes from one process to the next).
    pub fn describe_commands(&self) -> Vec<u8> {
        let additive = !self.future_commands;
        let mut rules: Vec<Vec<u8>> = Vec::new();
        let mut fake = Selector::new(false);
        if additive {
            rules.push(b"-@all".to_vec());
        } else {
            rules.push(b"+@all".to_vec());
            fake.commands = CommandSet::full();
        }
        let mut temp = self.commands;
        let cats = categories();
        let mut applied = vec![false; cats.len()];
        loop {
            let mut best = None;
            let (mut min_diff, mut max_same) = (u32::MAX, 0);
            for (j, cat) in cats.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_in(&cat.members);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some(j);
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some(j) = best else { break };
            let cat = &cats[j];
            if additive {
                fake.commands.add_all(&cat.affected);
                temp.remove_all(&cat.affected);
                rules.push(format!("+@{}", cat.name).into_bytes());
            } else {
                fake.commands.remove_all(&cat.affected);
                temp.add_all(&cat.affected);
                rules.push(format!("-@{}", cat.name).into_bytes());
            }
            applied[j] = true;
        }
        for spec in crate::command::table().iter() {
            self.describe_single(spec, &mut fake, &mut rules);
            for sub in spec.subcommands() {
                self.describe_single(sub, &mut fake, &mut rules);
            }
            if !self.commands.contains(spec.id()) {
                for arg in self.first_args.get(&spec.id()).into_iter().flatten() {
                    let mut rule = format!("+{}|", spec.full_name()).into_bytes();
                    rule.extend_from_slice(arg);
                    rules.push(rule);
                }
            }
        }
        join(rules.into_iter())
    }

    fn describe_single(&self, spec: &CommandSpec, fake: &mut Selector, rules: &mut Vec<Vec<u8>>) {
        let on = self.commands.contains(spec.id());
        if on != fake.commands.contains(spec.id()) {
            rules.push(format!("{}{}", if on { '+' } else { '-' }, spec.full_name()).into_bytes());
            fake.change(spec, on);
        }
    }
}

fn join(parts: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(&p);
    }
    out
}

/// Redis refuses whitespace and NUL in user names and patterns.
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&b| b == 0 || matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(rules: &[&str]) -> Selector {
        let mut s = Selector::new(false);
        for r in rules {
            s.apply(r.as_bytes()).unwrap();
        }
        s
    }

    fn text(s: &Selector) -> String {
        String::from_utf8(s.describe()).unwrap()
    }

    #[test]
    fn describes_like_redis() {
        assert_eq!(text(&sel(&[])), "resetchannels -@all");
        assert_eq!(text(&sel(&["+@all", "~*", "&*"])), "~* &* +@all");
        assert_eq!(
            text(&sel(&["+@read", "-get", "+@hyperloglog"])),
            "resetchannels -@all +@hyperloglog +@read -get"
        );
        assert_eq!(
            text(&sel(&["+@all", "-@string", "+get"])),
            "resetchannels +@all -@string +get"
        );
        assert_eq!(
            text(&sel(&["+@all", "-client", "+client|id"])),
            "resetchannels +@all -client +client|id"
        );
        assert_eq!(
            text(&sel(&["+@read", "+@write", "-@admin"])),
            "resetchannels -@all +@read +@write -pfdebug"
        );
        assert_eq!(
            text(&sel(&["%R~a", "%W~a", "%RW~b", "~c", "%R~c", "%WR~d"])),
            "~a ~b ~c ~d resetchannels -@all"
        );
        assert_eq!(text(&sel(&["%R"])), "%R~ resetchannels -@all");
        assert_eq!(
            text(&sel(&["+select", "+select|1"])),
            "resetchannels -@all +select"
        );
        assert_eq!(
            text(&sel(&["+@all", "-select", "+select|1"])),
            "resetchannels +@all -select +select|1"
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        let mut s = Selector::new(false);
        for (rule, err) in [
            ("%RR~a", RuleError::Syntax),
            ("%~a", RuleError::Syntax),
            ("+nocmd", RuleError::UnknownName),
            ("+@nocat", RuleError::UnknownName),
            ("+client|list|x", RuleError::FirstArgOfSubcommand),
            ("+get|", RuleError::Syntax),
            ("-select|1", RuleError::UnknownName),
            ("+client|nosub", RuleError::UnknownName),
            ("+", RuleError::UnknownName),
            ("on", RuleError::Syntax),
        ] {
            assert_eq!(s.apply(rule.as_bytes()), Err(err), "{rule}");
        }
        s.apply(b"~*").unwrap();
        assert_eq!(s.apply(b"%R~a"), Err(RuleError::KeyAfterAll));
        s.apply(b"&*").unwrap();
        assert_eq!(s.apply(b"&a"), Err(RuleError::ChannelAfterAll));
    }

    #[test]
    fn read_and_write_patterns_follow_key_flags() {
        let s = sel(&["%R~r*", "%W~w*"]);
        assert!(s.allows_key(b"r1", KeySpecFlags::RO | KeySpecFlags::ACCESS));
        assert!(!s.allows_key(b"w1", KeySpecFlags::RO | KeySpecFlags::ACCESS));
        assert!(s.allows_key(b"w1", KeySpecFlags::OW | KeySpecFlags::UPDATE));
        assert!(!s.allows_key(b"r1", KeySpecFlags::RW | KeySpecFlags::UPDATE));
        // No access flags at all (EXISTS): any pattern that matches will do.
        assert!(s.allows_key(b"w1", KeySpecFlags::RO));
        assert!(!s.allows_key(b"x", KeySpecFlags::RO));
    }
}
