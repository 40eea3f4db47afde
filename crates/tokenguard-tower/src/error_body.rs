//! [`ErrorBody`]: the response body types tokenguard's services can answer with.

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full};

/// A response body that can carry tokenguard's own answers: the JSON of an
/// RFC 6750 error (empty for gRPC's trailers-only statuses).
///
/// [`Auth`](crate::auth::Auth) and [`RequireScope`](crate::require_scope::RequireScope)
/// answer with the inner service's own body type rather than a wrapper, so
/// that a framework that boxes bodies (axum does, once per layer) finds its
/// own type and keeps it as it is — on the hot path a wrapper would cost a
/// box per request and per layer.
///
/// Implemented for axum's body, `http-body-util`'s `Full<Bytes>`,
/// `Either<B, Full<Bytes>>` and boxed bodies, and — with the `tonic`
/// feature — tonic's. For another body type, map the inner service's body
/// into `Either<B, Full<Bytes>>` (tower's `MapResponseBody`).
pub trait ErrorBody {
    /// A body holding `json` (empty `Bytes` for an answer without a body).
    fn from_error_json(json: Bytes) -> Self;
}

impl ErrorBody for axum_core::body::Body {
    fn from_error_json(json: Bytes) -> Self {
        Self::from(json)
    }
}

impl ErrorBody for Full<Bytes> {
    fn from_error_json(json: Bytes) -> Self {
        Full::new(json)
    }
}

impl<B> ErrorBody for Either<B, Full<Bytes>> {
    fn from_error_json(json: Bytes) -> Self {
        Either::Right(Full::new(json))
    }
}

impl<E> ErrorBody for http_body_util::combinators::BoxBody<Bytes, E> {
    fn from_error_json(json: Bytes) -> Self {
        Full::new(json).map_err(|never| match never {}).boxed()
    }
}

impl<E> ErrorBody for http_body_util::combinators::UnsyncBoxBody<Bytes, E> {
    fn from_error_json(json: Bytes) -> Self {
        Full::new(json).map_err(|never| match never {}).boxed_unsync()
    }
}

#[cfg(feature = "tonic")]
impl ErrorBody for tonic::body::Body {
    fn from_error_json(json: Bytes) -> Self {
        if json.is_empty() { Self::default() } else { Self::new(Full::new(json)) }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn text<B: http_body::Body<Data = Bytes>>(body: B) -> Bytes
    where
        B::Error: std::fmt::Debug,
    {
        body.collect().await.expect("in memory").to_bytes()
    }

    #[tokio::test]
    async fn every_body_carries_the_json() {
        let json = || Bytes::from_static(br#"{"error":"invalid_token"}"#);
        assert_eq!(text(axum_core::body::Body::from_error_json(json())).await, json());
        assert_eq!(text(Full::from_error_json(json())).await, json());
        assert_eq!(text(Either::<Full<Bytes>, Full<Bytes>>::from_error_json(json())).await, json());
        let boxed = http_body_util::combinators::BoxBody::<Bytes, std::io::Error>::from_error_json(json());
        assert_eq!(text(boxed).await, json());
        let unsync = http_body_util::combinators::UnsyncBoxBody::<Bytes, std::io::Error>::from_error_json(json());
        assert_eq!(text(unsync).await, json());
    }

    #[cfg(feature = "tonic")]
    #[tokio::test]
    async fn tonic_bodies_are_empty_or_the_json() {
        let json = Bytes::from_static(br#"{"error":"invalid_token"}"#);
        assert_eq!(text(tonic::body::Body::from_error_json(json.clone())).await, json);
        assert!(text(tonic::body::Body::from_error_json(Bytes::new())).await.is_empty());
    }
}
