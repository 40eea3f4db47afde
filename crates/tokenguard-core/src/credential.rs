//! Parsing what the client sent in `Authorization`.
//!
//! Accepted forms (scheme names are case-insensitive):
//!
//! - `Bearer <b64token>` (RFC 6750 §2.1);
//! - `Token <key>` (Django REST Framework);
//! - `Token token=<key>` or `Token token="<key>", name=value, …` (Rails);
//! - `DPoP <token68>` (RFC 9449 §7.1), with the proof in the `DPoP` header.
//!
//! Schemes we do not accept (`Basic`, `Digest`, …) count as "no credentials",
//! so the client gets our challenges. Two `Authorization` headers, an empty
//! credential or one that breaks the grammar is a malformed request
//! (`invalid_request`). Tokens in the query string are never looked at.

use std::fmt;

use crate::error::AuthError;
pub use crate::scheme::Scheme;

/// A credential taken from the request, borrowed from the header value.
///
/// Its `Debug` output never shows the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credential<'a> {
    scheme: Scheme,
    token: &'a str,
}

impl<'a> Credential<'a> {
    /// Builds a credential from its parts (mainly for tests and custom extractors).
    pub fn new(scheme: Scheme, token: &'a str) -> Self {
        Self { scheme, token }
    }

    /// The scheme the client used.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The raw token or key. Treat it as a secret: never log it.
    pub fn token(&self) -> &'a str {
        self.token
    }
}

impl fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential").field("scheme", &self.scheme).field("token", &"[redacted]").finish()
    }
}

/// Parses one `Authorization` header value.
pub fn parse_authorization(value: &[u8]) -> Result<Option<Credential<'_>>, AuthError> {
    if trim_ows(value).is_empty() {
        return Err(AuthError::InvalidRequest("empty Authorization header"));
    }
    let Some((scheme, rest)) = split_scheme(value) else {
        // Basic, Digest, garbage…: not ours, so the client has not authenticated.
        return Ok(None);
    };
    if let Some(token) = fast_single_token(scheme, rest) {
        return Ok(Some(Credential { scheme, token }));
    }
    // RFC 9110: scheme 1*SP credentials. Every byte must be visible ASCII or SP.
    let Ok(rest) = std::str::from_utf8(rest) else {
        return Err(AuthError::InvalidRequest("credential contains illegal characters"));
    };
    if rest.bytes().any(|b| !(b == b' ' || b.is_ascii_graphic())) {
        return Err(AuthError::InvalidRequest("credential contains illegal characters"));
    }
    let rest = rest.trim_start_matches(' ');
    if rest.is_empty() {
        return Err(AuthError::InvalidRequest("empty credential"));
    }
    let token = match scheme {
        Scheme::Bearer | Scheme::DPoP => single_b64token(rest)?,
        Scheme::Token if starts_with_ignore_case(rest, "token=") => rails_token(rest)?,
        Scheme::Token => single_b64token(rest)?,
    };
    Ok(Some(Credential { scheme, token }))
}

/// A value's scheme, if it is one of ours, and what follows it (from the
/// separating space on), surrounding whitespace trimmed.
fn split_scheme(value: &[u8]) -> Option<(Scheme, &[u8])> {
    let value = trim_ows(value);
    let scheme_end = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    let (scheme_name, rest) = value.split_at(scheme_end);
    let scheme = if scheme_name.eq_ignore_ascii_case(b"bearer") {
        Scheme::Bearer
    } else if scheme_name.eq_ignore_ascii_case(b"token") {
        Scheme::Token
    } else if scheme_name.eq_ignore_ascii_case(b"dpop") {
        Scheme::DPoP
    } else {
        return None;
    };
    Some((scheme, rest))
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', tail @ ..] = value {
        value = tail;
    }
    while let [head @ .., b' ' | b'\t'] = value {
        value = head;
    }
    value
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Characters of a `b64token` body (RFC 6750 §2.1), as a lookup table.
const B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 6750 §2.1).
pub(crate) fn is_b64token(token: &str) -> bool {
    b64token_len(token.as_bytes()) == Some(token.len())
}

/// The length of the `b64token` at the start of `bytes`, if there is one.
fn b64token_len(bytes: &[u8]) -> Option<usize> {
    let body = bytes.iter().take_while(|&&b| B64TOKEN[b as usize]).count();
    let padding = bytes[body..].iter().take_while(|&&b| b == b'=').count();
    (body > 0).then_some(body + padding)
}

