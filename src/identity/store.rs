//! Where held vendor credentials live: an embedded database (redb) on one machine, or a Redis of
//! their own (`auth.store_url`) that every replica shares. Held credentials are data, not cache:
//! nothing here expires or is evicted, and a Redis that would evict is refused.
//!
//! Each record is sealed with ChaCha20-Poly1305 under the current key of `auth.store_keys`,
//! its key id written in front so older keys still open it; the record's subject is the
//! associated data, so a sealed record cannot be moved to another subject. Entries are named by
//! a hash of the subject.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What is held for one subject. No `Debug`: it holds secrets.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appmixer: Option<MixerLogin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appypie: Option<PieKeys>,
}

/// An Appmixer user the gateway signs in as.
#[derive(Clone, Serialize, Deserialize)]
pub struct MixerLogin {
    pub username: String,
    pub password: String,
    /// A virtual user the gateway created for the subject.
    #[serde(default)]
    pub created: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Appy Pie keys the gateway exchanges for an access token.
#[derive(Clone, Serialize, Deserialize)]
pub struct PieKeys {
    pub token_key: String,
    pub secret_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

impl Record {
    /// Replaces, per vendor given, what is held: `(username, password)` of an Appmixer user,
    /// `(token key, secret key)` of Appy Pie.
    pub fn bind(&mut self, appmixer: Option<(String, String)>, appypie: Option<(String, String)>) {
        if let Some((username, password)) = appmixer {
            self.appmixer = Some(MixerLogin {
                username,
                password,
                created: false,
                token: None,
            });
        }
        if let Some((token_key, secret_key)) = appypie {
            self.appypie = Some(PieKeys {
                token_key,
                secret_key,
                access_token: None,
            });
        }
    }

    /// Drops the vendor tokens (keeping logins and keys); whether anything was held.
    pub fn rotate(&mut self) -> bool {
        self.appmixer.iter_mut().for_each(|m| m.token = None);
        self.appypie.iter_mut().for_each(|p| p.access_token = None);
        self.appmixer.is_some() || self.appypie.is_some()
    }
}

/// Where the store is and its keys.
#[derive(Clone)]
pub struct StoreConfig {
    /// A Redis of its own (`redis://...`); none: the embedded database in `dir`.
    pub url: Option<String>,
    pub dir: PathBuf,
    /// Key id and 32-byte key; the first seals, every one opens.
    pub keys: Vec<(String, [u8; 32])>,
    pub prefix: String,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the credential store failed: {0}")]
    Backend(String),
    #[error("a held record could not be opened (unknown key id or tampered)")]
    Sealed,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

const TABLE: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("credentials");

#[derive(Clone)]
enum Backend {
    Embedded(Arc<redb::Database>),
    Redis {
        conn: redis::aio::ConnectionManager,
        prefix: String,
    },
}

/// The credential store.
#[derive(Clone)]
pub struct CredentialStore {
    backend: Backend,
    keys: Arc<Vec<(String, LessSafeKey)>>,
}

/// A held lock on a subject's record (Redis only): other replicas wait while it is held.
pub struct Lock {
    conn: redis::aio::ConnectionManager,
    key: String,
    value: String,
}

/// How long a replica may hold a subject's lock; long enough for two vendor calls.
const LOCK_FOR: Duration = Duration::from_secs(15);

impl CredentialStore {
    /// Opens the store (creating the embedded database and its directory if needed).
    pub fn open(config: &StoreConfig) -> Result<CredentialStore, String> {
        if config.keys.is_empty() {
            return Err("auth.store_keys: at least one key is needed to seal credentials".into());
        }
        let keys = config
            .keys
            .iter()
            .map(|(id, key)| {
                let key = UnboundKey::new(&CHACHA20_POLY1305, key).map_err(|_| "bad key")?;
                Ok((id.clone(), LessSafeKey::new(key)))
            })
            .collect::<Result<Vec<_>, &str>>()?;
        let backend = match &config.url {
            Some(url) => {
                let client = redis::Client::open(url.as_str())
                    .map_err(|e| format!("auth.store_url: {}", e.category()))?;
                let settings = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_secs(2)));
                let conn = redis::aio::ConnectionManager::new_lazy_with_config(client, settings)
                    .map_err(|e| format!("auth.store_url: {}", e.category()))?;
                Backend::Redis {
                    conn,
                    prefix: config.prefix.clone(),
                }
            }
            None => {
                std::fs::create_dir_all(&config.dir).map_err(|e| format!("auth.store_dir: {e}"))?;
                let db = redb::Database::create(config.dir.join("credentials.redb"))
                    .map_err(|e| format!("auth.store_dir: {e}"))?;
                Backend::Embedded(Arc::new(db))
            }
        };
        Ok(CredentialStore {
            backend,
            keys: Arc::new(keys),
        })
    }

