//! Redis 7 key specs: where a command's keys start (`begin_search`) and how many follow
//! (`find_keys`), and the search Redis runs over them (`getKeysUsingKeySpecs` in `db.c`).

use super::flags::KeySpecFlags;
use super::keys::KeyIndices;
use crate::resp::{parse_i64, Command};

/// One key spec, as `COMMAND` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub notes: Option<Box<str>>,
    pub flags: KeySpecFlags,
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

/// Where the search for a spec's first key starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeginSearch {
    /// At this argument index.
    Index(i32),
    /// After the first argument equal (ignoring ASCII case) to `keyword`, searching forward from
    /// `start_from`, or backward from `argc + start_from` when it is negative.
    Keyword { keyword: Box<str>, start_from: i32 },
    /// Not describable; Redis falls back to the command's own key finder.
    Unknown,
}

/// Which arguments from the first key on are keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindKeys {
    /// Up to `last_key` (relative to the first key; negative counts from the end, or with a
    /// `limit`, covers `1/limit` of the remaining arguments), every `key_step`th.
    Range {
        last_key: i32,
        key_step: i32,
        limit: i32,
    },
    /// The argument at `key_num_idx` (relative to the first) says how many keys follow from
    /// `first_key` (relative too), every `key_step`th.
    KeyNum {
        key_num_idx: i32,
        first_key: i32,
        key_step: i32,
    },
    Unknown,
}

/// Why a spec search gave up; Redis then tries the command's own key finder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidSpec;

/// Which specs a search follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpecFilter {
    /// Real keys only: specs flagged `not_key` are skipped (what `COMMAND GETKEYS` does).
    Keys,
    /// Only the `not_key` specs: shard channels.
    NotKeys,
}

/// Runs Redis's key-spec search over `cmd`, appending key indices to `out` in spec order.
/// `Err` where Redis would fall back to the command's key finder: a spec that is unknown,
/// incomplete, or out of the argument bounds, or an unparsable numkeys.
pub(crate) fn search(
    specs: &[KeySpec],
    cmd: &Command,
    filter: SpecFilter,
    out: &mut KeyIndices,
) -> Result<(), InvalidSpec> {
    search_with(specs, cmd, filter, |at, _| out.push(at))
}

/// [`search`], handing each key's index to `found` with the flags of the spec that names it.
pub(crate) fn search_with(
    specs: &[KeySpec],
    cmd: &Command,
    filter: SpecFilter,
    mut found: impl FnMut(usize, KeySpecFlags),
) -> Result<(), InvalidSpec> {
    let argc = cmd.argc() as i64;
    for spec in specs {
        let not_key = spec.flags.contains(KeySpecFlags::NOT_KEY);
        if not_key != (filter == SpecFilter::NotKeys) {
            continue;
        }
        let first = match &spec.begin_search {
            BeginSearch::Index(pos) => i64::from(*pos),
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => match find_keyword(cmd, keyword.as_bytes(), i64::from(*start_from)) {
                Some(at) => at + 1,
                // Keyword absent: this spec names no key, and that is not an error.
                None => continue,
            },
            BeginSearch::Unknown => return Err(InvalidSpec),
        };
        let (first, last, step) = match spec.find_keys {
            FindKeys::Range {
                last_key,
                key_step,
                limit,
            } => {
                let (last_key, limit) = (i64::from(last_key), i64::from(limit));
                let last = if last_key >= 0 {
                    first + last_key
                } else if limit == 0 {
                    argc + last_key
                } else {
                    // C division: truncates toward zero, as Rust's does.
                    first + ((argc - first) / limit + last_key)
                };
                (first, last, key_step)
            }
            FindKeys::KeyNum {
                key_num_idx,
                first_key,
                key_step,
            } => {
                let at = first + i64::from(key_num_idx);
                if at < 0 || at >= argc {
                    return Err(InvalidSpec);
                }
                let num_keys = match parse_i64(cmd.arg(at as usize)) {
                    Some(n) if n >= 0 => n,
                    _ => return Err(InvalidSpec),
                };
                let first = first + i64::from(first_key);
                (first, first.saturating_add(num_keys) - 1, key_step)
            }
            FindKeys::Unknown => return Err(InvalidSpec),
        };
        if last >= argc || last < first || first >= argc || first < 0 {
            return Err(InvalidSpec);
        }
        let step = usize::try_from(step.max(1)).unwrap_or(1);
        for at in (first as usize..=last as usize).step_by(step) {
            found(at, spec.flags);
        }
        if spec.flags.contains(KeySpecFlags::INCOMPLETE) {
            return Err(InvalidSpec);
        }
    }
    Ok(())
}

