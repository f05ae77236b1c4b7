//! Signing in to remote servers with OAuth 2.1, once for every client, as the MCP
//! authorization specification describes; rmcp's `auth` client does the protocol
//! (protected-resource and authorization-server metadata from the 401's `WWW-Authenticate`,
//! pre-registered client, client ID metadata document or dynamic registration, PKCE, the
//! `resource` indicator, scopes from the challenge, refresh before expiry).
//!
//! [`SignIns`] is what the remote connector and the gateway share: the challenge a server
//! answered with (its state is then `needs-auth`), the sign-ins begun and waiting for the
//! browser to come back to `/oauth/callback`, and the tokens, kept in the keychain
//! ([`SecretCredentials`]).

mod store;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::transport::auth::{
    AuthClient, AuthError, AuthorizationManager, AuthorizationRequest, AuthorizationSession,
    WWWAuthenticateParams,
};

pub use store::SecretCredentials;

use crate::secrets::SecretStore;

/// The gateway path the browser is sent back to.
pub const CALLBACK_PATH: &str = "/oauth/callback";
/// How long a sign-in begun waits for the browser.
const PENDING_FOR: Duration = Duration::from_secs(600);
/// Our name at a dynamic registration.
const CLIENT_NAME: &str = "Switchboard";

/// Why a sign-in could not begin or finish. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("server '{0}' is not a remote server; only servers with a url sign in")]
    NotRemote(String),
    #[error("cannot sign in to server '{server}': {message}")]
    Failed { server: String, message: String },
    #[error("this sign-in is unknown or expired (it is good for 10 minutes, once): start it again with `switchboard auth NAME` or the dashboard's Sign in")]
    UnknownState,
}

/// See the module documentation. One per gateway, shared by `Arc`.
pub struct SignIns {
    secrets: Arc<SecretStore>,
    /// `http://127.0.0.1:PORT/oauth/callback`.
    redirect_uri: String,
    /// The last `WWW-Authenticate` each server refused us with.
    challenges: Mutex<HashMap<String, String>>,
    /// Begun sign-ins by their `state` parameter.
    pending: Mutex<HashMap<String, Pending>>,
    /// Servers that refused a request of a running connection (a step-up): not connected
    /// again until someone signs in (or out).
    step_ups: Mutex<HashSet<String>>,
    /// Step-ups in a row per server, and when the last came: a server that keeps asking for
    /// more after [`MAX_STEP_UPS`] sign-ins is not signed in to again (no endless loop).
    step_up_counts: Mutex<HashMap<String, (u32, Instant)>>,
    /// How the last sign-ins ended, by `state` (for `switchboard auth` to report).
    finished: Mutex<HashMap<String, Result<(), String>>>,
}

/// Where one sign-in is, by its `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInProgress {
    /// Begun; the browser has not come back.
    Waiting,
    SignedIn,
    Failed(String),
    /// Not known (expired, or never begun here).
    Unknown,
}

/// Step-ups in a row (each less than [`STEP_UP_WINDOW`] after the last) before sign-ins to
/// that server are refused.
const MAX_STEP_UPS: u32 = 2;
const STEP_UP_WINDOW: Duration = Duration::from_secs(600);

/// Finished sign-ins remembered for their reports.
const FINISHED_KEPT: usize = 64;

struct Pending {
    server: String,
    session: AuthorizationSession,
    since: Instant,
}

impl SignIns {
    pub fn new(secrets: Arc<SecretStore>, base_url: &str) -> Self {
        Self {
            secrets,
            redirect_uri: format!("{base_url}{CALLBACK_PATH}"),
            challenges: Mutex::default(),
            pending: Mutex::default(),
            step_ups: Mutex::default(),
            finished: Mutex::default(),
            step_up_counts: Mutex::default(),
        }
    }

    pub fn secrets(&self) -> &Arc<SecretStore> {
        &self.secrets
    }

    fn credentials(&self, server: &str, url: &str) -> SecretCredentials {
        SecretCredentials {
            secrets: Arc::clone(&self.secrets),
            key: store::key(server, url),
        }
    }

    /// The HTTP client for one connection to `server` at `url` (`written` as in
    /// servers.json, which names its tokens): `http`, sending the server's stored token
    /// (refreshed when it is about to expire) once it is signed in.
    pub async fn client(
        &self,
        server: &str,
        written: &str,
        url: &reqwest::Url,
        http: reqwest::Client,
    ) -> Result<AuthClient<reqwest::Client>, String> {
        let mut manager = AuthorizationManager::new(url.as_str())
            .await
            .map_err(|e| format!("cannot prepare OAuth for {written}: {e}"))?;
        manager.set_credential_store(self.credentials(server, written));
        if let Err(e) = manager.initialize_from_store().await {
            // Unreadable or stale tokens: the server's answer decides (a 401 asks to sign in).
            tracing::warn!(%server, "stored OAuth credentials not used: {e}");
        }
        Ok(AuthClient::new(http, manager))
    }