    /// Refuses a Redis that may evict keys (`maxmemory-policy` other than `noeviction`).
    pub async fn check_durable(&self) -> Result<(), String> {
        let Backend::Redis { conn, .. } = &self.backend else {
            return Ok(());
        };
        let mut conn = conn.clone();
        let reply: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(&mut conn)
            .await
            .map_err(|e| {
                format!(
                    "auth.store_url: cannot read maxmemory-policy ({})",
                    e.category()
                )
            })?;
        match reply.get(1).map(String::as_str) {
            Some("noeviction") => Ok(()),
            Some(policy) => Err(format!(
                "auth.store_url: the Redis evicts keys (maxmemory-policy {policy}); held \
                 credentials need maxmemory-policy noeviction"
            )),
            None => Err("auth.store_url: the Redis did not report its maxmemory-policy".into()),
        }
    }

    /// The record held for `subject`.
    pub async fn get(&self, subject: &str) -> Result<Option<Record>, StoreError> {
        let name = entry(subject);
        let Some(sealed) = self.raw_get(&name).await? else {
            return Ok(None);
        };
        let plain = self.open_sealed(&name, &sealed)?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|_| StoreError::Sealed)
    }

    /// Holds `record` for `subject`, sealed under the current key.
    pub async fn put(&self, subject: &str, record: &Record) -> Result<(), StoreError> {
        let name = entry(subject);
        let plain = serde_json::to_vec(record).map_err(backend)?;
        let sealed = self.seal(&name, &plain)?;
        self.raw_put(&name, &sealed).await
    }

