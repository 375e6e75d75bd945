//! Finding a command's keys.
//!
//! Most commands' keys follow from their key specs ([`super::key_spec::search`]). The commands
//! for which Redis has a key-finding function of its own (a `getkeys_proc` in `db.c`) get a
//! port of that function here, because Redis Cluster routes by it (`getKeysFromCommand`), and
//! where the arguments that locate the keys are invalid they get the error the command itself
//! replies with, so that a proxy can answer it without guessing a node.

use smallvec::SmallVec;

use super::error::CommandError;
use super::flags::KeySpecFlags;
use super::key_spec::{search, search_with, KeySpec, SpecFilter};
use crate::resp::{parse_i64, Command};

/// Argument indices of keys; four fit without a heap allocation.
pub type KeyIndices = SmallVec<[usize; 4]>;

/// Argument indices of keys, each with how the command uses the key.
pub type KeyRefs = SmallVec<[(usize, KeySpecFlags); 4]>;

/// How a command's keys are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFinder {
    /// The key specs alone (every command without a `getkeys_proc`).
    Specs,
    /// `SET` and `BITFIELD`: the key specs, whose access flags (`variable_flags`) a function
    /// of Redis's refines from the arguments.
    Set,
    Bitfield,
    /// `EVAL`, `EVAL_RO`; `EVALSHA`, `EVALSHA_RO` (`sha`): `script numkeys key… arg…`.
    Eval {
        sha: bool,
    },
    /// `FCALL`, `FCALL_RO`: `function numkeys key… arg…`.
    Fcall,
    /// `ZUNION`/`ZINTER`/`ZDIFF`/`ZINTERCARD` (numkeys at 1) and their `…STORE` forms
    /// (destination at 1, numkeys at 2).
    SortedSetOp {
        numkeys_at: usize,
    },
    /// `SINTERCARD numkeys key…`.
    SetInterCard,
    /// `LMPOP`/`ZMPOP` (numkeys at 1), `BLMPOP`/`BZMPOP` (timeout first, numkeys at 2).
    MultiPop {
        numkeys_at: usize,
    },
    /// `SORT key … [STORE dest]`.
    Sort,
    /// `SORT_RO key …`.
    SortRo,
    /// `MIGRATE host port key|"" db timeout … [KEYS key…]`.
    Migrate,
    /// `GEORADIUS`/`GEORADIUSBYMEMBER key … [STORE k] [STOREDIST k]`.
    GeoRadius,
    /// `XREAD` and `XREADGROUP` (`group`): `… STREAMS key… id…`.
    XRead {
        group: bool,
    },
}

impl KeyFinder {
    /// The finder Redis 7.0 uses for the command named `full_name`.
    pub(crate) fn for_command(full_name: &str) -> KeyFinder {
        match full_name {
            "eval" | "eval_ro" => KeyFinder::Eval { sha: false },
            "evalsha" | "evalsha_ro" => KeyFinder::Eval { sha: true },
            "fcall" | "fcall_ro" => KeyFinder::Fcall,
            "zunion" | "zinter" | "zdiff" | "zintercard" => {
                KeyFinder::SortedSetOp { numkeys_at: 1 }
            }
            "zunionstore" | "zinterstore" | "zdiffstore" => {
                KeyFinder::SortedSetOp { numkeys_at: 2 }
            }
            "sintercard" => KeyFinder::SetInterCard,
            "lmpop" | "zmpop" => KeyFinder::MultiPop { numkeys_at: 1 },
            "blmpop" | "bzmpop" => KeyFinder::MultiPop { numkeys_at: 2 },
            "sort" => KeyFinder::Sort,
            "sort_ro" => KeyFinder::SortRo,
            "migrate" => KeyFinder::Migrate,
            "georadius" | "georadiusbymember" => KeyFinder::GeoRadius,
            "xread" => KeyFinder::XRead { group: false },
            "xreadgroup" => KeyFinder::XRead { group: true },
            "set" => KeyFinder::Set,
            "bitfield" => KeyFinder::Bitfield,
            _ => KeyFinder::Specs,
        }
    }