    /// Records that `server` refused us with `challenge` (a 401 or a 403
    /// `insufficient_scope`): a sign-in is needed.
    pub fn needs_sign_in(&self, server: &str, challenge: String) {
        lock(&self.challenges).insert(server.to_owned(), challenge);
    }

    /// Records that a running connection to `server` was refused with `challenge` (403
    /// `insufficient_scope`, or a 401 a refresh could not cure): it is not connected again
    /// before someone signs in.
    pub fn step_up(&self, server: &str, challenge: String) {
        self.needs_sign_in(server, challenge);
        lock(&self.step_ups).insert(server.to_owned());
        let mut counts = lock(&self.step_up_counts);
        let count = counts
            .entry(server.to_owned())
            .or_insert((0, Instant::now()));
        count.0 = if count.1.elapsed() < STEP_UP_WINDOW {
            count.0 + 1
        } else {
            1
        };
        count.1 = Instant::now();
    }

    /// Whether `server` asked for more permission too many times in a row.
    fn keeps_stepping_up(&self, server: &str) -> bool {
        lock(&self.step_up_counts)
            .get(server)
            .is_some_and(|(n, at)| *n > MAX_STEP_UPS && at.elapsed() < STEP_UP_WINDOW)
    }

    /// Whether `server` waits for a sign-in after a step-up.
    pub fn awaits_sign_in(&self, server: &str) -> bool {
        lock(&self.step_ups).contains(server)
    }

    /// Begins a sign-in to `server` at `url` (`written` as in servers.json): the authorization server is found from the
    /// server's challenge (or its metadata), the client registered as configured or
    /// dynamically; answers the URL to open in a browser.
    pub async fn begin(
        &self,
        server: &str,
        written: &str,
        url: &reqwest::Url,
        client: &crate::config::OAuthSettings,
    ) -> Result<String, SignInError> {
        let failed = |e: AuthError| SignInError::Failed {
            server: server.to_owned(),
            message: e.to_string(),
        };
        if self.keeps_stepping_up(server) {
            return Err(SignInError::Failed {
                server: server.to_owned(),
                message: format!(
                    "it asked for more permission again after {} sign-ins in a row; check the \
                     scopes your account may grant, then sign out and in again",
                    MAX_STEP_UPS + 1
                ),
            });
        }
        let challenge = lock(&self.challenges).get(server).cloned();
        let mut manager = AuthorizationManager::new(url.as_str())
            .await
            .map_err(failed)?;
        manager.set_credential_store(self.credentials(server, written));
        let resolution = manager
            .resolve_metadata_from_challenge(challenge.as_deref())
            .await
            .map_err(failed)?;
        manager.set_metadata(resolution.metadata);
        let mut request =
            AuthorizationRequest::new(self.redirect_uri.clone()).with_client_name(CLIENT_NAME);
        // A step-up asks for what was granted and what the challenge adds (SEP-2350).
        let granted = self.granted_scopes(server, written).await;
        if let Some(challenge) = challenge {
            let wanted = WWWAuthenticateParams::parse(&challenge, url).scope;
            if let (Some(wanted), false) = (wanted, granted.is_empty()) {
                let mut union = granted;
                for scope in wanted.split_whitespace() {
                    if !union.iter().any(|s| s == scope) {
                        union.push(scope.to_owned());
                    }
                }
                request = request.with_scopes(union);
            }
            request = request.with_challenge(challenge);
        }
        if let Some(id) = &client.client_id {
            request = request.with_preregistered_client(id);
            if let Some(secret) = &client.client_secret {
                let secret = crate::config::expand(secret).map_err(|e| SignInError::Failed {
                    server: server.to_owned(),
                    message: format!("oauth.clientSecret: {e}"),
                })?;
                request = request.with_client_secret(secret);
            }
        }
        let session = AuthorizationSession::new(manager, request)
            .await
            .map_err(|(_, e)| failed(e))?;
        let auth_url = session.get_authorization_url().to_owned();
        let state = state_of(&auth_url).ok_or_else(|| SignInError::Failed {
            server: server.to_owned(),
            message: "the authorization URL has no state".into(),
        })?;
        let mut pending = lock(&self.pending);
        pending.retain(|_, p| p.since.elapsed() < PENDING_FOR);
        pending.insert(
            state,
            Pending {
                server: server.to_owned(),
                session,
                since: Instant::now(),
            },
        );
        Ok(auth_url)
    }

