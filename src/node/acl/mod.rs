//! ACL users, as Redis 7.0 has them: who a client is ([`User`]), what each user may run
//! ([`Selector`]: commands, key patterns, channel patterns), the log of refusals
//! ([`AclLog`]), and the ACL file ([`file`]).
//!
//! The users live in [`Acl`], shared by every session. A session keeps an `Arc` of its
//! user and the [`Acl::generation`] it was read at: each command costs one atomic load to
//! notice a change, and nothing more for a user allowed everything (the `default` user's
//! `+@all ~* &*`); others pay a bitset test, and a key or channel match when the command has
//! keys or channels.

pub mod command_set;
pub mod file;
pub mod log;
pub mod password;
pub mod selector;
pub mod user;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use log::{AclLog, Context, Entry, Reason};
pub use selector::{Denial, Selector};
pub use user::User;

use super::client::Client;
use super::config::NodeConfig;

/// Why a rule was refused; the texts are Redis's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("Unknown command or category name in ACL")]
    UnknownName,
    #[error("Syntax error")]
    Syntax,
    #[error("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")]
    KeyAfterAll,
    #[error("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")]
    ChannelAfterAll,
    #[error("The password you are trying to remove from the user does not exist")]
    NoSuchPassword,
    #[error("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")]
    BadHash,
    #[error("Duplicate user found. A user can only be defined once in config files")]
    DuplicateUser,
    #[error("Allowing first-arg of a subcommand is not supported")]
    FirstArgOfSubcommand,
}

/// The users every session shares.
#[derive(Debug)]
pub struct Acl {
    /// Held only while a command reads or changes users (inside the keyspace lock, never the
    /// other way round) or a session looks its user up again after a change.
    state: Mutex<AclState>,
    /// Bumped at every change of any user: sessions compare it with the one they read their
    /// user at.
    generation: AtomicU64,
    /// The `default` user is on with `nopass`: clients need not authenticate.
    default_open: AtomicBool,
}

/// The users by name (sorted, as Redis lists them) and the log.
#[derive(Debug)]
pub struct AclState {
    users: BTreeMap<Vec<u8>, Arc<User>>,
    pub log: AclLog,
}

impl Default for Acl {
    fn default() -> Self {
        let state = AclState {
            users: BTreeMap::from([(b"default".to_vec(), Arc::new(User::new_default()))]),
            log: AclLog::default(),
        };
        Acl {
            state: Mutex::new(state),
            generation: AtomicU64::new(1),
            default_open: AtomicBool::new(true),
        }
    }
}

impl Acl {
    /// The users a node starts with: `requirepass` as the default user's password, then the
    /// `user` directives, then the `aclfile` (Redis refuses both at once).
    pub fn from_config(config: &NodeConfig) -> Result<Acl, String> {
        let acl = Acl::default();
        {
            let mut state = acl.lock();
            state.set_default_password(config.get("requirepass"));
            let all_channels = all_channels_default(config);
            let aclfile = config.get("aclfile");
            if !aclfile.is_empty() && !config.users().is_empty() {
                return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
            }
            for words in config.users() {
                let name = words[0].as_bytes();
                if !user::valid_name(name) {
                    return Err("Spaces not allowed in ACL usernames".into());
                }
                let mut u = match state.users.get(name) {
                    Some(existing) => {
                        let mut u = (**existing).clone();
                        let _ = u.apply(b"reset", all_channels);
                        u
                    }
                    None => User::new(name, all_channels),
                };
                let args: Vec<&[u8]> = words[1..].iter().map(|w| w.as_bytes()).collect();
                let rules = user::merge_selector_args(&args)
                    .map_err(|_| "Unmatched parenthesis in selector definition".to_string())?;
                for rule in rules {
                    u.apply(&rule, all_channels).map_err(|e| {
                        format!(
                            "Error loading ACL rule '{}' for the user named '{}': {e}",
                            String::from_utf8_lossy(&rule),
                            words[0]
                        )
                    })?;
                }
                state.users.insert(name.to_vec(), Arc::new(u));
            }
            if !aclfile.is_empty() {
                let loaded = file::load(aclfile, all_channels)?;
                state.replace_users(loaded);
            }
            acl.committed(&state);
        }
        Ok(acl)
    }