    /// The key indices of `cmd` (whose arity has been checked), or the error Redis answers
    /// `cmd` with because its key-locating arguments are invalid. `full_name` names the command
    /// in error texts.
    pub(crate) fn find(
        self,
        specs: &[KeySpec],
        full_name: &'static str,
        cmd: &Command,
    ) -> Result<KeyIndices, CommandError> {
        let mut keys = KeyIndices::new();
        match self {
            KeyFinder::Specs | KeyFinder::Set | KeyFinder::Bitfield => {
                if search(specs, cmd, SpecFilter::Keys, &mut keys).is_err() {
                    // Only reachable with an arity Redis would have refused: no keys.
                    keys.clear();
                }
            }
            KeyFinder::Eval { sha } => eval_keys(cmd, sha, &mut keys)?,
            KeyFinder::Fcall => fcall_keys(cmd, &mut keys),
            KeyFinder::SortedSetOp { numkeys_at } => {
                sorted_set_op_keys(cmd, numkeys_at, full_name, &mut keys)?
            }
            KeyFinder::SetInterCard => set_inter_card_keys(cmd, &mut keys)?,
            KeyFinder::MultiPop { numkeys_at } => multi_pop_keys(cmd, numkeys_at, &mut keys)?,
            KeyFinder::Sort => sort_keys(cmd, &mut keys),
            KeyFinder::SortRo => keys.push(1),
            KeyFinder::Migrate => migrate_keys(cmd, &mut keys)?,
            KeyFinder::GeoRadius => georadius_keys(cmd, &mut keys),
            KeyFinder::XRead { group } => xread_keys(cmd, group, &mut keys)?,
        }
        // A command whose arity was not checked may be too short for the fixed positions.
        keys.retain(|i| *i < cmd.argc());
        Ok(keys)
    }
}

impl KeyFinder {
    /// The keys of `cmd` with their access flags, as `COMMAND GETKEYS`, `COMMAND
    /// GETKEYSANDFLAGS` and ACL key permissions find them (`getKeysFromCommandWithSpecs`): the
    /// key specs when they describe the keys completely and with fixed flags, else Redis's
    /// `getkeys_proc` for the command. The procs give flags only where the specs cannot (`SET`,
    /// `BITFIELD`, `SORT`, `SORT_RO`, `MIGRATE`); the others name keys without flags. Empty
    /// where Redis finds no key, which `COMMAND GETKEYS` answers as invalid arguments.
    pub(crate) fn find_with_flags(self, specs: &[KeySpec], cmd: &Command) -> KeyRefs {
        let has_keys = specs
            .iter()
            .any(|s| !s.flags.contains(KeySpecFlags::NOT_KEY));
        let fixed_flags = specs
            .iter()
            .all(|s| !s.flags.contains(KeySpecFlags::VARIABLE_FLAGS));
        let mut keys = KeyRefs::new();
        if has_keys && fixed_flags {
            let found = search_with(specs, cmd, SpecFilter::Keys, |at, flags| {
                keys.push((at, flags))
            });
            if found.is_ok() {
                return keys;
            }
            keys.clear();
        }
        let none = KeySpecFlags::empty();
        let argc = cmd.argc();
        match self {
            KeyFinder::Specs => {}
            KeyFinder::Set => {
                let get = cmd.args().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
                let flags = if get {
                    KeySpecFlags::RW | KeySpecFlags::ACCESS | KeySpecFlags::UPDATE
                } else {
                    KeySpecFlags::OW | KeySpecFlags::UPDATE
                };
                keys.push((1, flags));
            }
            KeyFinder::Bitfield => keys.push((1, bitfield_flags(cmd))),
            KeyFinder::Eval { .. } | KeyFinder::Fcall => generic_keys(cmd, None, 2, &mut keys),
            KeyFinder::SortedSetOp { numkeys_at } => {
                let store = (numkeys_at == 2).then_some(1);
                generic_keys(cmd, store, numkeys_at, &mut keys)
            }
            KeyFinder::SetInterCard => generic_keys(cmd, None, 1, &mut keys),
            KeyFinder::MultiPop { numkeys_at } => generic_keys(cmd, None, numkeys_at, &mut keys),
            KeyFinder::Sort => {
                let mut found = KeyIndices::new();
                sort_keys(cmd, &mut found);
                let store = KeySpecFlags::OW | KeySpecFlags::UPDATE;
                keys.extend(found.into_iter().enumerate().map(|(n, at)| match n {
                    0 => (at, KeySpecFlags::RO | KeySpecFlags::ACCESS),
                    _ => (at, store),
                }));
            }
            KeyFinder::SortRo => keys.push((1, KeySpecFlags::RO | KeySpecFlags::ACCESS)),
            KeyFinder::Migrate => {
                let flags = KeySpecFlags::RW | KeySpecFlags::ACCESS | KeySpecFlags::DELETE;
                keys.extend(migrate_proc_keys(cmd).map(|at| (at, flags)));
            }
            KeyFinder::GeoRadius => {
                let mut found = KeyIndices::new();
                georadius_keys(cmd, &mut found);
                keys.extend(found.into_iter().map(|at| (at, none)));
            }
            KeyFinder::XRead { .. } => {
                keys.extend(xread_proc_keys(cmd).map(|at| (at, none)));
            }
        }
        keys.retain(|(at, _)| *at < argc);
        keys
    }
}