    /// Finishes the sign-in the browser came back with (`callback_url`, the whole redirect
    /// URL, with its `state`): the code is exchanged for tokens, which are stored. Answers
    /// the server's name (to restart it).
    pub async fn complete(&self, callback_url: &str, state: &str) -> Result<String, SignInError> {
        let pending = lock(&self.pending)
            .remove(state)
            .filter(|p| p.since.elapsed() < PENDING_FOR)
            .ok_or(SignInError::UnknownState)?;
        let exchanged = pending
            .session
            .handle_callback_url(callback_url)
            .await
            .map_err(|e| SignInError::Failed {
                server: pending.server.clone(),
                message: e.to_string(),
            });
        let mut finished = lock(&self.finished);
        if finished.len() >= FINISHED_KEPT {
            finished.clear();
        }
        finished.insert(
            state.to_owned(),
            exchanged.as_ref().map(|_| ()).map_err(|e| e.to_string()),
        );
        drop(finished);
        exchanged?;
        lock(&self.challenges).remove(&pending.server);
        lock(&self.step_ups).remove(&pending.server);
        Ok(pending.server)
    }

    /// Where the sign-in begun with `state` is.
    pub fn progress(&self, state: &str) -> SignInProgress {
        if lock(&self.pending).contains_key(state) {
            return SignInProgress::Waiting;
        }
        match lock(&self.finished).get(state) {
            Some(Ok(())) => SignInProgress::SignedIn,
            Some(Err(e)) => SignInProgress::Failed(e.clone()),
            None => SignInProgress::Unknown,
        }
    }

    /// Begins a sign-in to the server of `slot`, as its entry says (its `url`, `oauth`).
    /// Answers the authorization URL (its `state` parameter names the sign-in).
    pub async fn begin_for(&self, slot: &crate::slot::ServerSlot) -> Result<String, SignInError> {
        let (written, url) = remote_url(slot)?;
        let client = slot.settings().spec.oauth.clone();
        let authorization_url = self.begin(slot.name(), &written, &url, &client).await?;
        slot.log()
            .push("[switchboard] sign-in begun: waiting for the browser to come back");
        Ok(authorization_url)
    }

    /// Forgets the tokens of the server of `slot` (blocking: the keychain is asked).
    pub fn forget_for(&self, slot: &crate::slot::ServerSlot) -> Result<(), SignInError> {
        let (written, _) = remote_url(slot)?;
        self.forget(slot.name(), &written)
            .map_err(|e| SignInError::Failed {
                server: slot.name().to_owned(),
                message: e.to_string(),
            })?;
        slot.log()
            .push("[switchboard] signed out: tokens forgotten");
        Ok(())
    }

    /// Forgets `server`'s tokens at `url` (`switchboard auth NAME --logout`).
    pub fn forget(&self, server: &str, url: &str) -> Result<(), crate::secrets::SecretError> {
        lock(&self.challenges).remove(server);
        lock(&self.step_ups).remove(server);
        lock(&self.step_up_counts).remove(server);
        self.secrets.remove(&store::key(server, url))
    }

    /// The scopes the stored tokens of `server` were granted (none when signed out).
    async fn granted_scopes(&self, server: &str, written: &str) -> Vec<String> {
        use rmcp::transport::auth::CredentialStore;
        match self.credentials(server, written).load().await {
            Ok(Some(stored)) => stored.granted_scopes,
            _ => Vec::new(),
        }
    }
}

/// The `state` parameter of an authorization URL: the sign-in's name.
pub fn state_of(authorization_url: &str) -> Option<String> {
    reqwest::Url::parse(authorization_url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
    })
}

/// A remote slot's URL as written and expanded.
fn remote_url(slot: &crate::slot::ServerSlot) -> Result<(String, reqwest::Url), SignInError> {
    let name = slot.name();
    let written = slot
        .settings()
        .spec
        .remote_url()
        .ok_or_else(|| SignInError::NotRemote(name.to_owned()))?
        .to_owned();
    let url = crate::config::expand(&written)
        .ok()
        .and_then(|u| reqwest::Url::parse(&u).ok())
        .ok_or_else(|| SignInError::Failed {
            server: name.to_owned(),
            message: format!("its url {written:?} cannot be used"),
        })?;
    Ok((written, url))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