    /// Removes everything held for `subject`; whether there was anything.
    pub async fn remove(&self, subject: &str) -> Result<bool, StoreError> {
        let name = entry(subject);
        match &self.backend {
            Backend::Embedded(db) => {
                let db = db.clone();
                blocking(move || {
                    let tx = db.begin_write().map_err(backend)?;
                    let removed = {
                        let mut table = tx.open_table(TABLE).map_err(backend)?;
                        let removed = table.remove(name.as_str()).map_err(backend)?.is_some();
                        removed
                    };
                    tx.commit().map_err(backend)?;
                    Ok(removed)
                })
                .await
            }
            Backend::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let n: u64 = redis::cmd("DEL")
                    .arg(format!("{prefix}:cred:v1:{name}"))
                    .query_async(&mut conn)
                    .await
                    .map_err(backend)?;
                Ok(n > 0)
            }
        }
    }

    /// Runs `work` holding `subject`'s lock (against other replicas; see [`Self::lock`]).
    pub async fn locked<T>(
        &self,
        subject: &str,
        work: impl AsyncFnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let lock = self.lock(subject).await?;
        let result = work().await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        result
    }

    /// Changes `subject`'s record under its lock; stores it when `change` says it changed.
    pub async fn update(
        &self,
        subject: &str,
        change: impl FnOnce(&mut Record) -> bool,
    ) -> Result<bool, StoreError> {
        self.locked(subject, async || {
            let mut record = self.get(subject).await?.unwrap_or_default();
            let changed = change(&mut record);
            if changed {
                self.put(subject, &record).await?;
            }
            Ok(changed)
        })
        .await
    }

    /// Removes `subject`'s record under its lock; whether there was one.
    pub async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        self.locked(subject, async || self.remove(subject).await)
            .await
    }

    /// Every entry as stored (sealed): `(entry name, sealed bytes)`, for backups.
    pub async fn export(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        match &self.backend {
            Backend::Embedded(db) => {
                let db = db.clone();
                blocking(move || {
                    use redb::{ReadableDatabase, ReadableTable};
                    let tx = db.begin_read().map_err(backend)?;
                    let table = match tx.open_table(TABLE) {
                        Ok(table) => table,
                        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                        Err(e) => return Err(backend(e)),
                    };
                    let mut out = Vec::new();
                    for row in table.iter().map_err(backend)? {
                        let (k, v) = row.map_err(backend)?;
                        out.push((k.value().to_string(), v.value().to_vec()));
                    }
                    Ok(out)
                })
                .await
            }
            Backend::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let pattern = format!("{prefix}:cred:v1:*");
                let names: Vec<String> = redis::cmd("KEYS")
                    .arg(&pattern)
                    .query_async(&mut conn)
                    .await
                    .map_err(backend)?;
                let mut out = Vec::new();
                for full in names {
                    let value: Option<Vec<u8>> = redis::cmd("GET")
                        .arg(&full)
                        .query_async(&mut conn)
                        .await
                        .map_err(backend)?;
                    let name = full.rsplit(':').next().unwrap_or_default().to_string();
                    out.extend(value.map(|v| (name, v)));
                }
                Ok(out)
            }
        }
    }

    /// Puts back entries from [`CredentialStore::export`]; each must open under a known key.
    pub async fn import(&self, entries: Vec<(String, Vec<u8>)>) -> Result<usize, StoreError> {
        let n = entries.len();
        for (name, sealed) in entries {
            self.open_sealed(&name, &sealed)?;
            self.raw_put(&name, &sealed).await?;
        }
        Ok(n)
    }

    /// Seals every entry again under the current key; how many.
    pub async fn rekey(&self) -> Result<usize, StoreError> {
        let entries = self.export().await?;
        let n = entries.len();
        for (name, sealed) in entries {
            let plain = self.open_sealed(&name, &sealed)?;
            let resealed = self.seal(&name, &plain)?;
            self.raw_put(&name, &resealed).await?;
        }
        Ok(n)
    }

    /// Locks `subject`'s record against other replicas (Redis), waiting for it up to the lock's
    /// lifetime; on one machine the caller's own single flight is enough.
    async fn lock(&self, subject: &str) -> Result<Option<Lock>, StoreError> {
        let Backend::Redis { conn, prefix } = &self.backend else {
            return Ok(None);
        };
        let mut conn = conn.clone();
        let key = format!("{prefix}:credlock:v1:{}", entry(subject));
        let value = random_text(16);
        let deadline = tokio::time::Instant::now() + LOCK_FOR;
        loop {
            let taken: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&value)
                .arg("NX")
                .arg("PX")
                .arg(LOCK_FOR.as_millis() as u64)
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            if taken.is_some() {
                return Ok(Some(Lock { conn, key, value }));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Backend(
                    "a subject's lock was held too long".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| backend("no randomness"))?;
        let mut body = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(name.as_bytes()),
            &mut body,
        )
        .map_err(|_| backend("sealing failed"))?;
        let mut out = Vec::with_capacity(4 + id.len() + NONCE_LEN + body.len());
        out.extend_from_slice(b"fg1");
        out.push(id.len() as u8);
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    fn open_sealed(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let rest = sealed.strip_prefix(b"fg1").ok_or(StoreError::Sealed)?;
        let (&id_len, rest) = rest.split_first().ok_or(StoreError::Sealed)?;
        let id_len = id_len as usize;
        if rest.len() < id_len + NONCE_LEN {
            return Err(StoreError::Sealed);
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| k.as_bytes() == id)
            .ok_or(StoreError::Sealed)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::Sealed)?;
        let mut body = body.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut body)
            .map_err(|_| StoreError::Sealed)?;
        Ok(plain.to_vec())
    }

    async fn raw_get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match &self.backend {
            Backend::Embedded(db) => {
                let (db, name) = (db.clone(), name.to_string());
                blocking(move || {
                    use redb::{ReadableDatabase, ReadableTable};
                    let tx = db.begin_read().map_err(backend)?;
                    let table = match tx.open_table(TABLE) {
                        Ok(table) => table,
                        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                        Err(e) => return Err(backend(e)),
                    };
                    let value = table.get(name.as_str()).map_err(backend)?;
                    Ok(value.map(|v| v.value().to_vec()))
                })
                .await
            }
            Backend::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                redis::cmd("GET")
                    .arg(format!("{prefix}:cred:v1:{name}"))
                    .query_async(&mut conn)
                    .await
                    .map_err(backend)
            }
        }
    }

    async fn raw_put(&self, name: &str, sealed: &[u8]) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Embedded(db) => {
                let (db, name, sealed) = (db.clone(), name.to_string(), sealed.to_vec());
                blocking(move || {
                    let tx = db.begin_write().map_err(backend)?;
                    tx.open_table(TABLE)
                        .map_err(backend)?
                        .insert(name.as_str(), sealed.as_slice())
                        .map_err(backend)?;
                    tx.commit().map_err(backend)
                })
                .await
            }
            Backend::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                redis::cmd("SET")
                    .arg(format!("{prefix}:cred:v1:{name}"))
                    .arg(sealed)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(backend)
            }
        }
    }
}

