//! rmcp's `CredentialStore` over the [`SecretStore`]: one server's OAuth client id and tokens,
//! as one JSON value under `oauth:{server}:{url}` (a changed URL is a different resource, so
//! it starts signed out).

use std::sync::Arc;

use rmcp::transport::auth::{AuthError, CredentialStore, StoredCredentials};

use crate::secrets::SecretStore;

/// The secret key of `server`'s tokens at `url`.
pub fn key(server: &str, url: &str) -> String {
    format!("oauth:{server}:{url}")
}

/// One server's credentials in the keychain (or its fallback file).
#[derive(Clone)]
pub struct SecretCredentials {
    pub secrets: Arc<SecretStore>,
    pub key: String,
}

impl SecretCredentials {
    /// Runs a (blocking: D-Bus, file) store operation off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        op: impl FnOnce(&SecretStore, &str) -> Result<T, crate::secrets::SecretError> + Send + 'static,
    ) -> Result<T, AuthError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || op(&this.secrets, &this.key))
            .await
            .map_err(|e| AuthError::CredentialStoreError(e.to_string()))?
            .map_err(|e| AuthError::CredentialStoreError(e.to_string()))
    }
}

#[async_trait::async_trait]
impl CredentialStore for SecretCredentials {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        let text = self.blocking(|s, k| s.get(k)).await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let text = serde_json::to_string(&credentials)
            .map_err(|e| AuthError::CredentialStoreError(e.to_string()))?;
        self.blocking(move |s, k| s.set(k, &text)).await
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.blocking(|s, k| s.remove(k)).await
    }
}
