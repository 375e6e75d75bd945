//! `SORT` and `SORT_RO`, as Redis 7.0's `sortCommandGeneric` (from the keys helper's branch).

use super::{Ctx, Handler};
use crate::node::error::{CmdError, CmdResult};
use crate::node::keyspace::list::List;
use crate::node::keyspace::{Db, Kind, Value};
use crate::node::notify::Events;
use crate::resp::{parse_i64, Command};

pub(super) const COMMANDS: &[(&str, Handler)] = &[("sort", sort), ("sort_ro", sort_ro)];

/// The elements `SORT` works on: a list's or sorted set's in order, a set's in its own.
fn elements_of(value: &Value) -> Result<Vec<Vec<u8>>, CmdError> {
    match value {
        Value::List(l) => Ok(l.iter().map(<[u8]>::to_vec).collect()),
        Value::Set(s) => Ok(s.iter().map(|m| m.into_owned()).collect()),
        Value::ZSet(z) => Ok(z.iter().map(|(m, _)| m.to_vec()).collect()),
        Value::Str(_) | Value::Hash(_) | Value::Stream(_) => Err(CmdError::WrongType),
    }
}

fn sort(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    sort_generic(ctx, cmd, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    sort_generic(ctx, cmd, true)
}

/// What `SORT` was asked to do.
#[derive(Debug, Default)]
struct SortSpec {
    by: Option<Vec<u8>>,
    /// `BY` a pattern without `*`: keep the value's own order.
    dontsort: bool,
    limit: Option<(i64, i64)>,
    gets: Vec<Vec<u8>>,
    desc: bool,
    alpha: bool,
    store: Option<Vec<u8>>,
}

fn parse_sort(cmd: &Command, readonly: bool) -> Result<SortSpec, CmdError> {
    let mut spec = SortSpec::default();
    let mut j = 2;
    while j < cmd.argc() {
        let left = cmd.argc() - j - 1;
        let opt = cmd.arg(j);
        if opt.eq_ignore_ascii_case(b"asc") {
            spec.desc = false;
        } else if opt.eq_ignore_ascii_case(b"desc") {
            spec.desc = true;
        } else if opt.eq_ignore_ascii_case(b"alpha") {
            spec.alpha = true;
        } else if opt.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let start = parse_i64(cmd.arg(j + 1)).ok_or(CmdError::NotInteger)?;
            let count = parse_i64(cmd.arg(j + 2)).ok_or(CmdError::NotInteger)?;
            spec.limit = Some((start, count));
            j += 2;
        } else if !readonly && opt.eq_ignore_ascii_case(b"store") && left >= 1 {
            spec.store = Some(cmd.arg(j + 1).to_vec());
            j += 1;
        } else if opt.eq_ignore_ascii_case(b"by") && left >= 1 {
            let pattern = cmd.arg(j + 1);
            spec.dontsort = !pattern.contains(&b'*');
            spec.by = Some(pattern.to_vec());
            j += 1;
        } else if opt.eq_ignore_ascii_case(b"get") && left >= 1 {
            spec.gets.push(cmd.arg(j + 1).to_vec());
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(spec)
}

/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern …] [ASC|DESC] [ALPHA]
/// [STORE destination]`, over lists, sets and sorted sets, as Redis 7.0's `sortCommandGeneric`.
fn sort_generic(ctx: &mut Ctx<'_>, cmd: &Command, readonly: bool) -> CmdResult {
    let mut spec = parse_sort(cmd, readonly)?;
    let now = ctx.now;
    let found = ctx
        .db()
        .get(cmd.arg(1), now)
        .map(|e| (elements_of(&e.value), e.value.kind() == Kind::Set));
    if found.is_some() {
        ctx.ks.stats.hits += 1;
    } else {
        ctx.ks.stats.misses += 1;
    }
    let (elements, is_set) = match found {
        Some((elements, is_set)) => (elements?, is_set),
        None => (Vec::new(), false),
    };
    // A set has no order of its own: when stored, sort it so that the result is reproducible.
    if spec.dontsort && is_set && spec.store.is_some() {
        spec.dontsort = false;
        spec.alpha = true;
        spec.by = None;
    }
    let db = ctx.db();
    let sorted = sort_elements(elements, &spec, !is_set, |pattern, element| {
        lookup_by_pattern(db, now, pattern, element)
    })?;
    let db = ctx.db();
    let mut output: Vec<Option<Vec<u8>>> = Vec::new();
    for element in sorted {
        if spec.gets.is_empty() {
            output.push(Some(element));
            continue;
        }
        for pattern in &spec.gets {
            output.push(lookup_by_pattern(db, now, pattern, &element));
        }
    }
    match spec.store {
        None => {
            ctx.out.array(output.len());
            for item in &output {
                match item {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dest) => {
            let n = output.len();
            if n > 0 {
                let fill = ctx.config.int("list-max-listpack-size");
                let list =
                    List::from_items(fill, output.into_iter().map(Option::unwrap_or_default));
                ctx.db().set(&dest, Value::List(Box::new(list)), now);
                ctx.dirty(n as u64);
                ctx.notify(Events::LIST, "sortstore", &dest);
            } else if ctx.db().remove(&dest, now).is_some() {
                ctx.dirty(1);
                ctx.notify(Events::GENERIC, "del", &dest);
            }
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

/// The elements to output, in order, `LIMIT` applied. `ordered`: the value has an order of its
/// own (a list, a sorted set) that `DESC` reverses when nothing is sorted. `lookup` resolves a
/// `BY` pattern for an element.
fn sort_elements(
    mut elements: Vec<Vec<u8>>,
    spec: &SortSpec,
    ordered: bool,
    mut lookup: impl FnMut(&[u8], &[u8]) -> Option<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, CmdError> {
    let len = elements.len() as i64;
    let (limit_start, limit_count) = spec.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        len - 1
    } else {
        start.saturating_add(limit_count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    if spec.dontsort {
        if ordered && spec.desc {
            elements.reverse();
        }
    } else {
        let by = spec.by.as_deref();
        let keys: Vec<Option<Vec<u8>>> = elements
            .iter()
            .map(|e| match by {
                Some(pattern) => lookup(pattern, e),
                None => Some(e.clone()),
            })
            .collect();
        let mut order: Vec<usize> = (0..elements.len()).collect();
        if spec.alpha {
            if by.is_some() {
                // A missing weight sorts first.
                order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
            } else {
                order.sort_by(|&a, &b| elements[a].cmp(&elements[b]));
            }
        } else {
            let mut scores = Vec::with_capacity(keys.len());
            for k in &keys {
                scores.push(match k {
                    Some(k) => strtod(k).ok_or(CmdError::text(
                        "ERR One or more scores can't be converted into double",
                    ))?,
                    None => 0.0,
                });
            }
            order.sort_by(|&a, &b| {
                scores[a]
                    .partial_cmp(&scores[b])
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| elements[a].cmp(&elements[b]))
            });
        }
        if spec.desc {
            order.reverse();
        }
        let mut taken: Vec<Option<Vec<u8>>> = elements.into_iter().map(Some).collect();
        elements = order.into_iter().filter_map(|i| taken[i].take()).collect();
    }
    if end < start || start < 0 {
        return Ok(Vec::new());
    }
    Ok(elements
        .into_iter()
        .skip(start as usize)
        .take((end - start + 1) as usize)
        .collect())
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the first `*` is
/// replaced by the element, and a `->field` after it reads that field of a hash; a plain key
/// must hold a string. No `*`: nothing.
fn lookup_by_pattern(db: &mut Db, now: i64, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let (postfix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(&after[i + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    let value = &db.get(&key, now)?.value;
    match (field, value) {
        (Some(field), Value::Hash(h)) => h.get(field).map(<[u8]>::to_vec),
        (None, Value::Str(s)) => Some(s.to_vec()),
        _ => None,
    }
}

/// C's `strtod` as `SORT` uses it: leading white space allowed, the whole rest must be a
/// number; the empty string is 0; NaN, overflow and underflow are errors.
fn strtod(text: &[u8]) -> Option<f64> {
    if text.is_empty() {
        return Some(0.0);
    }
    let start = text
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let s = std::str::from_utf8(&text[start..]).ok()?;
    let x: f64 = s.parse().ok()?;
    let lower = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
    let literal_inf = lower == "inf" || lower == "infinity";
    let mantissa = lower.split('e').next().unwrap_or("");
    let nonzero = mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c));
    if x.is_nan()
        || (x.is_infinite() && !literal_inf)
        || ((x == 0.0 || x.is_subnormal()) && nonzero)
    {
        return None;
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::keyspace::string::Str;

    fn v(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn strtod_accepts_what_c_accepts() {
        assert_eq!(strtod(b"1.5"), Some(1.5));
        assert_eq!(strtod(b" 2"), Some(2.0));
        assert_eq!(strtod(b""), Some(0.0));
        assert_eq!(strtod(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod(b"1e3"), Some(1000.0));
        for bad in ["abc", "1x", "nan", "1e400", "1e-400", " ", "2 "] {
            assert_eq!(strtod(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn sorts_numbers_alpha_and_limits() {
        let spec = SortSpec::default();
        let none = |_: &[u8], _: &[u8]| None;
        assert_eq!(
            sort_elements(v(&["10", "9", "1.5", "-2"]), &spec, true, none).unwrap(),
            v(&["-2", "1.5", "9", "10"])
        );
        let spec = SortSpec {
            alpha: true,
            desc: true,
            limit: Some((1, 2)),
            ..SortSpec::default()
        };
        assert_eq!(
            sort_elements(v(&["b", "a", "d", "c"]), &spec, true, none).unwrap(),
            v(&["c", "b"])
        );
        let spec = SortSpec::default();
        assert!(sort_elements(v(&["1", "x"]), &spec, true, none).is_err());
        // Equal scores fall back to the elements' bytes.
        let spec = SortSpec {
            by: Some(b"w_*".to_vec()),
            ..SortSpec::default()
        };
        let weights = |_: &[u8], e: &[u8]| (e == b"b").then(|| b"-1".to_vec());
        assert_eq!(
            sort_elements(v(&["c", "b", "a"]), &spec, true, weights).unwrap(),
            v(&["b", "a", "c"])
        );
    }

    #[test]
    fn nosort_keeps_order_and_desc_reverses_it() {
        let spec = SortSpec {
            dontsort: true,
            desc: true,
            limit: Some((0, 2)),
            ..SortSpec::default()
        };
        assert_eq!(
            sort_elements(v(&["x", "a", "m"]), &spec, true, |_, _| None).unwrap(),
            v(&["m", "a"])
        );
        let spec = SortSpec {
            limit: Some((5, 1)),
            ..SortSpec::default()
        };
        assert!(sort_elements(v(&["1"]), &spec, true, |_, _| None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn patterns_read_strings_and_hash_fields() {
        use crate::node::keyspace::hash::Hash;
        let mut db = Db::default();
        db.set(b"w_a", Value::Str(Str::from_bytes(b"5")), 0);
        db.set(
            b"h_a",
            Value::Hash(Box::new(Hash::from_pairs(
                [(&b"f"[..], &b"7"[..])],
                &Default::default(),
            ))),
            0,
        );
        assert_eq!(
            lookup_by_pattern(&mut db, 0, b"#", b"a"),
            Some(b"a".to_vec())
        );
        assert_eq!(
            lookup_by_pattern(&mut db, 0, b"w_*", b"a"),
            Some(b"5".to_vec())
        );
        assert_eq!(
            lookup_by_pattern(&mut db, 0, b"h_*->f", b"a"),
            Some(b"7".to_vec())
        );
        assert_eq!(lookup_by_pattern(&mut db, 0, b"h_*->g", b"a"), None);
        assert_eq!(lookup_by_pattern(&mut db, 0, b"w_*->f", b"a"), None);
        assert_eq!(lookup_by_pattern(&mut db, 0, b"nostar", b"a"), None);
        assert_eq!(lookup_by_pattern(&mut db, 0, b"h_*->", b"a"), None);
    }
}