impl Lock {
    /// Lets other replicas in.
    async fn release(mut self) {
        const RELEASE: &str =
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
        let _: Result<i64, _> = redis::Script::new(RELEASE)
            .key(&self.key)
            .arg(&self.value)
            .invoke_async(&mut self.conn)
            .await;
    }
}

/// The name of `subject`'s entry: a hash, so the store lists no subject.
fn entry(subject: &str) -> String {
    let digest = Sha256::digest(format!("flowgate-subject:{subject}").as_bytes());
    digest[..20].iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes as URL-safe text.
pub fn random_text(n: usize) -> String {
    use base64::Engine;
    let mut bytes = vec![0u8; n];
    let _ = SystemRandom::new().fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| backend("a store task failed"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &std::path::Path, keys: &[(&str, u8)]) -> CredentialStore {
        CredentialStore::open(&StoreConfig {
            url: None,
            dir: dir.to_path_buf(),
            keys: keys
                .iter()
                .map(|(id, b)| (id.to_string(), [*b; 32]))
                .collect(),
            prefix: "t".into(),
        })
        .unwrap()
    }

    fn record(password: &str) -> Record {
        Record {
            appmixer: Some(MixerLogin {
                username: "fg-1".into(),
                password: password.into(),
                created: true,
                token: None,
            }),
            appypie: None,
        }
    }

    #[tokio::test]
    async fn records_are_sealed_and_open_under_an_older_key_after_rotation() {
        let dir = std::env::temp_dir().join(format!("fg-store-{}", random_text(6)));
        {
            let old = store(&dir, &[("k1", 1)]);
            old.put("alice", &record("s3cret-password")).await.unwrap();
        }
        let raw = std::fs::read(dir.join("credentials.redb")).unwrap();
        assert!(!raw.windows(15).any(|w| w == b"s3cret-password"));
        let rotated = store(&dir, &[("k2", 2), ("k1", 1)]);
        let held = rotated.get("alice").await.unwrap().unwrap();
        assert_eq!(held.appmixer.unwrap().password, "s3cret-password");
        assert_eq!(rotated.rekey().await.unwrap(), 1);
        drop(rotated);
        let only_new = store(&dir, &[("k2", 2)]);
        assert!(only_new.get("alice").await.unwrap().is_some());
        assert!(only_new.get("bob").await.unwrap().is_none());
        drop(only_new);
        let only_old = store(&dir, &[("k1", 1)]);
        assert!(matches!(
            only_old.get("alice").await,
            Err(StoreError::Sealed)
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_sealed_record_cannot_be_moved_to_another_subject() {
        let dir = std::env::temp_dir().join(format!("fg-store-{}", random_text(6)));
        let s = store(&dir, &[("k1", 1)]);
        s.put("alice", &record("pw")).await.unwrap();
        let entries = s.export().await.unwrap();
        let (_, sealed) = entries[0].clone();
        assert!(s.import(vec![(entry("mallory"), sealed)]).await.is_err());
        assert!(s.remove("alice").await.unwrap());
        assert!(s.get("alice").await.unwrap().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
