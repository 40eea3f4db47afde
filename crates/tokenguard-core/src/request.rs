//! [`RequestView`]: what tokenguard reads of an HTTP request, whatever the
//! web framework.

/// RFC 9449's `DPoP` header, named once rather than parsed on every request.
static DPOP: http::HeaderName = http::HeaderName::from_static("dpop");

/// The parts of a request that authentication reads: the `Authorization`
/// values and, for DPoP (RFC 9449), the method, the target URI and the
/// `DPoP` values. Adapters build one per request and hand it to
/// [`Authenticator::authenticate`](crate::Authenticator::authenticate).
///
/// Its `Debug` output never shows a credential.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a>(Source<'a>);

#[derive(Clone, Copy)]
enum Source<'a> {
    /// An `http` request, read only as far as a decision needs: most
    /// requests never need their DPoP parts.
    Http { method: &'a http::Method, uri: &'a http::Uri, headers: &'a http::HeaderMap },
    /// A request of another framework, read in advance, and its other
    /// headers for the credential sources an authenticator may read.
    Parts { authorization: Values<'a>, dpop: DpopRequest<'a>, headers: Option<&'a (dyn HeaderLookup + Sync)> },
}

/// A request's headers, for [`RequestView::with_headers`]: how an adapter
/// for a framework with its own header map lets the authenticator read the
/// credential sources it is configured with (an API key header, a cookie).
pub trait HeaderLookup {
    /// Every value of the header `name` (lowercase), in order.
    fn values<'s>(&'s self, name: &str) -> Box<dyn Iterator<Item = &'s [u8]> + 's>;
}

/// The values of one header: none, one, or more than one (which is a
/// malformed request for `Authorization` and `DPoP` alike).
#[derive(Clone, Copy)]
pub(crate) enum Values<'a> {
    None,
    One(&'a [u8]),
    Several,
}

impl<'a> Values<'a> {
    pub(crate) fn of(values: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut values = values.into_iter();
        match (values.next(), values.next()) {
            (None, _) => Values::None,
            (Some(value), None) => Values::One(value),
            (Some(_), Some(_)) => Values::Several,
        }
    }
}

impl std::fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Values::None => "None",
            Values::One(_) => "One([redacted])",
            Values::Several => "Several",
        })
    }
}

impl std::fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Http { method, uri, .. } => {
                f.debug_struct("Http").field("method", method).field("path", &uri.path()).finish_non_exhaustive()
            }
            Source::Parts { authorization, dpop, .. } => f
                .debug_struct("Parts")
                .field("authorization", authorization)
                .field("dpop", dpop)
                .finish_non_exhaustive(),
        }
    }
}

impl<'a> RequestView<'a> {
    /// A request with `method`, target URI parts (`scheme` and `authority`
    /// when the server knows them — from an absolute URI or the `Host`
    /// header — and the `path` without query), and the raw values of its
    /// `Authorization` and `DPoP` headers.
    pub fn new(
        method: &'a str,
        scheme: Option<&'a str>,
        authority: Option<&'a str>,
        path: &'a str,
        authorization: impl IntoIterator<Item = &'a [u8]>,
        dpop: impl IntoIterator<Item = &'a [u8]>,
    ) -> Self {
        Self(Source::Parts {
            authorization: Values::of(authorization),
            dpop: DpopRequest::new(method, scheme, authority, path, dpop),
            headers: None,
        })
    }

    /// The same view, able to read any header of the request: needed for
    /// an authenticator configured with an API key header or a JWT cookie
    /// (without it, those sources are empty). Views made by
    /// [`RequestView::from_http`] read every header already.
    #[must_use]
    pub fn with_headers(self, lookup: &'a (dyn HeaderLookup + Sync)) -> Self {
        match self.0 {
            Source::Parts { authorization, dpop, .. } => {
                Self(Source::Parts { authorization, dpop, headers: Some(lookup) })
            }
            http => Self(http),
        }
    }

    /// The view of an `http` request (the authority comes from the URI,
    /// else from `Host`; forwarded headers are not trusted — configure
    /// [`DpopOptions::origin`](crate::dpop::DpopOptions::origin) behind a proxy).
    pub fn from_http(method: &'a http::Method, uri: &'a http::Uri, headers: &'a http::HeaderMap) -> Self {
        Self(Source::Http { method, uri, headers })
    }

