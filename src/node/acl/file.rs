//! The ACL file (`aclfile`): one `user <name> <rules>` line per user, read at start and by
//! `ACL LOAD`, written by `ACL SAVE`. Loading is all or nothing: any bad line leaves the users
//! as they were, and the error lists every problem found, as Redis words it.

use std::collections::BTreeMap;
use std::io::Write;

use super::user::{merge_selector_args, valid_name, User};

/// The most bytes of ACL file read: far above any real file, so that a wrong path to a huge
/// file cannot exhaust memory.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads the users of the file at `path`. Err: Redis's text (without `ERR `).
pub fn load(path: &str, all_channels: bool) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let text = read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{path}': {}",
            strerror(&e)
        )
    })?;
    parse(&text, path, all_channels)
}

fn read(path: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// The C library's text for an I/O error (`No such file or directory`), without Rust's
/// ` (os error 2)`.
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Parses ACL file text; `path` names the file in errors.
pub fn parse(
    text: &[u8],
    path: &str,
    all_channels: bool,
) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let mut users: BTreeMap<Vec<u8>, User> = BTreeMap::new();
    let mut errors = String::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let linenum = i + 1;
        let line = trim(line, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors += &format!(
                "{path}:{linenum} should start with user keyword followed by the username. "
            );
            continue;
        }
        let name = argv[1];
        if !valid_name(name) {
            errors += &format!(
                "'{path}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            );
            continue;
        }
        if users.contains_key(name) {
            errors += &format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            );
            continue;
        }
        let mut user = User::new(name, all_channels);
        match merge_selector_args(&argv[2..]) {
            Ok(rules) => {
                for rule in rules {
                    let rule = trim(&rule, b"\t\r\n");
                    if let Err(e) = user.apply(rule, all_channels) {
                        errors += &format!(
                            "{path}:{linenum}: Error in applying operation '{}': {e}. ",
                            String::from_utf8_lossy(rule)
                        );
                    }
                }
            }
            Err(_) => {
                errors +=
                    &format!("{path}:{linenum}: Unmatched parenthesis in selector definition.");
            }
        }
        users.insert(name.to_vec(), user);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors += "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";
        Err(errors)
    }
}

/// Writes every user to `path` (through a temporary file renamed over it).
pub fn save<'a>(path: &str, users: impl Iterator<Item = &'a User>) -> std::io::Result<()> {
    let mut text = Vec::new();
    for u in users {
        text.extend_from_slice(&u.line());
        text.push(b'\n');
    }
    let tmp = format!(
        "{path}.tmp-{}-{}",
        std::process::id(),
        crate::node::server::unix_ms()
    );
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&text))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn trim<'a>(s: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = s.iter().position(|b| !set.contains(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !set.contains(b))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_users_and_reports_every_bad_line() {
        let users = parse(
            b"user default on nopass ~* &* +@all\n\nuser alice on >pw ~a* +get (+set ~b)\n",
            "f.acl",
            false,
        )
        .unwrap();
        assert_eq!(users.len(), 2);
        assert!(users[b"alice".as_slice()].accepts(b"pw"));
        let err = parse(
            b"bob on\nuser x +nocmd\nuser x on\nuser y (~a\n",
            "f.acl",
            false,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "f.acl:1 should start with user keyword followed by the username. \
             f.acl:2: Error in applying operation '+nocmd': Unknown command or category name in ACL. \
             WARNING: Duplicate user 'x' found on line 3. \
             f.acl:4: Unmatched parenthesis in selector definition.\
             WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
        );
    }

    #[test]
    fn saves_what_it_loads() {
        let dir = std::env::temp_dir().join(format!("slotgate-acl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users.acl");
        let path = path.to_str().unwrap();
        let users = parse(b"user alice on #2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae ~a* resetchannels -@all +get", "f", false).unwrap();
        save(path, users.values()).unwrap();
        let again = load(path, false).unwrap();
        assert_eq!(again, users);
        assert_eq!(
            load("/nonexistent/x.acl", false).unwrap_err(),
            "Error loading ACLs, opening file '/nonexistent/x.acl': No such file or directory"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
