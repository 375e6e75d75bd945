//! The node's configuration: `redis.conf` directives, from a file and from `--directive value`
//! flags (flags win), with the names, value forms and defaults of redis-server 7.0.
//!
//! Every directive the node knows is one row of [`DIRECTIVES`]: its default, how its value
//! reads, and whether `CONFIG SET` may change it at run time. `config/node.conf` lists every row
//! with its default, and a test checks the two agree.

use std::path::Path;

use thiserror::Error;

/// How a directive's value reads and is shown by `CONFIG GET`.
#[derive(Debug, Clone, Copy)]
pub enum ValueKind {
    /// `yes` / `no`.
    Bool,
    /// A decimal integer within the bounds.
    Int { min: i64, max: i64 },
    /// Bytes, with Redis's unit suffixes (`k`, `kb`, `m`, `mb`, `g`, `gb`); shown in bytes.
    Memory,
    /// One of these words, case-insensitively; shown lowercase.
    Enum(&'static [&'static str]),
    /// Any string (possibly empty).
    Text,
    /// A string checked by the directive's own rule (`save`, `client-output-buffer-limit`, …).
    Special(fn(&str) -> Result<String, String>),
}

/// One directive.
#[derive(Debug)]
pub struct Directive {
    pub name: &'static str,
    /// Other names redis-server accepts for it (`slaveof` for `replicaof`).
    pub aliases: &'static [&'static str],
    pub default: &'static str,
    pub kind: ValueKind,
    /// `CONFIG SET` may change it while the node runs.
    pub mutable: bool,
    /// Hidden from `CONFIG GET` (a secret is still shown, as Redis does; this is for aliases).
    pub secret: bool,
}

const fn d(name: &'static str, default: &'static str, kind: ValueKind, mutable: bool) -> Directive {
    Directive {
        name,
        aliases: &[],
        default,
        kind,
        mutable,
        secret: false,
    }
}

const BOOL: ValueKind = ValueKind::Bool;
const MEM: ValueKind = ValueKind::Memory;
const TEXT: ValueKind = ValueKind::Text;
const fn int(min: i64, max: i64) -> ValueKind {
    ValueKind::Int { min, max }
}
const POLICIES: &[&str] = &[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
];

/// Every directive the node accepts, in `config/node.conf`'s order.
pub static DIRECTIVES: &[Directive] = &[
    d("bind", "* -::*", TEXT, true),
    d("protected-mode", "yes", BOOL, true),
    d("port", "6379", int(0, 65535), true),
    d("tcp-backlog", "511", int(0, i32::MAX as i64), false),
    d("unixsocket", "", TEXT, false),
    d("timeout", "0", int(0, i32::MAX as i64), true),
    d("tcp-keepalive", "300", int(0, i32::MAX as i64), true),
    d("daemonize", "no", BOOL, false),
    d("pidfile", "", TEXT, false),
    d(
        "loglevel",
        "notice",
        ValueKind::Enum(&["debug", "verbose", "notice", "warning"]),
        true,
    ),
    d("logfile", "", TEXT, false),
    d("databases", "16", int(1, i32::MAX as i64), false),
    d(
        "save",
        "3600 1 300 100 60 10000",
        ValueKind::Special(check_save),
        true,
    ),
    d("dbfilename", "dump.rdb", TEXT, true),
    d("dir", "", TEXT, true),
    d("requirepass", "", TEXT, true),
    d("masteruser", "", TEXT, true),
    d("masterauth", "", TEXT, true),
    d("replica-read-only", "yes", BOOL, true),
    d("maxclients", "10000", int(1, i32::MAX as i64), true),
    d("maxmemory", "0", MEM, true),
    d(
        "maxmemory-policy",
        "noeviction",
        ValueKind::Enum(POLICIES),
        true,
    ),
    d("maxmemory-samples", "5", int(1, 64), true),
    d("appendonly", "no", BOOL, true),
    d("appendfilename", "appendonly.aof", TEXT, false),
    d("appenddirname", "appendonlydir", TEXT, false),
    d(
        "appendfsync",
        "everysec",
        ValueKind::Enum(&["always", "everysec", "no"]),
        true,
    ),
    d("cluster-enabled", "no", BOOL, false),
    d("cluster-config-file", "nodes.conf", TEXT, false),
    d("cluster-node-timeout", "15000", int(0, i64::MAX), true),
    d("cluster-port", "0", int(0, 65535), false),
    d("slowlog-log-slower-than", "10000", int(-1, i64::MAX), true),
    d("slowlog-max-len", "128", int(0, i64::MAX), true),
    d("hz", "10", int(1, 500), true),
    d("proto-max-bulk-len", "536870912", MEM, true),
    d("client-query-buffer-limit", "1073741824", MEM, true),
    d(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        ValueKind::Special(check_output_buffer_limit),
        true,
    ),
    d("hash-max-listpack-entries", "128", MEM, true),
    d("hash-max-listpack-value", "64", MEM, true),
    d(
        "list-max-listpack-size",
        "-2",
        int(i32::MIN as i64, i32::MAX as i64),
        true,
    ),
    d("list-compress-depth", "0", int(0, i32::MAX as i64), true),
    d("set-max-intset-entries", "512", MEM, true),
    d("zset-max-listpack-entries", "128", MEM, true),
    d("zset-max-listpack-value", "64", MEM, true),
];

