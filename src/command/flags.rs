//! Small bit sets named the way Redis names their members: command flags, key-spec flags and
//! ACL categories.

/// Defines a `Copy` bit-set newtype with one constant per member and the member's Redis name.
macro_rules! name_set {
    (
        $(#[$meta:meta])*
        pub struct $ty:ident($repr:ty) {
            $( $(#[$cmeta:meta])* $konst:ident = $bit:expr, $name:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $ty($repr);

        impl $ty {
            $( $(#[$cmeta])* pub const $konst: $ty = $ty(1 << $bit); )*

            /// Every member with its name as Redis spells it.
            const NAMED: &'static [($ty, &'static str)] = &[ $( ($ty::$konst, $name), )* ];

            pub const fn empty() -> $ty {
                $ty(0)
            }

            pub const fn bits(self) -> $repr {
                self.0
            }

            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// Whether every member of `other` is in `self`.
            pub const fn contains(self, other: $ty) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether `self` and `other` share a member.
            pub const fn intersects(self, other: $ty) -> bool {
                self.0 & other.0 != 0
            }

            /// The member Redis calls `name` (exact spelling), if there is one.
            pub fn from_name(name: &str) -> Option<$ty> {
                Self::NAMED.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
            }

            /// Every member and its Redis name, in declaration order.
            pub fn all() -> impl Iterator<Item = ($ty, &'static str)> {
                Self::NAMED.iter().copied()
            }

            /// The Redis names of the members in `self`, in declaration order.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::NAMED.iter().filter(move |(f, _)| self.contains(*f)).map(|(_, n)| *n)
            }
        }

        impl std::ops::BitOr for $ty {
            type Output = $ty;
            fn bitor(self, rhs: $ty) -> $ty {
                $ty(self.0 | rhs.0)
            }
        }

        impl std::ops::BitOrAssign for $ty {
            fn bitor_assign(&mut self, rhs: $ty) {
                self.0 |= rhs.0;
            }
        }

        impl std::ops::BitAnd for $ty {
            type Output = $ty;
            fn bitand(self, rhs: $ty) -> $ty {
                $ty(self.0 & rhs.0)
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_set().entries(self.names()).finish()
            }
        }
    };
}

name_set! {
    /// A command's flags. The names are those of `COMMAND`'s reply; `MAY_REPLICATE`,
    /// `SENTINEL`, `ONLY_SENTINEL` and `PROTECTED` are flags Redis keeps out of that reply (see
    /// the table's notes on where they come from).
    pub struct Flags(u32) {
        WRITE = 0, "write";
        READONLY = 1, "readonly";
        /// Refused when Redis is over `maxmemory`.
        DENYOOM = 2, "denyoom";
        MODULE = 3, "module";
        ADMIN = 4, "admin";
        PUBSUB = 5, "pubsub";
        /// Not allowed inside scripts.
        NOSCRIPT = 6, "noscript";
        BLOCKING = 7, "blocking";
        /// Allowed while the dataset loads.
        LOADING = 8, "loading";
        /// Allowed on a replica with stale data.
        STALE = 9, "stale";
        SKIP_MONITOR = 10, "skip_monitor";
        SKIP_SLOWLOG = 11, "skip_slowlog";
        /// Served for an importing slot after `ASKING`.
        ASKING = 12, "asking";
        FAST = 13, "fast";
        NO_AUTH = 14, "no_auth";
        /// May find no key at all and still be valid (`EVAL … 0`).
        NO_MANDATORY_KEYS = 15, "no_mandatory_keys";
        NO_ASYNC_LOADING = 16, "no_async_loading";
        NO_MULTI = 17, "no_multi";
        /// Key positions depend on the arguments, not only on first/last/step.
        MOVABLE_KEYS = 18, "movablekeys";
        ALLOW_BUSY = 19, "allow_busy";
        /// Not a write, but may still send something to replicas (`PUBLISH`, `EVAL`).
        MAY_REPLICATE = 20, "may_replicate";
        SENTINEL = 21, "sentinel";
        ONLY_SENTINEL = 22, "only_sentinel";
        /// Disabled unless `enable-debug-command`/`enable-module-command` allow it.
        PROTECTED = 23, "protected";
    }
}

name_set! {
    /// How a key spec's keys are accessed, as `COMMAND`'s key specs name it.
    pub struct KeySpecFlags(u16) {
        /// Read-only access.
        RO = 0, "RO";
        /// Read-write access.
        RW = 1, "RW";
        /// Overwritten without being read.
        OW = 2, "OW";
        /// Removed.
        RM = 3, "RM";
        ACCESS = 4, "access";
        UPDATE = 5, "update";
        INSERT = 6, "insert";
        DELETE = 7, "delete";
        /// Not a key but routed like one (the channel of `SPUBLISH`).
        NOT_KEY = 8, "not_key";
        /// The spec may miss keys; Redis falls back to the command's own key finder.
        INCOMPLETE = 9, "incomplete";
        /// The access flags depend on the arguments.
        VARIABLE_FLAGS = 10, "variable_flags";
    }
}

name_set! {
    /// A command's ACL categories (`@read`, `@write`, …), named without the `@`.
    pub struct AclCategories(u32) {
        KEYSPACE = 0, "keyspace";
        READ = 1, "read";
        WRITE = 2, "write";
        SET = 3, "set";
        SORTEDSET = 4, "sortedset";
        LIST = 5, "list";
        HASH = 6, "hash";
        STRING = 7, "string";
        BITMAP = 8, "bitmap";
        HYPERLOGLOG = 9, "hyperloglog";
        GEO = 10, "geo";
        STREAM = 11, "stream";
        PUBSUB = 12, "pubsub";
        ADMIN = 13, "admin";
        FAST = 14, "fast";
        SLOW = 15, "slow";
        BLOCKING = 16, "blocking";
        DANGEROUS = 17, "dangerous";
        CONNECTION = 18, "connection";
        TRANSACTION = 19, "transaction";
        SCRIPTING = 20, "scripting";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_combine_and_name_their_members() {
        let f = Flags::WRITE | Flags::DENYOOM;
        assert!(f.contains(Flags::WRITE));
        assert!(!f.contains(Flags::WRITE | Flags::FAST));
        assert!(f.intersects(Flags::WRITE | Flags::FAST));
        assert_eq!(f.names().collect::<Vec<_>>(), ["write", "denyoom"]);
        assert_eq!(format!("{f:?}"), r#"{"write", "denyoom"}"#);
        assert_eq!(Flags::from_name("movablekeys"), Some(Flags::MOVABLE_KEYS));
        assert_eq!(Flags::from_name("WRITE"), None);
        assert_eq!(KeySpecFlags::from_name("RO"), Some(KeySpecFlags::RO));
        assert_eq!(
            AclCategories::from_name("sortedset"),
            Some(AclCategories::SORTEDSET)
        );
        assert!(Flags::empty().is_empty());
        assert_eq!((f & Flags::WRITE), Flags::WRITE);
    }
}