/// `genericGetKeys`: `numkeys` read with `atoi`, keys from the argument after it, and the
/// destination (if any) last; nothing when the count is below 1 or beyond the arguments.
fn generic_keys(cmd: &Command, store: Option<usize>, numkeys_at: usize, keys: &mut KeyRefs) {
    let first = numkeys_at + 1;
    let n = cmd.get(numkeys_at).map_or(0, atoi);
    let available = cmd.argc().saturating_sub(first) as i64;
    if n < 1 || n > available {
        return;
    }
    let none = KeySpecFlags::empty();
    keys.extend((first..first + n as usize).map(|at| (at, none)));
    keys.extend(store.map(|at| (at, none)));
}

/// C's `atoi` on well-behaved input: leading whitespace, a sign, then digits up to the first
/// other byte; 0 when there are none. Saturates where C would overflow.
fn atoi(arg: &[u8]) -> i64 {
    let s = arg.trim_ascii_start();
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative {
        -n
    } else {
        n
    }
}

/// `bitfieldGetKeys`: read-only when every subcommand is a complete `GET` (or `OVERFLOW`),
/// otherwise a read-write update; a malformed subcommand counts as a write.
fn bitfield_flags(cmd: &Command) -> KeySpecFlags {
    let argc = cmd.argc();
    let mut i = 2;
    while i < argc {
        let more = argc - i - 1;
        let arg = cmd.arg(i);
        if arg.eq_ignore_ascii_case(b"get") && more >= 2 {
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"overflow") && more >= 1 {
            i += 1;
        } else {
            return KeySpecFlags::RW | KeySpecFlags::ACCESS | KeySpecFlags::UPDATE;
        }
        i += 1;
    }
    KeySpecFlags::RO | KeySpecFlags::ACCESS
}

/// `migrateGetKeys`: the key at 3, or after a `KEYS` option every argument that follows it
/// (none if the key at 3 is not empty). Known options are skipped with their values; unknown
/// ones are stepped over, not refused.
fn migrate_proc_keys(cmd: &Command) -> std::ops::Range<usize> {
    let argc = cmd.argc();
    let mut i = 6;
    while i < argc {
        let arg = cmd.arg(i);
        if arg.eq_ignore_ascii_case(b"keys") {
            return if cmd.arg(3).is_empty() {
                i + 1..argc
            } else {
                0..0
            };
        }
        if arg.eq_ignore_ascii_case(b"auth") {
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"auth2") {
            i += 2;
        }
        i += 1;
    }
    3..4
}