    /// The values of `Authorization`.
    pub(crate) fn authorization(&self) -> Values<'a> {
        match self.0 {
            Source::Http { headers, .. } => {
                Values::of(headers.get_all(http::header::AUTHORIZATION).iter().map(http::HeaderValue::as_bytes))
            }
            Source::Parts { authorization, .. } => authorization,
        }
    }

    /// The values of header `name`.
    pub(crate) fn header(&self, name: &http::HeaderName) -> Values<'a> {
        match self.0 {
            Source::Http { headers, .. } => Values::of(headers.get_all(name).iter().map(http::HeaderValue::as_bytes)),
            Source::Parts { headers: Some(lookup), .. } => Values::of(lookup.values(name.as_str())),
            Source::Parts { headers: None, .. } => Values::None,
        }
    }

    /// The values of cookie `name`, from every `Cookie` header.
    pub(crate) fn cookie(&self, name: &str) -> Values<'a> {
        match self.0 {
            Source::Http { headers, .. } => {
                cookie_values(headers.get_all(http::header::COOKIE).iter().map(http::HeaderValue::as_bytes), name)
            }
            Source::Parts { headers: Some(lookup), .. } => cookie_values(lookup.values("cookie"), name),
            Source::Parts { headers: None, .. } => Values::None,
        }
    }

    /// What a DPoP proof sent with this request must match.
    pub(crate) fn dpop(&self) -> DpopRequest<'a> {
        match self.0 {
            Source::Http { method, uri, headers } => {
                let authority = uri
                    .authority()
                    .map(http::uri::Authority::as_str)
                    .or_else(|| headers.get(http::header::HOST).and_then(|host| host.to_str().ok()));
                let proofs = headers.get_all(&DPOP).iter().map(http::HeaderValue::as_bytes);
                DpopRequest::new(method.as_str(), uri.scheme_str(), authority, uri.path(), proofs)
            }
            Source::Parts { dpop, .. } => dpop,
        }
    }
}

/// What a DPoP proof is checked against: the request it came with.
///
/// Adapters build it from the request line and headers; its `Debug`
/// output never shows the proof.
#[derive(Clone, Copy)]
pub(crate) struct DpopRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) scheme: Option<&'a str>,
    pub(crate) authority: Option<&'a str>,
    pub(crate) path: &'a str,
    pub(crate) proof: Values<'a>,
}

impl<'a> DpopRequest<'a> {
    /// A request with `method`, target URI parts (`scheme` and `authority`
    /// when the server knows them, e.g. from an absolute URI or the `Host`
    /// header, and the `path` without query) and the values of its `DPoP`
    /// headers.
    pub(crate) fn new(
        method: &'a str,
        scheme: Option<&'a str>,
        authority: Option<&'a str>,
        path: &'a str,
        proofs: impl IntoIterator<Item = &'a [u8]>,
    ) -> Self {
        Self { method, scheme, authority, path, proof: Values::of(proofs) }
    }
}

impl std::fmt::Debug for DpopRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proof = match self.proof {
            Values::None => "missing",
            Values::One(_) => "[redacted]",
            Values::Several => "several",
        };
        f.debug_struct("DpopRequest")
            .field("method", &self.method)
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("path", &self.path)
            .field("proof", &proof)
            .finish()
    }
}

/// The values of cookie `name` in `Cookie` header values (RFC 6265 §5.4:
/// `name=value` pairs separated by `; `).
fn cookie_values<'a>(headers: impl Iterator<Item = &'a [u8]>, name: &str) -> Values<'a> {
    Values::of(headers.flat_map(|header| header.split(|&b| b == b';')).filter_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        (pair[..eq].trim_ascii() == name.as_bytes()).then(|| pair[eq + 1..].trim_ascii())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(values: Values<'_>) -> Option<Vec<&[u8]>> {
        match values {
            Values::None => Some(vec![]),
            Values::One(value) => Some(vec![value]),
            Values::Several => None,
        }
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let headers = [b"theme=dark; session=abc.def.ghi".as_slice(), b"sessionx=1".as_slice()];
        assert_eq!(values(cookie_values(headers.into_iter(), "session")), Some(vec![b"abc.def.ghi".as_slice()]));
        assert_eq!(values(cookie_values(headers.into_iter(), "Session")), Some(vec![]));
        let twice = [b"session=a; session=b".as_slice()];
        assert_eq!(values(cookie_values(twice.into_iter(), "session")), None);
    }
}
