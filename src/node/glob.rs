//! Glob-style patterns as Redis matches them (`KEYS`, `SCAN MATCH`, `PSUBSCRIBE`,
//! `CONFIG GET`): `*`, `?`, `[abc]`, `[^a-z]`, and `\` to escape.

/// Whether `text` matches `pattern`; `nocase` folds ASCII case.
pub fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    // Bounded: each `*` backtracks at most over the text once per star (the classic iterative
    // algorithm with one resume point), so the work is O(pattern × text).
    let (mut p, mut t) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    resume = Some((p, t));
                    continue;
                }
                _ if t < text.len() => {
                    if let Some(next) = match_one(pattern, p, text[t], nocase) {
                        p = next;
                        t += 1;
                        continue;
                    }
                }
                _ => {}
            }
        } else if t == text.len() {
            return true;
        }
        match resume {
            Some((rp, rt)) if rt < text.len() => {
                resume = Some((rp, rt + 1));
                p = rp;
                t = rt + 1;
            }
            _ => return false,
        }
    }
}

/// Matches one text byte against the pattern element at `p`; returns where the next element
/// starts, or None.
fn match_one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<usize> {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match pattern[p] {
        b'?' => Some(p + 1),
        b'\\' if p + 1 < pattern.len() => eq(pattern[p + 1], c).then_some(p + 2),
        b'[' => {
            let mut i = p + 1;
            let negate = pattern.get(i) == Some(&b'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            loop {
                match pattern.get(i) {
                    None => {
                        // Unterminated class: Redis treats the end of pattern as its end.
                        break;
                    }
                    Some(b']') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < pattern.len() => {
                        matched |= eq(pattern[i + 1], c);
                        i += 2;
                    }
                    Some(&lo) if pattern.get(i + 1) == Some(&b'-') && i + 2 < pattern.len() => {
                        let hi = pattern[i + 2];
                        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                        let within = |x: u8| lo <= x && x <= hi;
                        matched |= within(c)
                            || (nocase
                                && (within(c.to_ascii_lowercase())
                                    || within(c.to_ascii_uppercase())));
                        i += 3;
                    }
                    Some(&x) => {
                        matched |= eq(x, c);
                        i += 1;
                    }
                }
            }
            (matched != negate).then_some(i)
        }
        x => eq(x, c).then_some(p + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_rules() {
        let m = |p: &str, t: &str| matches(p.as_bytes(), t.as_bytes(), false);
        assert!(m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:nam"));
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(matches(b"MAXMEM*", b"maxmemory", true));
    }
}
