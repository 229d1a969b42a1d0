//! Vendor credentials the gateway holds for its subjects (`auth.credentials = "held"`): the
//! browser holds only its JWT, and the gateway signs in upstream for it.
//!
//! - Appmixer: a virtual user per subject, created on first use (`POST /user`) with a generated
//!   password that is kept; signed in (`POST /user/auth`) when there is no token, when it
//!   expires (its JWT's `exp`) or after the vendor refused it.
//! - Appy Pie: the subject's token key and secret key (bound by an admin), or the tenant's from
//!   the settings, exchanged for an access token (`POST /create-refresh-token`), again after the
//!   vendor refused it.
//!
//! One sign-in per subject at a time: in this process a lock per subject, across replicas the
//! store's lock; requests waiting for it take the credentials it got.

use super::store::{random_text, CredentialStore, MixerLogin, PieKeys, Record, StoreError};
use crate::loaders::model::{Provider, Token};
use crate::loaders::SignIns;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A token this close to its `exp` is renewed before it is used.
const EARLY: u64 = 10;

/// The credentials sent upstream for a subject.
pub struct HeldTokens {
    pub appypie: Option<Token>,
    pub appmixer: Option<Token>,
    /// The Appmixer token's `exp`, when it has one.
    appmixer_expires: Option<u64>,
    got: Instant,
}

impl HeldTokens {
    fn fresh(&self) -> bool {
        self.appmixer_expires.is_none_or(|exp| exp > now() + EARLY)
    }
}

/// What the broker may do beyond what is bound.
#[derive(Clone, Default)]
pub struct HeldConfig {
    /// Create an Appmixer virtual user for a subject with none bound.
    pub virtual_users: bool,
    /// The tenant's Appy Pie keys, for subjects with none of their own.
    pub tenant_appypie: Option<(String, String)>,
}

/// What an admin binds to a subject (each part replaces what was held for that vendor).
#[derive(Default)]
pub struct Binding {
    pub appmixer: Option<(String, String)>,
    pub appypie: Option<(String, String)>,
}

