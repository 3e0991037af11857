//! How the descriptor files are read: node settings that apply to every
//! file, the same at start and on every reload.

/// What to do with a domain configured in more than one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Domains {
    /// Refuse the files, as envoyproxy/ratelimit does by default.
    #[default]
    Unique,
    /// Add each file's descriptors to the domain's (envoyproxy/ratelimit's
    /// `MERGE_DOMAIN_CONFIG`); a descriptor configured twice is still refused.
    Merge,
}

/// How the files are read: node settings, the same at start and on every reload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// A domain configured in several files (`--rls-merge-domains`).
    pub domains: Domains,
    /// Every limit in quota mode, as if each said `quota_mode: true`
    /// (`--rls-quota-mode`, envoyproxy/ratelimit's `QUOTA_MODE`).
    pub quota_mode: bool,
}

impl From<Domains> for LoadOptions {
    fn from(domains: Domains) -> Self {
        Self {
            domains,
            quota_mode: false,
        }
    }
}
