//! A PostgreSQL key store that goes down and comes back, and a fleet that
//! shares one: on a private server each test starts and stops
//! ([`TestPostgres`]), never the machine's shared cluster.
#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokenguard_core::apikey::{self, KeyDigest};
use tokenguard_core::store::{ApiKeyRecord, CacheOptions, ChangedBy, KeyQuery, PostgresKeyStore, StoreError};
use tokenguard_core::{
    ApiKeyVerifier, AuthError, Authenticator, Credential, JwksOptions, JwtRules, KeyStore, Scheme, Scopes, Secret,
};
use tokenguard_testkit::{TestIssuer, TestPostgres};

const DEADLINE: Duration = Duration::from_secs(15);

fn start_postgres() -> TestPostgres {
    TestPostgres::start().unwrap_or_else(|error| panic!("{error}"))
}

async fn create_key(store: &dyn KeyStore, subject: &str) -> (Secret, String) {
    let key = apikey::generate("tg");
    let record = ApiKeyRecord::for_key(&key, subject, Scopes::from_space_separated("read"), None, None);
    let id = record.id.clone();
    store.insert(record, &ChangedBy::now("test")).await.expect("insert");
    (key, id)
}

fn unavailable(result: Result<tokenguard_core::Principal, AuthError>) -> bool {
    matches!(result, Err(AuthError::Unavailable { .. }))
}

/// Polls `check` until it holds, or panics after [`DEADLINE`].
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < DEADLINE, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_an_outage_keys_fail_fast_and_recent_keys_keep_working_within_the_stale_bound() {
    let postgres = start_postgres();
    let store = Arc::new(PostgresKeyStore::open(&postgres.url()).await.expect("store"));
    let stale = Duration::from_secs(2);
    let options = CacheOptions { ttl: Duration::from_millis(100), stale, ..CacheOptions::default() };
    let verifier = ApiKeyVerifier::with_cache(store.clone(), "tg", options);
    let (recent, _) = create_key(&*store, "recent").await;
    let mut never_seen = Vec::new();
    for n in 0..64 {
        never_seen.push(create_key(&*store, &format!("new-{n}")).await.0);
    }
    verifier.verify(recent.expose()).await.expect("verified before the outage");
    let verified_at = Instant::now();

    postgres.stop().unwrap();
    // 64 keys never verified, all at once: each answered 503 at once, none waits for a pool timeout.
    let started = Instant::now();
    let answers = futures_join_all(never_seen.iter().map(|key| {
        let verifier = verifier.clone();
        let key = key.expose().to_owned();
        async move {
            let asked = Instant::now();
            let result = verifier.verify(&key).await;
            (unavailable(result), asked.elapsed())
        }
    }))
    .await;
    let mut latencies: Vec<Duration> = answers.iter().map(|(_, latency)| *latency).collect();
    latencies.sort();
    println!("64 unknown keys as the outage begins: p50 {:?}, max {:?}", latencies[32], latencies[63]);
    assert!(answers.iter().all(|(unavailable, _)| *unavailable), "every key is 503");
    // Those in flight as it begins wait at most the query timeout (1 s), never the pool's.
    assert!(started.elapsed() < Duration::from_millis(1500), "all 64 answered in {:?}", started.elapsed());
    for key in &never_seen[..8] {
        let asked = Instant::now();
        assert!(unavailable(verifier.verify(key.expose()).await));
        assert!(asked.elapsed() < Duration::from_millis(100), "503 in {:?}", asked.elapsed());
    }
    assert!(!verifier.cache().health().ready);

    // The recently verified key keeps working, until the stale bound ends.
    assert!(verifier.verify(recent.expose()).await.is_ok(), "within the stale bound");
    let refused =
        eventually("the stale bound ends", || async { unavailable(verifier.verify(recent.expose()).await) }).await;
    assert!(verified_at.elapsed() >= stale, "served stale for {:?} only", verified_at.elapsed());
    println!("stale key refused {refused:?} after we started polling (bound {stale:?})");

    postgres.start_again().unwrap();
    let back = eventually("keys work again", || async { verifier.verify(never_seen[0].expose()).await.is_ok() }).await;
    println!("keys accepted again {back:?} after the server restarted");
    assert!(verifier.cache().health().ready);
    assert!(verifier.verify(recent.expose()).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_while_the_store_is_down_serves_jwts_then_keys_once_it_answers() {
    let postgres = start_postgres();
    let (key, _) = {
        let store = PostgresKeyStore::open(&postgres.url()).await.expect("store");
        create_key(&store, "svc").await
    };
    postgres.stop().unwrap();

    let issuer = TestIssuer::start().await;
    let store = PostgresKeyStore::connect_lazy(&postgres.url()).expect("a lazy store needs no server");
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), ["tokenguard-example"]), JwksOptions::default())
        .api_keys(ApiKeyVerifier::new(Arc::new(store), "tg"))
        .build()
        .unwrap();
    let jwt = issuer.token().subject("alice").sign();
    let principal = authenticator.verify(Credential::new(Scheme::Bearer, &jwt)).await.expect("JWTs are unaffected");
    assert_eq!(principal.subject(), "alice");
    let token = Credential::new(Scheme::Token, key.expose());
    let asked = Instant::now();
    assert!(unavailable(authenticator.verify(token).await));
    println!("first key during the outage: 503 after {:?} (connect attempts until the query timeout)", asked.elapsed());
    let asked = Instant::now();
    assert!(unavailable(authenticator.verify(token).await));
    assert!(asked.elapsed() < Duration::from_millis(100), "then at once: {:?}", asked.elapsed());

    postgres.start_again().unwrap();
    let back = eventually("the key is accepted", || async { authenticator.verify(token).await.is_ok() }).await;
    println!("key accepted {back:?} after the store came back, no restart");
}