/// `xreadGetKeys`: the options skipped by name up to `STREAMS`, then the first half of what
/// follows it; nothing on a syntax error or an odd count.
fn xread_proc_keys(cmd: &Command) -> std::ops::Range<usize> {
    let argc = cmd.argc();
    let mut i = 1;
    while i < argc {
        let arg = cmd.arg(i);
        if arg.eq_ignore_ascii_case(b"block") || arg.eq_ignore_ascii_case(b"count") {
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"group") {
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"streams") {
            let num = argc - i - 1;
            if num == 0 || !num.is_multiple_of(2) {
                return 0..0;
            }
            return i + 1..i + 1 + num / 2;
        } else if !arg.eq_ignore_ascii_case(b"noack") {
            return 0..0;
        }
        i += 1;
    }
    0..0
}

/// `numkeys` at `at`: `Some(n)` if it parses as Redis's `string2ll` does.
fn numkeys(cmd: &Command, at: usize) -> Option<i64> {
    cmd.get(at).and_then(parse_i64)
}

/// Pushes `first, first + 1, …` for `count` keys.
fn push_run(keys: &mut KeyIndices, first: usize, count: i64) {
    let count = usize::try_from(count).unwrap_or(0);
    keys.extend(first..first + count);
}

/// `evalGenericCommand`: numkeys must be an integer, at most the arguments left, not negative.
/// `EVALSHA` with a digest that is not 40 bytes long is answered `NOSCRIPT` before numkeys is
/// read: then the keys are found as Redis Cluster finds them (none if numkeys is invalid).
fn eval_keys(cmd: &Command, sha: bool, keys: &mut KeyIndices) -> Result<(), CommandError> {
    let available = cmd.argc() as i64 - 3;
    let n = numkeys(cmd, 2);
    if sha && cmd.get(1).map_or(0, <[u8]>::len) != 40 {
        if let Some(n) = n.filter(|&n| n >= 1 && n <= available) {
            push_run(keys, 3, n);
        }
        return Ok(());
    }
    let n = n.ok_or(CommandError::NotAnInteger)?;
    if n > available {
        return Err(CommandError::TooManyKeys);
    }
    if n < 0 {
        return Err(CommandError::NegativeKeyCount);
    }
    push_run(keys, 3, n);
    Ok(())
}

/// `FCALL` looks the function up before it reads numkeys, so an invalid numkeys has no answer
/// that does not depend on the node: no keys, and any node replies.
fn fcall_keys(cmd: &Command, keys: &mut KeyIndices) {
    let available = cmd.argc() as i64 - 3;
    if let Some(n) = numkeys(cmd, 2).filter(|&n| n >= 0 && n <= available) {
        push_run(keys, 3, n);
    }
}

/// `zunionInterDiffGenericCommand`: `[dest] numkeys key…`.
fn sorted_set_op_keys(
    cmd: &Command,
    numkeys_at: usize,
    full_name: &'static str,
    keys: &mut KeyIndices,
) -> Result<(), CommandError> {
    let n = numkeys(cmd, numkeys_at).ok_or(CommandError::NotAnInteger)?;
    if n < 1 {
        return Err(CommandError::NoInputKeys { command: full_name });
    }
    if n > cmd.argc() as i64 - (numkeys_at as i64 + 1) {
        return Err(CommandError::Syntax);
    }
    if numkeys_at == 2 {
        keys.push(1);
    }
    push_run(keys, numkeys_at + 1, n);
    Ok(())
}

/// `sinterCardCommand`: `numkeys key… [LIMIT n]`.
fn set_inter_card_keys(cmd: &Command, keys: &mut KeyIndices) -> Result<(), CommandError> {
    let n = numkeys(cmd, 1)
        .filter(|&n| n >= 1)
        .ok_or(CommandError::KeyCountNotPositive)?;
    if n > cmd.argc() as i64 - 2 {
        return Err(CommandError::TooManyKeys);
    }
    push_run(keys, 2, n);
    Ok(())
}

