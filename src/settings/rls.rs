//! Settings of the Envoy rate-limit service's limits and answers: the
//! envoyproxy/ratelimit YAML files (one file, or every `.yaml`/`.yml` file of
//! a directory, as envoyproxy/ratelimit reads its runtime directory) and how
//! they are read, global shadow mode, and the rate-limit headers' names.

use actix_web::http::header::HeaderName;

use super::flags::RlsFlags;
use super::ConfigError;
use crate::policy::algorithm::AlgorithmDefaults;
use crate::policy::descriptors::yaml::{Domains, LoadOptions};
use crate::rls::files::{load_descriptors, DescriptorSource};
use crate::rls::{Answers, HeaderNames};

/// The descriptor files, read and validated now: a domain in several of them
/// with `--rls-merge-domains`, every limit in quota mode with `--rls-quota-mode`.
pub(super) fn source(
    flags: &RlsFlags,
    defaults: AlgorithmDefaults,
) -> Result<Option<DescriptorSource>, ConfigError> {
    let options = LoadOptions {
        domains: match flags.rls_merge_domains {
            true => Domains::Merge,
            false => Domains::Unique,
        },
        quota_mode: flags.rls_quota_mode,
    };
    flags
        .rls_config
        .clone()
        .map(|path| {
            let set = load_descriptors(&path, options, defaults)
                .map_err(|e| ConfigError::new("rls-config", e.to_string()))?;
            Ok(DescriptorSource {
                path,
                options,
                set: set.into(),
            })
        })
        .transpose()
}

/// How the service answers: `--rls-shadow`, and the rate-limit headers under
/// the names given, each a valid header name (checked whether or not
/// `--rls-response-headers` is on, so a mistake shows before it is).
pub(super) fn answers(flags: &RlsFlags) -> Result<Answers, ConfigError> {
    let names = HeaderNames {
        limit: header_name("rls-limit-header", &flags.rls_limit_header)?,
        remaining: header_name("rls-remaining-header", &flags.rls_remaining_header)?,
        reset: header_name("rls-reset-header", &flags.rls_reset_header)?,
    };
    Ok(Answers {
        shadow: flags.rls_shadow,
        headers: flags.rls_response_headers.then_some(names),
    })
}

/// `name` as given, if it is a valid header name.
fn header_name(setting: &'static str, name: &str) -> Result<String, ConfigError> {
    match HeaderName::from_bytes(name.as_bytes()) {
        Ok(_) => Ok(name.to_string()),
        Err(_) => Err(ConfigError::new(
            setting,
            format!("`{name}` is not a valid header name"),
        )),
    }
}

#[cfg(test)]
#[path = "rls_tests.rs"]
mod tests;