/// Old names redis-server still accepts, and the directive each means.
const ALIASES: &[(&str, &str)] = &[
    ("slave-read-only", "replica-read-only"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
];

/// Why a configuration was refused; the text names the directive and the line.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("config error at {origin}: '{line}': {reason}")]
    Directive {
        origin: String,
        line: String,
        reason: String,
    },
}

/// The node's configuration: one canonical value per row of [`DIRECTIVES`].
#[derive(Debug, Clone)]
pub struct NodeConfig {
    values: Vec<String>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            values: DIRECTIVES
                .iter()
                .map(|d| canonical(d, d.default).expect("defaults are valid"))
                .collect(),
        }
    }
}

impl NodeConfig {
    /// Reads an optional config file, then `--directive value…` flags on top of it.
    pub fn load(file: Option<&Path>, flags: &[String]) -> Result<NodeConfig, ConfigError> {
        let mut config = NodeConfig::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            config.apply_text(&text, &path.display().to_string())?;
        }
        config.apply_flags(flags)?;
        Ok(config)
    }

    /// Applies `redis.conf` text; `origin` names the file in errors.
    pub fn apply_text(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let fail = |reason: String| ConfigError::Directive {
                origin: format!("{origin} line {}", n + 1),
                line: trimmed.to_string(),
                reason,
            };
            let words = split_args(trimmed)
                .ok_or_else(|| fail("Unbalanced quotes in configuration line".into()))?;
            self.apply_words(&words).map_err(fail)?;
        }
        Ok(())
    }

    /// Applies `--name value [value…]` flags, like redis-server's command line.
    pub fn apply_flags(&mut self, flags: &[String]) -> Result<(), ConfigError> {
        let mut i = 0;
        while i < flags.len() {
            let Some(name) = flags[i].strip_prefix("--") else {
                return Err(ConfigError::Directive {
                    origin: "command line".into(),
                    line: flags[i].clone(),
                    reason: "expected --directive".into(),
                });
            };
            let mut words = vec![name.to_string()];
            i += 1;
            while i < flags.len() && !flags[i].starts_with("--") {
                words.push(flags[i].clone());
                i += 1;
            }
            self.apply_words(&words)
                .map_err(|reason| ConfigError::Directive {
                    origin: "command line".into(),
                    line: words.join(" "),
                    reason,
                })?;
        }
        Ok(())
    }

    fn apply_words(&mut self, words: &[String]) -> Result<(), String> {
        let name = words[0].to_ascii_lowercase();
        if name == "daemonize" && words.get(1).is_some_and(|v| v.eq_ignore_ascii_case("yes")) {
            return Err("slotgate node does not daemonize: run it under a supervisor (systemd, docker) instead".into());
        }
        let index = directive_index(&name).ok_or("Bad directive or wrong number of arguments")?;
        let value = words[1..].join(" ");
        if words.len() < 2
            && !matches!(
                DIRECTIVES[index].kind,
                ValueKind::Text | ValueKind::Special(_)
            )
        {
            return Err("Bad directive or wrong number of arguments".into());
        }
        self.values[index] = canonical(&DIRECTIVES[index], &value)?;
        Ok(())
    }

    /// `CONFIG SET name value`: false-y `Err` texts are Redis's.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let index = directive_index(&name.to_ascii_lowercase()).ok_or_else(|| {
            format!("Unknown option or number of arguments for CONFIG SET - '{name}'")
        })?;
        let directive = &DIRECTIVES[index];
        if !directive.mutable {
            return Err(format!("can't set immutable config '{}'", directive.name));
        }
        self.values[index] = canonical(directive, value).map_err(|reason| {
            format!(
                "Invalid argument '{value}' for CONFIG SET '{}' - {reason}",
                directive.name
            )
        })?;
        Ok(())
    }

    /// A directive's canonical value by name. Panics on a name not in [`DIRECTIVES`]: callers
    /// name directives in code.
    pub fn get(&self, name: &str) -> &str {
        let index = directive_index(name).unwrap_or_else(|| panic!("no directive {name}"));
        &self.values[index]
    }

    /// An integer or memory directive's value.
    pub fn int(&self, name: &str) -> i64 {
        self.get(name)
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not numeric"))
    }

    pub fn usize(&self, name: &str) -> usize {
        usize::try_from(self.int(name).max(0)).unwrap_or(usize::MAX)
    }

    pub fn bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Every (name, value) whose name matches the glob `pattern`, in table order.
    pub fn matching<'a>(
        &'a self,
        pattern: &'a [u8],
    ) -> impl Iterator<Item = (&'static str, &'a str)> + 'a {
        DIRECTIVES
            .iter()
            .zip(&self.values)
            .filter(move |(d, _)| {
                !d.secret && crate::node::glob::matches(pattern, d.name.as_bytes(), true)
            })
            .map(|(d, v)| (d.name, v.as_str()))
    }
}

