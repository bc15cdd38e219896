//! Signing secrets at rest. A sender must read each webhook's secret to sign with it, so
//! it cannot be stored as a digest the way API tokens are. With a server key
//! (`TASKLANE_SECRET_KEY`, the same on every instance), secrets are stored encrypted
//! (XChaCha20-Poly1305, a random nonce each, the webhook's id as associated data so a
//! sealed secret cannot be moved to another row): a copy of the database alone yields
//! no secret. Without one they are stored as issued.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;

use super::WebhookError;
use crate::domain::SigningSecret;
use crate::store::WebhookStore;

const SEALED: &str = "sealed:";

/// The server key that seals signing secrets: 32 bytes, given as base64.
#[derive(Clone)]
pub struct ServerKey(XChaCha20Poly1305);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

impl ServerKey {
    /// Parses a key written as base64 (`openssl rand -base64 32`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| {
            "must be 32 bytes written as base64 (`openssl rand -base64 32` makes one)".to_owned()
        })?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| {
            format!(
                "must be 32 bytes written as base64 (got {} bytes; `openssl rand -base64 32` \
                 makes one)",
                bytes.len()
            )
        })?;
        Ok(ServerKey(cipher))
    }
}

/// Why a stored secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    /// It is sealed and this server has no key.
    #[error(
        "webhook signing secrets in this database are sealed under a server key; set TASKLANE_SECRET_KEY to it"
    )]
    NoKey,
    /// The key does not open it, or it is damaged.
    #[error(
        "TASKLANE_SECRET_KEY does not open the webhook signing secrets in this database: it is not the key they were sealed with"
    )]
    WrongKey,
    /// It is no secret at all.
    #[error("a stored webhook signing secret is damaged")]
    Damaged,
}

/// Seals and unseals signing secrets, with the server key if there is one.
#[derive(Debug, Clone, Default)]
pub struct Sealer {
    key: Option<ServerKey>,
}

impl Sealer {
    /// A sealer with `key`, or one that stores secrets as issued.
    pub fn new(key: Option<ServerKey>) -> Self {
        Sealer { key }
    }

    /// Checks this key against the deployment's: the first instance with a key leaves
    /// a secret sealed under it in the database, and every later one (with a key or
    /// without) must open it. So two instances never seal with different keys, and an
    /// instance without the key never meets a secret it cannot read.
    pub async fn check(&self, store: &dyn WebhookStore) -> Result<(), WebhookError> {
        let proposed = self
            .key
            .as_ref()
            .map(|_| self.seal(Uuid::nil(), &SigningSecret::generate()));
        match store.key_check(proposed).await? {
            Some(kept) if kept.starts_with(SEALED) => {
                self.unseal(Uuid::nil(), &kept)?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The stored form of webhook `id`'s `secret`.
    pub fn seal(&self, id: Uuid, secret: &SigningSecret) -> String {
        let Some(ServerKey(cipher)) = &self.key else {
            return secret.reveal().to_owned();
        };
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system's random source works");
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.reveal().as_bytes(),
                    aad: id.as_bytes(),
                },
            )
            .expect("encrypting a short secret cannot fail");
        format!(
            "{SEALED}{}",
            STANDARD.encode([&nonce[..], &sealed].concat())
        )
    }

    /// The secret webhook `id` stored as `stored`.
    pub fn unseal(&self, id: Uuid, stored: &str) -> Result<SigningSecret, UnsealError> {
        let Some(sealed) = stored.strip_prefix(SEALED) else {
            return SigningSecret::parse(stored).ok_or(UnsealError::Damaged);
        };
        let ServerKey(cipher) = self.key.as_ref().ok_or(UnsealError::NoKey)?;
        let bytes = STANDARD.decode(sealed).map_err(|_| UnsealError::Damaged)?;
        if bytes.len() < 24 {
            return Err(UnsealError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(24);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| UnsealError::WrongKey)?;
        String::from_utf8(plain)
            .ok()
            .and_then(|text| SigningSecret::parse(&text))
            .ok_or(UnsealError::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ServerKey {
        ServerKey::parse(&STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_its_row() {
        let (id, secret) = (Uuid::new_v4(), SigningSecret::generate());
        let sealer = Sealer::new(Some(key()));
        let stored = sealer.seal(id, &secret);
        assert!(stored.starts_with(SEALED));
        assert!(!stored.contains(&secret.reveal()[6..]));
        assert_eq!(sealer.unseal(id, &stored).unwrap(), secret);
        assert!(matches!(
            sealer.unseal(Uuid::new_v4(), &stored),
            Err(UnsealError::WrongKey)
        ));
        let other = Sealer::new(Some(ServerKey::parse(&STANDARD.encode([8u8; 32])).unwrap()));
        assert!(matches!(
            other.unseal(id, &stored),
            Err(UnsealError::WrongKey)
        ));
        assert!(matches!(
            Sealer::default().unseal(id, &stored),
            Err(UnsealError::NoKey)
        ));
    }

    #[test]
    fn without_a_key_secrets_are_stored_as_issued() {
        let (id, secret) = (Uuid::new_v4(), SigningSecret::generate());
        let stored = Sealer::default().seal(id, &secret);
        assert_eq!(stored, secret.reveal());
        // A key configured later still reads them.
        assert_eq!(
            Sealer::new(Some(key())).unseal(id, &stored).unwrap(),
            secret
        );
    }

    #[test]
    fn keys_are_32_bytes_of_base64() {
        assert!(ServerKey::parse("not base64!").is_err());
        assert!(ServerKey::parse(&STANDARD.encode([1u8; 16])).is_err());
    }
}