/// `PostgresKeyStore` without its change notifications: what an instance
/// sees when its notification connection is gone for good.
struct WithoutNotifications(PostgresKeyStore);

#[async_trait]
impl KeyStore for WithoutNotifications {
    async fn find_by_digest(&self, digest: &KeyDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.0.find_by_digest(digest).await
    }
    async fn insert(&self, record: ApiKeyRecord, by: &ChangedBy) -> Result<bool, StoreError> {
        self.0.insert(record, by).await
    }
    async fn list(&self, query: &KeyQuery) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.0.list(query).await
    }
    async fn revoke(&self, id: &str, by: &ChangedBy) -> Result<bool, StoreError> {
        self.0.revoke(id, by).await
    }
    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError> {
        self.0.touch(id, at).await
    }
}

fn instance(store: Arc<dyn KeyStore>) -> Authenticator {
    Authenticator::builder().api_keys(ApiKeyVerifier::new(store, "tg")).build().unwrap()
}

/// Revokes a fresh key (verified by every instance first) through `admin`
/// and returns how long until every instance refuses it.
async fn revocation_delay(admin: &PostgresKeyStore, instances: &[Authenticator], deadline: Duration) -> Duration {
    let (key, id) = create_key(admin, "svc").await;
    let token = Credential::new(Scheme::Token, key.expose());
    for instance in instances {
        instance.verify(token).await.expect("a new key is accepted at once");
    }
    let revoked = Instant::now();
    assert!(admin.revoke(&id, &ChangedBy::now("test")).await.unwrap());
    for instance in instances {
        while instance.verify(token).await.is_ok() {
            assert!(revoked.elapsed() < deadline, "still accepted after {deadline:?}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(instance.verify(token).await.unwrap_err(), AuthError::InvalidToken("API key revoked"));
    }
    revoked.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_every_instance_within_a_second() {
    let postgres = start_postgres();
    let admin = PostgresKeyStore::open(&postgres.url()).await.expect("store");
    let instances: Vec<Authenticator> =
        (0..2).map(|_| instance(Arc::new(PostgresKeyStore::connect_lazy(&postgres.url()).unwrap()))).collect();
    let mut delays = Vec::new();
    for _ in 0..20 {
        delays.push(revocation_delay(&admin, &instances, Duration::from_secs(1)).await);
    }
    delays.sort();
    println!(
        "revocation seen by both instances over 20 trials: min {:?}, p50 {:?}, p90 {:?}, max {:?}",
        delays[0], delays[10], delays[18], delays[19]
    );

    // The notification connection of every instance is cut: they reconnect,
    // and a change made meanwhile is not lost.
    let terminated: Vec<(bool,)> = sqlx_terminate_listeners(&postgres.url()).await;
    assert!(!terminated.is_empty(), "the instances listen");
    let delay = revocation_delay(&admin, &instances, Duration::from_secs(2)).await;
    println!("after the listeners were cut: {delay:?}");

    // No notifications at all: the polling bound (5 s store cache + 2 s token cache).
    let polling: Vec<Authenticator> = (0..2)
        .map(|_| instance(Arc::new(WithoutNotifications(PostgresKeyStore::connect_lazy(&postgres.url()).unwrap()))))
        .collect();
    let delay = revocation_delay(&admin, &polling, Duration::from_secs(8)).await;
    println!("without notifications: {delay:?} (bound 7 s)");
}

async fn sqlx_terminate_listeners(url: &str) -> Vec<(bool,)> {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_as("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")
        .fetch_all(&mut connection)
        .await
        .unwrap()
}

async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("task"));
    }
    outputs
}