    pub fn lock(&self) -> MutexGuard<'_, AclState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes a change made under [`lock`](Self::lock): sessions read their users again.
    pub fn committed(&self, state: &AclState) {
        let open = state.default_user().is_some_and(|u| u.enabled && u.nopass);
        self.default_open.store(open, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Changes with every change of any user.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether a client needs no `AUTH`: the default user is on and has `nopass`.
    pub fn default_open(&self) -> bool {
        self.default_open.load(Ordering::Relaxed)
    }

    /// Reads the client's user again if the users changed since it was read: one atomic
    /// load when nothing changed. A user deleted meanwhile leaves the client as `default`,
    /// unauthenticated (its session is being closed).
    pub fn refresh(&self, client: &mut Client) {
        let generation = self.generation();
        if generation == client.acl_generation {
            return;
        }
        client.acl_generation = generation;
        match self.user(&client.user.name) {
            Some(user) => client.user = user,
            None => {
                client.authenticated = false;
                client.set_user(self.default_user());
            }
        }
    }

    /// The user called `name`, as it is now.
    pub fn user(&self, name: &[u8]) -> Option<Arc<User>> {
        self.lock().users.get(name).cloned()
    }

    /// The default user, as it is now.
    pub fn default_user(&self) -> Arc<User> {
        self.lock()
            .default_user()
            .cloned()
            .unwrap_or_else(|| Arc::new(User::new_default()))
    }
}

impl AclState {
    pub fn get(&self, name: &[u8]) -> Option<&Arc<User>> {
        self.users.get(name)
    }

    pub fn default_user(&self) -> Option<&Arc<User>> {
        self.users.get(b"default".as_slice())
    }

    pub fn users(&self) -> impl ExactSizeIterator<Item = &Arc<User>> {
        self.users.values()
    }

    pub fn insert(&mut self, user: User) {
        self.users.insert(user.name.clone(), Arc::new(user));
    }

    /// Removes a user; the caller disconnects its clients.
    pub fn remove(&mut self, name: &[u8]) -> Option<Arc<User>> {
        self.users.remove(name)
    }

    /// `requirepass`: the default user's only password, or `nopass` when empty.
    pub fn set_default_password(&mut self, password: &str) {
        let mut u = self
            .default_user()
            .map(|u| (**u).clone())
            .unwrap_or_else(User::new_default);
        let _ = u.apply(b"resetpass", false);
        if password.is_empty() {
            let _ = u.apply(b"nopass", false);
        } else {
            let mut rule = b">".to_vec();
            rule.extend_from_slice(password.as_bytes());
            let _ = u.apply(&rule, false);
        }
        self.insert(u);
    }

    /// Replaces every user with `users` (`ACL LOAD`); a set without `default` gets a fresh
    /// one. Returns the names of the users replaced, whose clients must go.
    pub fn replace_users(&mut self, mut users: BTreeMap<Vec<u8>, User>) -> Vec<Vec<u8>> {
        let default = users
            .remove(b"default".as_slice())
            .unwrap_or_else(User::new_default);
        let gone: Vec<Vec<u8>> = self
            .users
            .keys()
            .filter(|n| n.as_slice() != b"default")
            .cloned()
            .collect();
        self.users.clear();
        for (name, u) in users {
            self.users.insert(name, Arc::new(u));
        }
        self.insert(default);
        gone
    }
}

/// `acl-pubsub-default allchannels`: new users and selectors start with all channels.
pub fn all_channels_default(config: &NodeConfig) -> bool {
    config.get("acl-pubsub-default") == "allchannels"
}