fn directive_index(name: &str) -> Option<usize> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, real)| real);
    DIRECTIVES
        .iter()
        .position(|d| d.name == name || d.aliases.contains(&name))
}

/// `value` as `CONFIG GET` shows it, or why it is invalid.
fn canonical(d: &Directive, value: &str) -> Result<String, String> {
    match d.kind {
        ValueKind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        ValueKind::Int { min, max } => {
            let n: i64 = value
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        ValueKind::Memory => parse_memory(value)
            .map(|n| n.to_string())
            .ok_or_else(|| "argument must be a memory value".to_string()),
        ValueKind::Enum(words) => {
            let lower = value.to_ascii_lowercase();
            if words.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err("argument(s) must be one of the following: ".to_string() + &words.join(", "))
            }
        }
        ValueKind::Text => Ok(value.to_string()),
        ValueKind::Special(check) => check(value),
    }
}

/// A memory amount as Redis's `memtoull` reads it: `1gb` = 1024³, `1g` = 1000³.
pub fn parse_memory(value: &str) -> Option<i64> {
    let lower = value.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: i64 = digits.parse().ok()?;
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// `save "<seconds> <changes> …"` or `save ""`.
fn check_save(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(2) || words.iter().any(|w| w.parse::<u64>().is_err()) {
        return Err("Invalid save parameters".into());
    }
    Ok(words.join(" "))
}

/// `client-output-buffer-limit <class> <hard> <soft> <seconds> …`.
fn check_output_buffer_limit(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut current = NodeConfig::default_output_buffer_limits();
    for w in words.chunks(4) {
        let class = match w[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(w[1]);
        let soft = parse_memory(w[2]);
        let secs = w[3].parse::<i64>().ok();
        match (hard, soft, secs) {
            (Some(h), Some(s), Some(t)) if h >= 0 && s >= 0 && t >= 0 => current[class] = (h, s, t),
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    Ok(["normal", "slave", "pubsub"]
        .iter()
        .zip(current)
        .map(|(c, (h, s, t))| format!("{c} {h} {s} {t}"))
        .collect::<Vec<_>>()
        .join(" "))
}

impl NodeConfig {
    fn default_output_buffer_limits() -> [(i64, i64, i64); 3] {
        [
            (0, 0, 0),
            (268435456, 67108864, 60),
            (33554432, 8388608, 60),
        ]
    }

    /// `client-output-buffer-limit` for one class (`normal`, `slave`, `pubsub`): hard and
    /// soft limits in bytes (0: none) and the soft limit's seconds.
    pub fn output_buffer_limit(&self, class: &str) -> (u64, u64, u64) {
        let words: Vec<&str> = self.get("client-output-buffer-limit").split(' ').collect();
        words
            .chunks(4)
            .find(|w| w[0] == class)
            .map(|w| {
                (
                    w[1].parse().unwrap_or(0),
                    w[2].parse().unwrap_or(0),
                    w[3].parse().unwrap_or(0),
                )
            })
            .unwrap_or((0, 0, 0))
    }
}

/// Splits a config line into words as Redis's `sdssplitargs` does: `"…"` with `\n \r \t \b \a
/// \\ \" \xHH` escapes, `'…'` with `\'`. None when quotes do not balance.
pub fn split_args(line: &str) -> Option<Vec<String>> {
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Some(words);
        }
        let mut word = Vec::new();
        let mut done = false;
        while !done {
            if i >= b.len() {
                break;
            }
            match b[i] {
                b'"' => {
                    i += 1;
                    loop {
                        match *b.get(i)? {
                            b'\\'
                                if b.get(i + 1) == Some(&b'x')
                                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                                    && b.get(i + 3).is_some_and(u8::is_ascii_hexdigit) =>
                            {
                                let hex = std::str::from_utf8(&b[i + 2..i + 4]).ok()?;
                                word.push(u8::from_str_radix(hex, 16).ok()?);
                                i += 4;
                            }
                            b'\\' if i + 1 < b.len() => {
                                word.push(match b[i + 1] {
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
                                // A closing quote must be followed by a space or the end.
                                if i < b.len() && !b[i].is_ascii_whitespace() {
                                    return None;
                                }
                                done = true;
                                break;
                            }
                            c => {
                                word.push(c);
                                i += 1;
                            }
                        }
                    }
                }
                b'\'' => {
                    i += 1;
                    loop {
                        match *b.get(i)? {
                            b'\\' if b.get(i + 1) == Some(&b'\'') => {
                                word.push(b'\'');
                                i += 2;
                            }
                            b'\'' => {
                                i += 1;
                                if i < b.len() && !b[i].is_ascii_whitespace() {
                                    return None;
                                }
                                done = true;
                                break;
                            }
                            c => {
                                word.push(c);
                                i += 1;
                            }
                        }
                    }
                }
                c if c.is_ascii_whitespace() => done = true,
                c => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags() {
        let mut c = NodeConfig::default();
        c.apply_text(
            "# comment\nport 7000\nmaxmemory 1mb\nappendonly YES\n",
            "t.conf",
        )
        .unwrap();
        c.apply_flags(&["--port".into(), "7001".into(), "--save".into(), "".into()])
            .unwrap();
        assert_eq!(c.get("port"), "7001");
        assert_eq!(c.int("maxmemory"), 1024 * 1024);
        assert!(c.bool("appendonly"));
        assert_eq!(c.get("save"), "");
    }

    #[test]
    fn unknown_directive_names_itself() {
        let err = NodeConfig::default()
            .apply_text("port 1\nfoo bar\n", "x.conf")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config error at x.conf line 2: 'foo bar': Bad directive or wrong number of arguments"
        );
    }

    #[test]
    fn quoting_like_sdssplitargs() {
        assert_eq!(
            split_args(r#"requirepass "a b\x41" 'it\'s'"#).unwrap(),
            vec!["requirepass", "a bA", "it's"]
        );
        assert_eq!(split_args(r#"x "open"#), None);
    }

    #[test]
    fn output_buffer_limits_merge() {
        let mut c = NodeConfig::default();
        c.set("client-output-buffer-limit", "pubsub 1mb 0 0")
            .unwrap();
        assert_eq!(c.output_buffer_limit("pubsub"), (1024 * 1024, 0, 0));
        assert_eq!(c.output_buffer_limit("normal"), (0, 0, 0));
    }
}