pub struct Held {
    store: CredentialStore,
    sign_in: SignIns,
    config: HeldConfig,
    live: moka::sync::Cache<String, Arc<HeldTokens>>,
    flights: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl Held {
    pub fn new(store: CredentialStore, sign_in: SignIns, config: HeldConfig) -> Arc<Held> {
        Arc::new(Held {
            store,
            sign_in,
            config,
            // Read again from the store after a minute, so changes made elsewhere (another
            // replica, `flowgate credentials`) apply.
            live: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            flights: Mutex::default(),
        })
    }

    pub fn store(&self) -> &CredentialStore {
        &self.store
    }

    /// The credentials to send upstream for `subject`, signing in where needed.
    pub async fn tokens(&self, subject: &str) -> Result<Arc<HeldTokens>, StoreError> {
        if let Some(tokens) = self.live.get(subject).filter(|t| t.fresh()) {
            return Ok(tokens);
        }
        let waiting_since = Instant::now();
        let flight = self.flight(subject);
        let _turn = flight.lock().await;
        if let Some(tokens) = self.live.get(subject) {
            if tokens.fresh() || tokens.got > waiting_since {
                return Ok(tokens);
            }
        }
        let tokens = Arc::new(self.refresh(subject).await?);
        self.live.insert(subject.to_string(), tokens.clone());
        Ok(tokens)
    }

    /// The vendor refused `sent` for `subject`: it is dropped, so the next request signs in.
    pub async fn refused(&self, subject: &str, provider: Provider, sent: &Token) {
        let flight = self.flight(subject);
        let _turn = flight.lock().await;
        self.live.invalidate(subject);
        let dropped = self.store.update(subject, |record| {
            let held = match provider {
                Provider::Appmixer => record.appmixer.as_mut().map(|m| &mut m.token),
                Provider::AppyPie => record.appypie.as_mut().map(|p| &mut p.access_token),
            };
            match held {
                Some(token) if token.as_deref() == Some(sent.expose()) => {
                    *token = None;
                    true
                }
                _ => false,
            }
        });
        if let Err(e) = dropped.await {
            tracing::warn!(error = %e, "could not drop a refused held credential");
        }
    }

    /// Binds vendor credentials to `subject` (replacing, per vendor, what was held).
    pub async fn bind(&self, subject: &str, binding: Binding) -> Result<(), StoreError> {
        let bind = |record: &mut Record| {
            record.bind(binding.appmixer, binding.appypie);
            true
        };
        self.store.update(subject, bind).await?;
        self.live.invalidate(subject);
        Ok(())
    }

    /// Drops `subject`'s vendor tokens (keeping its logins and keys): the next request signs in
    /// and mints new ones.
    pub async fn rotate(&self, subject: &str) -> Result<bool, StoreError> {
        let held = self.store.update(subject, Record::rotate).await?;
        self.live.invalidate(subject);
        Ok(held)
    }

    /// Removes everything held for `subject`.
    pub async fn remove(&self, subject: &str) -> Result<bool, StoreError> {
        let flight = self.flight(subject);
        let _turn = flight.lock().await;
        let removed = self.store.forget(subject).await;
        self.live.invalidate(subject);
        removed
    }

    fn flight(&self, subject: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(flight) = flights.get(subject).and_then(Weak::upgrade) {
            return flight;
        }
        flights.retain(|_, f| f.strong_count() > 0);
        let flight = Arc::new(tokio::sync::Mutex::new(()));
        flights.insert(subject.to_string(), Arc::downgrade(&flight));
        flight
    }

    /// Reads the record under the store's lock, gets what is missing or expired from the
    /// vendors, and stores what changed.
    async fn refresh(&self, subject: &str) -> Result<HeldTokens, StoreError> {
        let refresh = async || self.refresh_locked(subject).await;
        self.store.locked(subject, refresh).await
    }

    async fn refresh_locked(&self, subject: &str) -> Result<HeldTokens, StoreError> {
        let mut record = self.store.get(subject).await?.unwrap_or_default();
        let mut changed = false;
        let mut created = false;
        if record.appmixer.is_none() && self.config.virtual_users {
            record.appmixer = self.create_virtual_user().await;
            created = record.appmixer.is_some();
            changed |= created;
        }
        if let Some(login) = record.appmixer.as_mut().filter(|_| !created) {
            if login
                .token
                .as_deref()
                .is_none_or(|t| expires(t).is_some_and(|e| e <= now() + EARLY))
            {
                let signed = self
                    .sign_in
                    .appmixer(&login.username, &login.password)
                    .await;
                match signed {
                    Ok(signed) => login.token = Some(signed.token),
                    Err(e) => tracing::warn!(error = %e, "held Appmixer sign-in failed"),
                }
                changed = true;
            }
        }
        if record.appypie.is_none() {
            record.appypie = self
                .config
                .tenant_appypie
                .clone()
                .map(|(key, secret)| PieKeys {
                    token_key: key,
                    secret_key: secret,
                    access_token: None,
                });
        }
        if let Some(keys) = record.appypie.as_mut().filter(|k| k.access_token.is_none()) {
            let minted = self
                .sign_in
                .appypie_access_token(&keys.token_key, &keys.secret_key)
                .await;
            match minted {
                Ok(token) => keys.access_token = Some(token),
                Err(e) => tracing::warn!(error = %e, "held Appy Pie token exchange failed"),
            }
            changed = true;
        }
        if changed {
            self.store.put(subject, &record).await?;
        }
        let mixer = record.appmixer.and_then(|m| m.token);
        Ok(HeldTokens {
            appmixer_expires: mixer.as_deref().and_then(expires),
            appmixer: mixer.map(Token::new),
            appypie: record.appypie.and_then(|p| p.access_token).map(Token::new),
            got: Instant::now(),
        })
    }

    /// A new Appmixer user: a random name (a user created for a subject that
    /// was forgotten stays upstream, orphaned), a generated password.
    async fn create_virtual_user(&self) -> Option<MixerLogin> {
        let name: String = random_text(12)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    'x'
                }
            })
            .collect();
        let username = format!("fg-{name}");
        let email = format!("{username}@users.flowgate.invalid");
        let password = random_text(24);
        let created = self
            .sign_in
            .appmixer_user(&username, &email, &password)
            .await;
        match created {
            Ok(token) => Some(MixerLogin {
                username,
                password,
                created: true,
                token: Some(token),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "could not create an Appmixer virtual user");
                None
            }
        }
    }
}

/// The `exp` of a JWT-shaped token, read without verifying it (it is the vendor's to check).
fn expires(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