/// `lmpopGenericCommand`/`zmpopGenericCommand`: `numkeys key… LEFT|RIGHT|MIN|MAX [COUNT n]`;
/// the direction must follow the keys.
fn multi_pop_keys(
    cmd: &Command,
    numkeys_at: usize,
    keys: &mut KeyIndices,
) -> Result<(), CommandError> {
    let n = numkeys(cmd, numkeys_at)
        .filter(|&n| n >= 1)
        .ok_or(CommandError::KeyCountNotPositive)?;
    let direction_at = (numkeys_at as i64).saturating_add(n).saturating_add(1);
    if direction_at >= cmd.argc() as i64 {
        return Err(CommandError::Syntax);
    }
    push_run(keys, numkeys_at + 1, n);
    Ok(())
}

/// `sortGetKeys`: the sorted key, then the last `STORE` destination. Options are skipped with
/// the number of values Redis assumes for them; the scan goes on after a `STORE` so that the
/// last one wins, as in `SORT` itself.
fn sort_keys(cmd: &Command, keys: &mut KeyIndices) {
    keys.push(1);
    let mut store = None;
    let mut i = 2;
    while i < cmd.argc() {
        let arg = cmd.arg(i);
        if arg.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"get") || arg.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"store") && i + 1 < cmd.argc() {
            store = Some(i + 1);
        }
        i += 1;
    }
    keys.extend(store);
}

