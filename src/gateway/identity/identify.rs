//! The first-match walk over a route's methods (see the rule in the parent
//! module): each method finds its credential or reports it absent.

use std::net::IpAddr;
use std::time::SystemTime;

use compact_str::{format_compact, CompactString};

use super::api_keys::{KeyHash, KeyOwner, MAX_KEY_BYTES};
use super::client_ip::client_ip;
use super::error::IdentityError;
use super::{looks_like_jwt, Found, Headers, Identifier, Identity, Method, Methods, BEARER};
use crate::policy::rules::valid_id;

const AUTHORIZATION: &str = "authorization";

/// Finds the owner of an API key beyond the gateway file's, by its hash.
pub type LiveKeys<'a> = dyn Fn(&KeyHash) -> Option<KeyOwner> + 'a;

impl Identifier {
    /// Identifies the caller of a request with `headers` from connection
    /// peer `peer`, trying `methods` in order, at wall-clock time `now`.
    pub fn identify<H: Headers + ?Sized>(
        &self,
        methods: &Methods,
        headers: &H,
        peer: IpAddr,
        now: SystemTime,
    ) -> Result<Identity, IdentityError> {
        self.identify_with(methods, headers, peer, now, &|_| None)
    }

    /// As [`Self::identify`], also knowing the API keys that `live` finds
    /// (those added through the admin API) after the gateway file's.
    pub fn identify_with<H: Headers + ?Sized>(
        &self,
        methods: &Methods,
        headers: &H,
        peer: IpAddr,
        now: SystemTime,
        live: &LiveKeys<'_>,
    ) -> Result<Identity, IdentityError> {
        let ip = client_ip(peer, headers, &self.proxies);
        for &method in methods.as_slice() {
            let found = match method {
                // Anyone can send a header: it names the caller only when a
                // trusted proxy in front set it.
                Method::Header if !self.proxies.contains(peer) => None,
                Method::Header => self.by_header(headers)?,
                Method::ApiKey => self.by_api_key(headers, methods, live)?,
                Method::Jwt => self.by_jwt(headers, methods, now)?,
                Method::Ip => Some(Found {
                    user: format_compact!("{ip}"),
                    plan: None,
                    tenant: None,
                }),
            };
            if let Some(found) = found {
                return Ok(Identity {
                    user: found.user,
                    plan: found.plan,
                    tenant: found.tenant,
                    ip,
                    method,
                });
            }
        }
        Err(IdentityError::MissingCredential {
            expected: self.expected(methods),
        })
    }

    fn by_header<H: Headers + ?Sized>(&self, headers: &H) -> Result<Option<Found>, IdentityError> {
        let Some(value) = single(headers, &self.header.name, "the trusted header")? else {
            return Ok(None);
        };
        valid_id(value).map_err(|reason| IdentityError::claim(&self.header.name, reason))?;
        Ok(Some(Found {
            user: CompactString::from(value),
            plan: None,
            tenant: None,
        }))
    }

    fn by_api_key<H: Headers + ?Sized>(
        &self,
        headers: &H,
        methods: &Methods,
        live: &LiveKeys<'_>,
    ) -> Result<Option<Found>, IdentityError> {
        let settings = &self.api_key;
        let mut key = single(headers, &settings.header, "the API-key header")?;
        if key.is_none() && settings.bearer {
            key = bearer(headers)?
                .filter(|value| !(methods.has(Method::Jwt) && looks_like_jwt(value)));
        }
        let Some(key) = key else { return Ok(None) };
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(IdentityError::malformed(
                "API key",
                format!("must be 1-{MAX_KEY_BYTES} bytes"),
            ));
        }
        let hash = KeyHash::of(key);
        let owner = match settings.keys.lookup(&hash) {
            Some(owner) => owner.clone(),
            None => live(&hash)
                .ok_or_else(|| IdentityError::UnknownKey("the API key is not known".into()))?,
        };
        Ok(Some(Found {
            user: owner.user,
            plan: owner.plan,
            tenant: None,
        }))
    }

    fn by_jwt<H: Headers + ?Sized>(
        &self,
        headers: &H,
        methods: &Methods,
        now: SystemTime,
    ) -> Result<Option<Found>, IdentityError> {
        let Some(verifier) = &self.jwt else {
            return Ok(None);
        };
        let shared = methods.has(Method::ApiKey) && self.api_key.bearer;
        let token = bearer(headers)?.filter(|value| !shared || looks_like_jwt(value));
        token.map(|token| verifier.verify(token, now)).transpose()
    }

    /// The credentials `methods` accept, in words.
    fn expected(&self, methods: &Methods) -> String {
        let words: Vec<String> = methods
            .as_slice()
            .iter()
            .map(|method| match method {
                Method::Header => format!("header {}", self.header.name),
                Method::ApiKey if self.api_key.bearer => format!(
                    "an API key (header {} or Authorization: Bearer)",
                    self.api_key.header
                ),
                Method::ApiKey => format!("an API key (header {})", self.api_key.header),
                Method::Jwt => "a JWT (Authorization: Bearer)".to_string(),
                Method::Ip => "nothing".to_string(),
            })
            .collect();
        words.join(" or ")
    }
}

/// The one value of `name`, if sent (twice is ambiguous: malformed).
fn single<'h, H: Headers + ?Sized>(
    headers: &'h H,
    name: &'h str,
    what: &'static str,
) -> Result<Option<&'h str>, IdentityError> {
    let mut values = headers.values(name);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(IdentityError::malformed(what, "sent more than once"));
    }
    std::str::from_utf8(value)
        .ok()
        .filter(|v| v.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
        .map(|v| Some(v.trim()))
        .ok_or_else(|| IdentityError::malformed(what, "not visible ASCII"))
}

/// The value of `Authorization: Bearer <value>`; another scheme is absent.
fn bearer<H: Headers + ?Sized>(headers: &H) -> Result<Option<&str>, IdentityError> {
    let Some(value) = single(headers, AUTHORIZATION, BEARER)? else {
        return Ok(None);
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(IdentityError::malformed(BEARER, "empty"));
    }
    Ok(Some(token))
}
