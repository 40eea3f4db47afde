//! Criterion benches of the authentication hot path.
//!
//! `cargo bench --bench auth` — each group puts tokenguard beside its floor:
//! the same token checked by `jsonwebtoken::decode` alone, and the bare
//! aws-lc signature check with a pre-parsed public key.

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use tokenguard::apikey::{self, KeyDigest};
use tokenguard::plumbing::{AuthOutcome, RequestView};
use tokenguard::store::SqliteKeyStore;
use tokenguard::store::{ApiKeyRecord, ChangedBy};
use tokenguard::{
    ApiKeyVerifier, Authenticator, Credential, JwksOptions, JwtRules, KeyStore, MemoryKeyStore, Scheme,
    ScopeRequirement, Scopes,
};
use tokenguard_testkit::{DEFAULT_AUDIENCE, KeyAlg, TestIssuer};

#[path = "support/floors.rs"]
mod floors;
use floors::Fixture;

/// What an adapter does first with a request: its view, then the cache.
fn authenticate_cached(authenticator: &Authenticator, headers: &HeaderMap) -> Option<AuthOutcome> {
    let (method, uri) = (http::Method::GET, http::Uri::from_static("/recordings"));
    authenticator.authenticate_cached(&RequestView::from_http(&method, &uri, headers))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime")
}

fn credential_parsing(c: &mut Criterion) {
    // Parsing, then a miss in an empty cache: what an unseen credential costs before verification.
    let authenticator = Authenticator::builder().build().expect("authenticator");
    let mut group = c.benchmark_group("credential_parsing");
    let jwt = format!("Bearer {}.{}.{}", "a".repeat(40), "b".repeat(300), "c".repeat(342));
    for (name, value) in [
        ("bearer_jwt", jwt.as_str()),
        ("token_drf", "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"),
        ("token_rails", "Token token=\"tg_JAC0Hthw3TpxgdkPTZ8CZLkax9NFaE71jfm635Z1iL\", nonce=\"x\""),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        group.bench_function(name, |b| b.iter(|| authenticate_cached(&authenticator, std::hint::black_box(&headers))));
    }
    group.finish();
}

fn jwt_verification(c: &mut Criterion) {
    let rt = runtime();
    for (group_name, alg, jwa) in [
        ("verify_rs256", KeyAlg::Rs256, jsonwebtoken::Algorithm::RS256),
        ("verify_es256", KeyAlg::Es256, jsonwebtoken::Algorithm::ES256),
        ("verify_eddsa", KeyAlg::EdDsa, jsonwebtoken::Algorithm::EdDSA),
    ] {
        let fixture = Fixture::new(&rt, alg);
        let Fixture { issuer, token, authenticator, decoding_key, parsed_key, signature } = &fixture;
        let (credential, signing_input) = (fixture.credential(), fixture.signing_input());
        let mut validation = jsonwebtoken::Validation::new(jwa);
        validation.set_audience(&[DEFAULT_AUDIENCE]);
        validation.set_issuer(&[issuer.issuer()]);

        let mut group = c.benchmark_group(group_name);
        group.bench_function("tokenguard_parse_only", |b| {
            b.iter(|| tokenguard::jwt::jose::parse(std::hint::black_box(token)).map(|jwt| jwt.header.alg))
        });
        group.bench_function("tokenguard", |b| {
            b.iter(|| futures::executor::block_on(authenticator.verify(std::hint::black_box(credential))))
        });
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| jsonwebtoken::decode::<serde_json::Value>(std::hint::black_box(token), decoding_key, &validation))
        });
        group.bench_function("aws_lc_preparsed_signature", |b| {
            b.iter(|| parsed_key.verify_sig(std::hint::black_box(signing_input), signature))
        });
        group.finish();
    }
}