/// `migrateCommand`'s option parsing: the key at 3, or, after a `KEYS` option, every argument
/// that follows it (the key at 3 must then be empty). Options are skipped with their values,
/// as `migrateGetKeys` does, and an unknown or incomplete option is the command's syntax error.
fn migrate_keys(cmd: &Command, keys: &mut KeyIndices) -> Result<(), CommandError> {
    let argc = cmd.argc();
    let mut i = 6;
    while i < argc {
        let more = argc - 1 - i;
        let arg = cmd.arg(i);
        if arg.eq_ignore_ascii_case(b"copy") || arg.eq_ignore_ascii_case(b"replace") {
        } else if arg.eq_ignore_ascii_case(b"auth") && more >= 1 {
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"auth2") && more >= 2 {
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"keys") {
            if !cmd.arg(3).is_empty() {
                return Err(CommandError::MigrateKeysWithKey);
            }
            keys.extend(i + 1..argc);
            return Ok(());
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    keys.push(3);
    Ok(())
}

/// `georadiusGetKeys`: the source key, then the destination of the last `STORE`/`STOREDIST`
/// (the one the command writes to).
fn georadius_keys(cmd: &Command, keys: &mut KeyIndices) {
    keys.push(1);
    let mut stored = None;
    let mut i = 5;
    while i < cmd.argc() {
        let arg = cmd.arg(i);
        if (arg.eq_ignore_ascii_case(b"store") || arg.eq_ignore_ascii_case(b"storedist"))
            && i + 1 < cmd.argc()
        {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    keys.extend(stored);
}

/// `xreadCommand`'s option parsing up to `STREAMS`, with its errors, then the first half of
/// the arguments after `STREAMS`.
fn xread_keys(cmd: &Command, group: bool, keys: &mut KeyIndices) -> Result<(), CommandError> {
    let argc = cmd.argc();
    let mut streams_at = None;
    let mut has_group = false;
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        let arg = cmd.arg(i);
        if arg.eq_ignore_ascii_case(b"block") && more > 0 {
            i += 1;
            check_block_timeout(cmd.arg(i))?;
        } else if arg.eq_ignore_ascii_case(b"count") && more > 0 {
            i += 1;
            parse_i64(cmd.arg(i)).ok_or(CommandError::NotAnInteger)?;
        } else if arg.eq_ignore_ascii_case(b"streams") && more > 0 {
            if more % 2 == 1 {
                return Err(CommandError::UnbalancedStreams);
            }
            streams_at = Some(i + 1);
            break;
        } else if arg.eq_ignore_ascii_case(b"group") && more >= 2 {
            if !group {
                return Err(CommandError::GroupOnlyOption { option: "GROUP" });
            }
            has_group = true;
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"noack") {
            if !group {
                return Err(CommandError::GroupOnlyOption { option: "NOACK" });
            }
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let streams_at = streams_at.ok_or(CommandError::Syntax)?;
    if group && !has_group {
        return Err(CommandError::MissingGroup);
    }
    let count = (argc - streams_at) / 2;
    keys.extend(streams_at..streams_at + count);
    Ok(())
}

/// `getTimeoutFromObjectOrReply` for milliseconds: an integer, not negative. (Redis 7.0 has no
/// upper bound: a huge timeout blocks for good.)
fn check_block_timeout(arg: &[u8]) -> Result<(), CommandError> {
    let ms = parse_i64(arg).ok_or(CommandError::TimeoutNotAnInteger)?;
    if ms < 0 {
        return Err(CommandError::NegativeTimeout);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(finder: KeyFinder, args: &[&str]) -> Result<Vec<usize>, CommandError> {
        finder
            .find(&[], "cmd", &Command::from_args(args))
            .map(|k| k.to_vec())
    }

    #[test]
    fn eval_checks_numkeys_like_redis() {
        let eval = KeyFinder::Eval { sha: false };
        assert_eq!(
            find(eval, &["eval", "s", "2", "a", "b", "c"]),
            Ok(vec![3, 4])
        );
        assert_eq!(find(eval, &["eval", "s", "0"]), Ok(vec![]));
        assert_eq!(
            find(eval, &["eval", "s", "2", "a"]),
            Err(CommandError::TooManyKeys)
        );
        assert_eq!(
            find(eval, &["eval", "s", "-1"]),
            Err(CommandError::NegativeKeyCount)
        );
        assert_eq!(
            find(eval, &["eval", "s", "2x", "a", "b"]),
            Err(CommandError::NotAnInteger)
        );
        let evalsha = KeyFinder::Eval { sha: true };
        let sha = "0123456789012345678901234567890123456789";
        assert_eq!(
            find(evalsha, &["evalsha", sha, "3", "a"]),
            Err(CommandError::TooManyKeys)
        );
        // A short digest is answered NOSCRIPT first.
        assert_eq!(find(evalsha, &["evalsha", "abc", "3", "a"]), Ok(vec![]));
        assert_eq!(find(evalsha, &["evalsha", "abc", "1", "a"]), Ok(vec![3]));
        assert_eq!(
            find(KeyFinder::Fcall, &["fcall", "f", "9", "a"]),
            Ok(vec![])
        );
        assert_eq!(
            find(KeyFinder::Fcall, &["fcall", "f", "1", "a"]),
            Ok(vec![3])
        );
    }

    #[test]
    fn numkeys_families() {
        let zstore = KeyFinder::SortedSetOp { numkeys_at: 2 };
        assert_eq!(
            find(
                zstore,
                &["zunionstore", "d", "2", "a", "b", "weights", "1", "2"]
            ),
            Ok(vec![1, 3, 4])
        );
        assert_eq!(
            find(zstore, &["zunionstore", "d", "0", "a"]),
            Err(CommandError::NoInputKeys { command: "cmd" })
        );
        assert_eq!(
            find(zstore, &["zunionstore", "d", "3", "a", "b"]),
            Err(CommandError::Syntax)
        );
        assert_eq!(
            find(KeyFinder::SetInterCard, &["sintercard", "x", "a"]),
            Err(CommandError::KeyCountNotPositive)
        );
        assert_eq!(
            find(KeyFinder::SetInterCard, &["sintercard", "3", "a"]),
            Err(CommandError::TooManyKeys)
        );
        let blmpop = KeyFinder::MultiPop { numkeys_at: 2 };
        assert_eq!(
            find(blmpop, &["blmpop", "0", "2", "a", "b", "left"]),
            Ok(vec![3, 4])
        );
        assert_eq!(
            find(blmpop, &["blmpop", "0", "2", "a", "b"]),
            Err(CommandError::Syntax)
        );
        assert_eq!(
            find(
                KeyFinder::MultiPop { numkeys_at: 1 },
                &["lmpop", "9223372036854775807", "a", "left"]
            ),
            Err(CommandError::Syntax)
        );
    }

    #[test]
    fn sort_migrate_georadius() {
        assert_eq!(
            find(
                KeyFinder::Sort,
                &["sort", "k", "by", "store", "get", "#", "store", "d", "limit", "0", "1"]
            ),
            Ok(vec![1, 7])
        );
        assert_eq!(
            find(KeyFinder::Sort, &["sort", "k", "store", "a", "store", "b"]),
            Ok(vec![1, 5])
        );
        assert_eq!(find(KeyFinder::Sort, &["sort", "k", "store"]), Ok(vec![1]));
        assert_eq!(
            find(
                KeyFinder::Migrate,
                &["migrate", "h", "p", "", "0", "5", "COPY", "KEYS", "a", "b"]
            ),
            Ok(vec![8, 9])
        );
        assert_eq!(
            find(
                KeyFinder::Migrate,
                &["migrate", "h", "p", "k", "0", "5", "KEYS", "a"]
            ),
            Err(CommandError::MigrateKeysWithKey)
        );
        assert_eq!(
            find(
                KeyFinder::Migrate,
                &["migrate", "h", "p", "", "0", "5", "AUTH", "keys", "KEYS", "a"]
            ),
            Ok(vec![9])
        );
        assert_eq!(
            find(KeyFinder::Migrate, &["migrate", "h", "p", "k", "0", "5"]),
            Ok(vec![3])
        );
        assert_eq!(
            find(
                KeyFinder::Migrate,
                &["migrate", "h", "p", "k", "0", "5", "AUTH"]
            ),
            Err(CommandError::Syntax)
        );
        assert_eq!(
            find(
                KeyFinder::GeoRadius,
                &[
                    "georadius",
                    "k",
                    "0",
                    "0",
                    "1",
                    "km",
                    "STORE",
                    "a",
                    "STOREDIST",
                    "b"
                ]
            ),
            Ok(vec![1, 9])
        );
    }

    #[test]
    fn xread_parses_options() {
        let xread = KeyFinder::XRead { group: false };
        let xreadgroup = KeyFinder::XRead { group: true };
        assert_eq!(
            find(
                xread,
                &["xread", "COUNT", "1", "BLOCK", "0", "STREAMS", "a", "b", "0", "0"]
            ),
            Ok(vec![6, 7])
        );
        assert_eq!(
            find(
                xreadgroup,
                &[
                    "xreadgroup",
                    "COUNT",
                    "1",
                    "GROUP",
                    "g",
                    "streams",
                    "STREAMS",
                    "k",
                    ">"
                ]
            ),
            Ok(vec![7])
        );
        assert_eq!(
            find(xread, &["xread", "STREAMS", "a", "b", "c"]),
            Err(CommandError::UnbalancedStreams)
        );
        assert_eq!(
            find(xread, &["xread", "GROUP", "g", "c", "STREAMS", "a", "0"]),
            Err(CommandError::GroupOnlyOption { option: "GROUP" })
        );
        assert_eq!(
            find(xreadgroup, &["xreadgroup", "STREAMS", "a", "0"]),
            Err(CommandError::MissingGroup)
        );
        assert_eq!(
            find(xread, &["xread", "COUNT", "1", "a", "0"]),
            Err(CommandError::Syntax)
        );
        assert_eq!(
            find(xread, &["xread", "BLOCK", "-1", "STREAMS", "a", "0"]),
            Err(CommandError::NegativeTimeout)
        );
        assert_eq!(
            find(
                xread,
                &["xread", "BLOCK", "9223372036854775807", "STREAMS", "a", "0"]
            ),
            Ok(vec![4])
        );
        assert_eq!(
            find(xread, &["xread", "COUNT", "x", "STREAMS", "a", "0"]),
            Err(CommandError::NotAnInteger)
        );
    }
}
