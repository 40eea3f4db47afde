//! Memory stays bounded: 1,000,000 distinct junk credentials and 100,000
//! distinct valid tokens through the layer never push a cache past its bound.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response, header};
use http_body_util::Full;
use tokenguard_core::store::CacheOptions;
use tokenguard_core::{ApiKeyVerifier, Authenticator, JwksOptions, JwtRules, MemoryKeyStore, TokenCacheOptions};
use tokenguard_testkit::{DEFAULT_AUDIENCE, KeyAlg, TestIssuer};
use tokenguard_tower::AuthLayer;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const TOKEN_CACHE_BYTES: u64 = 1024 * 1024;
const KEY_CACHE_ENTRIES: u64 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_stay_within_their_bounds_under_a_flood() {
    let issuer = TestIssuer::start_with(KeyAlg::EdDsa).await;
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .api_keys(ApiKeyVerifier::with_cache(
            Arc::new(MemoryKeyStore::new()),
            "tg",
            CacheOptions { max_entries: KEY_CACHE_ENTRIES, ..CacheOptions::default() },
        ))
        .token_cache(TokenCacheOptions { max_bytes: TOKEN_CACHE_BYTES, ..TokenCacheOptions::default() })
        .build()
        .unwrap();
    let handler = service_fn(|_: Request<Full<bytes::Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::<bytes::Bytes>::default()))
    });
    let mut service = ServiceBuilder::new().layer(AuthLayer::required(authenticator.clone())).service(handler);

    let check_bounds = |authenticator: &Authenticator, sent: usize| {
        let tokens = authenticator.token_cache_stats();
        assert!(tokens.bytes <= TOKEN_CACHE_BYTES, "after {sent}: token cache holds {} bytes", tokens.bytes);
        tokens
    };

    let started = std::time::Instant::now();
    let mut statuses = [0usize; 600];
    let template = issuer.token().sign();
    let (_, payload_and_signature) = template.split_once('.').unwrap();
    for n in 0..1_000_000usize {
        let junk = match n % 3 {
            // Opaque junk: one store query each (bounded in flight), nothing cached.
            0 => format!("Bearer junk{n:016x}"),
            // JWT-shaped with a random kid: the JWKS flood guard applies.
            1 => {
                let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"EdDSA","kid":"random-{n}"}}"#));
                format!("Bearer {header}.{payload_and_signature}")
            }
            // Our key prefix with a bad checksum: refused before any lookup.
            _ => format!("Token tg_{n:042}"),
        };
        let request = Request::builder().header(header::AUTHORIZATION, junk).body(Full::default()).unwrap();
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        statuses[response.status().as_u16() as usize] += 1;
        if n % 100_000 == 0 {
            check_bounds(&authenticator, n);
            let key_entries = authenticator.api_keys().unwrap().cache().entry_count().await;
            assert!(key_entries <= KEY_CACHE_ENTRIES, "after {n}: API key cache holds {key_entries}");
        }
    }
    assert_eq!(statuses[401] + statuses[400], 1_000_000, "junk is never accepted");

    for n in 0..100_000usize {
        let token = issuer.token().claim("jti", format!("{n}")).sign();
        let request =
            Request::builder().header(header::AUTHORIZATION, format!("Bearer {token}")).body(Full::default()).unwrap();
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), 200);
        if n % 10_000 == 0 {
            check_bounds(&authenticator, n);
        }
    }
    let tokens = check_bounds(&authenticator, 100_000);
    assert!(tokens.entries > 0 && tokens.entries < 100_000, "{tokens:?}");
    let key_entries = authenticator.api_keys().unwrap().cache().entry_count().await;
    assert!(key_entries <= KEY_CACHE_ENTRIES, "API key cache holds {key_entries}");
    // One initial fetch, then at most one refresh per 30 s cool-down, however many random kids.
    let allowed = 2 + started.elapsed().as_secs() as usize / 30;
    assert!(issuer.jwks_fetches() <= allowed, "{} JWKS fetches (allowed {allowed})", issuer.jwks_fetches());
    println!("token cache {tokens:?}, API key cache {key_entries} entries, {} JWKS fetches", issuer.jwks_fetches());
}