/// The common case in one pass: `<scheme> <b64token>` (and not Rails'
/// `token=`). Anything else takes the slow path, which explains what is wrong.
fn fast_single_token(scheme: Scheme, rest: &[u8]) -> Option<&str> {
    let mut token = rest;
    while let [b' ', tail @ ..] = token {
        token = tail;
    }
    if scheme == Scheme::Token && token.len() >= 6 && token[..6].eq_ignore_ascii_case(b"token=") {
        return None;
    }
    if b64token_len(token)? != token.len() {
        return None;
    }
    std::str::from_utf8(token).ok()
}

fn single_b64token(rest: &str) -> Result<&str, AuthError> {
    if rest.contains(' ') {
        return Err(AuthError::InvalidRequest("unexpected fields after the token"));
    }
    if !is_b64token(rest) {
        return Err(AuthError::InvalidRequest("token contains illegal characters"));
    }
    Ok(rest)
}

/// Rails' `token_and_options`: `token=KEY` or `token="KEY"`, then `, name=value` pairs.
fn rails_token(rest: &str) -> Result<&str, AuthError> {
    const MALFORMED: AuthError = AuthError::InvalidRequest("malformed token parameters");
    let mut token = None;
    let mut remaining = rest;
    loop {
        let eq = remaining.find('=').ok_or(MALFORMED)?;
        let name = &remaining[..eq];
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(MALFORMED);
        }
        let after = &remaining[eq + 1..];
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            // Keys never need escapes; a backslash is refused rather than unescaped.
            let end = quoted.bytes().position(|b| b == b'"' || b == b'\\').ok_or(MALFORMED)?;
            if quoted.as_bytes()[end] != b'"' {
                return Err(MALFORMED);
            }
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.bytes().position(|b| b == b',' || b == b' ').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.eq_ignore_ascii_case("token") {
            if token.is_some() {
                return Err(AuthError::InvalidRequest("token parameter given twice"));
            }
            if value.is_empty() {
                return Err(AuthError::InvalidRequest("empty credential"));
            }
            if !is_b64token(value) {
                return Err(AuthError::InvalidRequest("token contains illegal characters"));
            }
            token = Some(value);
        }
        let tail = tail.trim_start_matches(' ');
        if tail.is_empty() {
            break;
        }
        remaining = tail.strip_prefix(',').ok_or(MALFORMED)?.trim_start_matches(' ');
    }
    token.ok_or(MALFORMED)
}

/// RFC 9110 `tchar`, the characters of a parameter name.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<Option<(Scheme, &str)>, AuthError> {
        parse_authorization(value.as_bytes()).map(|c| c.map(|c| (c.scheme(), c.token())))
    }

    #[test]
    fn accepts_every_documented_form() {
        assert_eq!(parse("Bearer abc.def-_~+/=="), Ok(Some((Scheme::Bearer, "abc.def-_~+/=="))));
        assert_eq!(parse("bEaReR   abc"), Ok(Some((Scheme::Bearer, "abc"))));
        assert_eq!(parse("Token 0123abcd"), Ok(Some((Scheme::Token, "0123abcd"))));
        assert_eq!(parse("DPoP a.b.c"), Ok(Some((Scheme::DPoP, "a.b.c"))));
        assert_eq!(parse("dpop  a.b.c"), Ok(Some((Scheme::DPoP, "a.b.c"))));
        assert_eq!(parse("Token token=tg_x"), Ok(Some((Scheme::Token, "tg_x"))));
        assert_eq!(parse("token Token=\"tg_x\""), Ok(Some((Scheme::Token, "tg_x"))));
        assert_eq!(parse("Token token=\"tg_x\", nonce=\"a b\", v=1"), Ok(Some((Scheme::Token, "tg_x"))));
    }

    #[test]
    fn foreign_schemes_are_no_credentials() {
        assert_eq!(parse("Basic dXNlcjpwYXNz"), Ok(None));
        assert_eq!(parse("Bearerx abc"), Ok(None));
        assert_eq!(parse("Digest username=\"x\""), Ok(None));
    }

    #[test]
    fn malformed_credentials_are_invalid_request() {
        for value in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a\tb",
            "Bearer =abc",
            "Bearer a,b",
            "Bearer é",
            "Token",
            "Token token=",
            "Token token=\"\"",
            "Token token=\"abc",
            "Token token=a, token=b",
            "Token token=\"a\\\"b\"",
            "Token token=a; x=y",
            "Token nonce=1, token=tg_x",
        ] {
            assert!(matches!(parse(value), Err(AuthError::InvalidRequest(_))), "{value:?} gave {:?}", parse(value));
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let credential = Credential::new(Scheme::Bearer, "s3cr3t-token");
        assert!(!format!("{credential:?}").contains("s3cr3t"));
    }
}