/// The index of `keyword` as Redis's keyword search finds it: forward from `start_from` up to
/// (not including) the last argument, or backward from `argc + start_from` down to (not
/// including) argument 1.
fn find_keyword(cmd: &Command, keyword: &[u8], start_from: i64) -> Option<i64> {
    let argc = cmd.argc() as i64;
    let (start, end) = if start_from > 0 {
        (start_from, argc - 1)
    } else {
        (argc + start_from, 1)
    };
    let step = if start <= end { 1 } else { -1 };
    let mut i = start;
    while i != end {
        if i >= argc || i < 1 {
            break;
        }
        if cmd.arg(i as usize).eq_ignore_ascii_case(keyword) {
            return Some(i);
        }
        i += step;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(index: i32, last_key: i32, key_step: i32, limit: i32) -> KeySpec {
        KeySpec {
            notes: None,
            flags: KeySpecFlags::RW,
            begin_search: BeginSearch::Index(index),
            find_keys: FindKeys::Range {
                last_key,
                key_step,
                limit,
            },
        }
    }

    fn run(specs: &[KeySpec], args: &[&str]) -> Result<Vec<usize>, InvalidSpec> {
        let mut out = KeyIndices::new();
        search(specs, &Command::from_args(args), SpecFilter::Keys, &mut out)?;
        Ok(out.to_vec())
    }

    #[test]
    fn ranges_follow_last_key_step_and_limit() {
        assert_eq!(run(&[range(1, 0, 1, 0)], &["get", "k"]), Ok(vec![1]));
        assert_eq!(
            run(&[range(1, -1, 2, 0)], &["mset", "a", "1", "b", "2"]),
            Ok(vec![1, 3])
        );
        assert_eq!(
            run(&[range(1, -2, 1, 0)], &["blpop", "a", "b", "0"]),
            Ok(vec![1, 2])
        );
        let streams = KeySpec {
            begin_search: BeginSearch::Keyword {
                keyword: "STREAMS".into(),
                start_from: 1,
            },
            ..range(0, -1, 1, 2)
        };
        assert_eq!(
            run(
                std::slice::from_ref(&streams),
                &["xread", "count", "1", "streams", "a", "b", "0", "0"]
            ),
            Ok(vec![4, 5])
        );
        // Keyword missing: no keys from this spec, not an error.
        assert_eq!(
            run(std::slice::from_ref(&streams), &["xread", "a", "0"]),
            Ok(vec![])
        );
    }

    #[test]
    fn keyword_search_runs_backward_for_negative_start() {
        let cmd = Command::from_args(["migrate", "h", "p", "", "0", "5", "KEYS", "a", "b"]);
        assert_eq!(find_keyword(&cmd, b"keys", -2), Some(6));
        // The last argument is never a keyword (a key must follow it)…
        let cmd = Command::from_args(["x", "a", "KEYS"]);
        assert_eq!(find_keyword(&cmd, b"keys", 1), None);
        // …and argument 1 is never reached going backward.
        let cmd = Command::from_args(["x", "KEYS", "a", "b"]);
        assert_eq!(find_keyword(&cmd, b"keys", -1), None);
    }

    #[test]
    fn keynum_errors_are_invalid_specs() {
        let eval = KeySpec {
            find_keys: FindKeys::KeyNum {
                key_num_idx: 0,
                first_key: 1,
                key_step: 1,
            },
            ..range(2, 0, 1, 0)
        };
        let specs = std::slice::from_ref(&eval);
        assert_eq!(
            run(specs, &["eval", "s", "2", "a", "b", "c"]),
            Ok(vec![3, 4])
        );
        assert_eq!(run(specs, &["eval", "s", "0"]), Err(InvalidSpec));
        assert_eq!(run(specs, &["eval", "s", "3", "a"]), Err(InvalidSpec));
        assert_eq!(run(specs, &["eval", "s", "-1", "a"]), Err(InvalidSpec));
        assert_eq!(run(specs, &["eval", "s", "x", "a"]), Err(InvalidSpec));
        assert_eq!(run(specs, &["eval", "s"]), Err(InvalidSpec));
    }

    #[test]
    fn not_key_specs_are_filtered() {
        let channel = KeySpec {
            flags: KeySpecFlags::NOT_KEY,
            ..range(1, 0, 1, 0)
        };
        let cmd = Command::from_args(["spublish", "ch", "msg"]);
        let mut out = KeyIndices::new();
        search(
            std::slice::from_ref(&channel),
            &cmd,
            SpecFilter::Keys,
            &mut out,
        )
        .unwrap();
        assert!(out.is_empty());
        search(
            std::slice::from_ref(&channel),
            &cmd,
            SpecFilter::NotKeys,
            &mut out,
        )
        .unwrap();
        assert_eq!(out.as_slice(), &[1]);
    }
}