fn cache_hit(c: &mut Criterion) {
    let rt = runtime();
    let issuer = rt.block_on(TestIssuer::start());
    let token = issuer.token().scope("read").sign();
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .build()
        .expect("authenticator");
    let credential = Credential::new(Scheme::Bearer, &token);
    rt.block_on(authenticator.verify(credential)).expect("verifies");
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).expect("header"));
    let mut group = c.benchmark_group("cache_hit");
    group.bench_function("verify_cached_jwt", |b| {
        b.iter(|| futures::executor::block_on(authenticator.verify(std::hint::black_box(credential))))
    });
    group.bench_function("authenticate_cached_sync_jwt", |b| {
        b.iter(|| authenticate_cached(&authenticator, std::hint::black_box(&headers)))
    });
    group.bench_function("authenticate_headers_cached_jwt", |b| {
        b.iter(|| {
            let (method, uri) = (http::Method::GET, http::Uri::from_static("/recordings"));
            let view = RequestView::from_http(&method, &uri, std::hint::black_box(&headers));
            futures::executor::block_on(authenticator.authenticate(&view))
        })
    });
    // Many distinct callers: each lookup finds its entry out of the CPU's
    // own caches (10,000 entries of ~1 KiB each outgrow L2), as in load (b).
    let rotated: Vec<HeaderMap> = (0..10_000)
        .map(|caller| {
            let token = issuer.token().subject(&format!("caller-{caller}")).scope("read").sign();
            rt.block_on(authenticator.verify(Credential::new(Scheme::Bearer, &token))).expect("verifies");
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).expect("header"));
            headers
        })
        .collect();
    // Callers of the same issuer at once, one per thread: what a hit costs
    // when cores share the cache and the issuer's keys (beside it, one thread).
    for threads in [1, 2] {
        group.bench_function(BenchmarkId::new("one_caller_per_thread", threads), |b| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                std::thread::scope(|scope| {
                    for headers in &rotated[..threads] {
                        let authenticator = &authenticator;
                        scope.spawn(move || {
                            for _ in 0..iters {
                                let headers = std::hint::black_box(headers);
                                std::hint::black_box(authenticate_cached(authenticator, headers));
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    let mut next = (0..rotated.len()).cycle();
    group.bench_function("authenticate_cached_sync_jwt_10k_rotated", |b| {
        b.iter(|| {
            let headers = &rotated[next.next().unwrap_or_default()];
            authenticate_cached(&authenticator, std::hint::black_box(headers))
        })
    });
    // The same, followed by what a request reads of the principal next: the
    // layer's extensions and a scope guard's check, as in the example.
    let requirement = ScopeRequirement::new("read");
    group.bench_function("authenticate_cached_sync_jwt_10k_rotated_and_scope_check", |b| {
        b.iter(|| {
            let headers = &rotated[next.next().unwrap_or_default()];
            let Some(outcome) = authenticate_cached(&authenticator, std::hint::black_box(headers)) else {
                panic!("a cache hit")
            };
            std::hint::black_box(outcome.check(&requirement).is_ok())
        })
    });
    group.finish();
}

/// One request through the tower layers and through axum routers, in
/// process (no sockets): what the layers add to a request next to the same
/// service or router without them.
fn tower_layer(c: &mut Criterion) {
    use axum::body::Body;
    use tokenguard::tower::{AuthLayer, RequireScopeLayer};
    use tower::{Layer, Service, ServiceExt};

    let rt = runtime();
    let issuer = rt.block_on(TestIssuer::start());
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .build()
        .expect("authenticator");
    let authorization =
        HeaderValue::from_str(&format!("Bearer {}", issuer.token().scope("read").sign())).expect("header");
    let request = || {
        http::Request::get("/recordings")
            .header(AUTHORIZATION, authorization.clone())
            .body(Body::empty())
            .expect("request")
    };
    let handler = || async { axum::Json(serde_json::json!([{ "id": 0, "title": "Welcome to tokenguard" }])) };
    let inner = tower::service_fn(|_: http::Request<Body>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("[]")))
    });
    let auth = AuthLayer::required(authenticator.clone());
    let bare_router: axum::Router = axum::Router::new().route("/recordings", axum::routing::get(handler));
    let layered_router: axum::Router = axum::Router::new()
        .route("/recordings", axum::routing::get(handler).route_layer(RequireScopeLayer::new("read")))
        .route_layer(auth.clone());
    tokenguard::tower::scope_guard! {
        struct CanRead = scopes("read");
    }
    let guarded_handler = move |_: CanRead| handler();
    let guarded_router: axum::Router =
        axum::Router::new().route("/recordings", axum::routing::get(guarded_handler)).route_layer(auth.clone());
    let handler_layered_router: axum::Router = {
        use axum::handler::Handler;
        axum::Router::new().route("/recordings", axum::routing::get(guarded_handler.layer(auth.clone())))
    };
    // The example's shape: one deferred layer around the router, guards in the handlers.
    let deferred_router = AuthLayer::deferred(authenticator.clone())
        .layer(axum::Router::new().route("/recordings", axum::routing::get(guarded_handler)));
    let mut warm = auth.layer(inner);
    let response = rt.block_on(async { warm.ready().await.expect("ready").call(request()).await });
    assert_eq!(response.expect("infallible").status(), 200, "the token verifies");

    let mut group = c.benchmark_group("tower_layer");
    bench_requests(&mut group, "service_alone", inner, request);
    bench_requests(&mut group, "auth_layer_cached_jwt", auth.layer(inner), request);
    bench_requests(
        &mut group,
        "auth_and_scope_cached_jwt",
        auth.layer(RequireScopeLayer::new("read").layer(inner)),
        request,
    );
    bench_requests(&mut group, "axum_router_alone", bare_router, request);
    bench_requests(&mut group, "axum_router_route_layers_cached_jwt", layered_router, request);
    bench_requests(&mut group, "axum_router_layer_and_guard_cached_jwt", guarded_router, request);
    bench_requests(&mut group, "axum_handler_layer_and_guard_cached_jwt", handler_layered_router, request);
    bench_requests(&mut group, "axum_deferred_layer_around_router_and_guard_cached_jwt", deferred_router, request);
    group.finish();
}

/// Times one `request()` through `service`, start to response.
fn bench_requests<S, B>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut service: S,
    request: impl Fn() -> http::Request<B>,
) where
    S: tower::Service<http::Request<B>>,
{
    group.bench_function(name, |b| b.iter(|| futures::executor::block_on(service.call(request()))));
}

fn api_keys(c: &mut Criterion) {
    let rt = runtime();
    // Store lookups need a Tokio context even when driven by a plain executor.
    let _context = rt.enter();
    let mut group = c.benchmark_group("api_key");
    let key = apikey::generate("tg");
    let record = ApiKeyRecord::for_key(&key, "svc", Scopes::from_space_separated("read"), None, None);
    let memory: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    rt.block_on(memory.insert(record.clone(), &ChangedBy::now("bench"))).expect("insert");
    let dir = std::env::temp_dir().join(format!("tokenguard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite: Arc<dyn KeyStore> = Arc::new(
        rt.block_on(SqliteKeyStore::open(&format!("sqlite://{}", dir.join("keys.db").display()))).expect("sqlite"),
    );
    rt.block_on(sqlite.insert(record, &ChangedBy::now("bench"))).expect("insert");

    group.bench_function("digest", |b| b.iter(|| KeyDigest::of(std::hint::black_box(key.expose()))));
    for (name, store) in [("memory", &memory), ("sqlite", &sqlite)] {
        group.bench_function(BenchmarkId::new("digest_and_store_lookup", name), |b| {
            b.iter(|| rt.block_on(store.find_by_digest(&KeyDigest::of(key.expose()))))
        });
        let verifier = ApiKeyVerifier::new(store.clone(), "tg");
        group.bench_function(BenchmarkId::new("verifier_with_key_cache", name), |b| {
            b.iter(|| rt.block_on(verifier.verify(std::hint::black_box(key.expose()))))
        });
        let authenticator = Authenticator::builder().api_keys(verifier.clone()).build().expect("authenticator");
        let credential = Credential::new(Scheme::Token, key.expose());
        group.bench_function(BenchmarkId::new("authenticator_cached", name), |b| {
            b.iter(|| futures::executor::block_on(authenticator.verify(std::hint::black_box(credential))))
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(dir);
}

fn scope_check(c: &mut Criterion) {
    let requirement = ScopeRequirement::new("write");
    let principal = tokenguard::Principal::new(tokenguard::PrincipalParts {
        subject: "alice".into(),
        kind: tokenguard::PrincipalKind::Jwt,
        issuer: None,
        client_id: None,
        scopes: Scopes::from_space_separated("openid profile email read write admin"),
        roles: Scopes::empty(),
        expires_at: None,
        claims: serde_json::Map::new(),
    });
    c.bench_function("scope_check", |b| b.iter(|| requirement.check(std::hint::black_box(&principal))));
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = credential_parsing, jwt_verification, cache_hit, token_digest, tower_layer, api_keys, scope_check
}
criterion_main!(benches);

/// What a digest of a JWT would cost the cache's lookups, as its key instead
/// of the full token: hashing the presented token is paid on every request
/// (hit or miss), and must be a keyed or cryptographic one not to let a
/// forged token collide with a cached one. Beside it, a cache hit (`cache_hit`).
fn token_digest(c: &mut Criterion) {
    use aws_lc_rs::{aead, digest, hmac};
    let token = "x".repeat(760);
    let token = token.as_bytes();
    let mut group = c.benchmark_group("token_digest_760_bytes");
    group.bench_function("sha256", |b| b.iter(|| digest::digest(&digest::SHA256, std::hint::black_box(token))));
    let key = hmac::Key::new(hmac::HMAC_SHA256, &[7u8; 32]);
    group.bench_function("hmac_sha256", |b| b.iter(|| hmac::sign(&key, std::hint::black_box(token))));
    let gmac_key = aead::UnboundKey::new(&aead::AES_128_GCM, &[9u8; 16]).map(aead::LessSafeKey::new).expect("key");
    group.bench_function("gmac_aes128", |b| {
        b.iter(|| {
            let nonce = aead::Nonce::assume_unique_for_key([0u8; 12]);
            let aad = aead::Aad::from(std::hint::black_box(token));
            gmac_key.seal_in_place_separate_tag(nonce, aad, &mut [])
        })
    });
    group.finish();
}
