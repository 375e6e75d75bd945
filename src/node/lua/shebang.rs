//! Script flags from a `#!lua flags=…` first line, as Redis 7.0 reads them for `EVAL`.
//!
//! A script without a shebang runs in compatibility mode: it may write, and only `*_RO`
//! makes it read-only. A script with one declares what it may do.

/// What a script declared in its shebang.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// No shebang: Redis 6 behaviour.
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// Sets the flag named `name`; false when no flag has that name.
    pub fn set(&mut self, name: &[u8]) -> bool {
        match name {
            b"no-writes" => self.no_writes = true,
            b"allow-oom" => self.allow_oom = true,
            b"allow-stale" => self.allow_stale = true,
            b"no-cluster" => self.no_cluster = true,
            b"allow-cross-slot-keys" => self.allow_cross_slot_keys = true,
            _ => return false,
        }
        true
    }
}

/// The flags of an `EVAL` body and the length of its shebang line (without its newline), or
/// Redis's error text (without the `ERR ` code).
pub fn eval_flags(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((
            ScriptFlags {
                compat: true,
                ..ScriptFlags::default()
            },
            0,
        ));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = &body[..end];
    let mut parts = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    let Some(engine) = parts.next() else {
        return Err("Invalid engine in script shebang".into());
    };
    if engine != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut flags = ScriptFlags::default();
    for part in parts {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        if list.is_empty() {
            continue;
        }
        for flag in list.split(|&b| b == b',') {
            if !flags.set(flag) {
                return Err(format!(
                    "Unexpected flag in script shebang: {}",
                    String::from_utf8_lossy(flag)
                ));
            }
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flags_and_refuses_nonsense() {
        assert!(eval_flags(b"return 1").unwrap().0.compat);
        let (f, len) = eval_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(f.no_writes && f.allow_oom && !f.compat);
        assert_eq!(len, 31);
        assert_eq!(eval_flags(b"#!lua").unwrap_err(), "Invalid script shebang");
        assert!(eval_flags(b"#!lua flags=x\n").unwrap_err().ends_with(": x"));
        assert!(eval_flags(b"#!lua a=b\n")
            .unwrap_err()
            .starts_with("Unknown"));
        assert!(eval_flags(b"#!py\n")
            .unwrap_err()
            .starts_with("Unexpected engine"));
    }
}
