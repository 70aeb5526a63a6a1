//! Console logins: who may sign in, the sessions they get, and the slow-down after wrong passwords.
//!
//! A password is checked against `server.admin_password` and `server.viewer_password` with
//! `SecretString::matches` (time independent of where they differ); both are always compared so
//! the answer time does not say which login exists. Every wrong password is answered only after
//! [`FAILURE_DELAY`], and after [`FREE_FAILURES`] wrong passwords in a row the login is locked for a
//! period that doubles with each further failure (up to [`MAX_LOCKOUT`]): during it every attempt,
//! right or wrong, is refused without looking at the password. A right password resets the count.
//!
//! Sessions live in this process's memory: a random 256-bit id in an HttpOnly, SameSite=Strict
//! cookie, with its own random CSRF token that every form carries. A session ends on logout, after
//! [`IDLE_TIMEOUT`] without a request, or [`MAX_AGE`] after login, whichever comes first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mspbridge_core::config::Config;
use mspbridge_core::secret::SecretString;
use rand::RngCore;

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after its login whatever happens.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 60 * 60);
/// Every wrong password is answered this much later.
pub const FAILURE_DELAY: Duration = Duration::from_millis(300);
/// Wrong passwords in a row before the login locks.
pub const FREE_FAILURES: u32 = 5;
/// The longest lockout.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "mspbridge_session";
/// Name of the cookie that ties the login form to the browser that loaded it.
pub const LOGIN_COOKIE: &str = "mspbridge_login";

/// What a login may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Every page and every action.
    Admin,
    /// Every page, no action.
    Viewer,
}

impl Role {
    /// The login's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// What it may do.
    pub role: Role,
    /// The token every form of this session carries.
    pub csrf: String,
    started: Instant,
    last_seen: Instant,
}

/// The answer to a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Signed in: the new session id.
    Accepted {
        /// Session id for the cookie.
        id: String,
        /// Its role.
        role: Role,
    },
    /// Wrong password; `failures` in a row so far.
    Refused {
        /// Consecutive failures, this one included.
        failures: u32,
    },
    /// The login is locked for this much longer; the password was not looked at.
    Locked {
        /// Time left.
        retry_after: Duration,
    },
    /// No console password is configured.
    Closed,
}

#[derive(Debug, Default)]
struct Throttle {
    failures: u32,
    locked_until: Option<Instant>,
}

/// The sessions of this process and the login throttle.
#[derive(Debug, Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    throttle: Mutex<Throttle>,
    flashes: Mutex<HashMap<String, Flash>>,
}

/// The outcome of an action, shown once on the next page of the same session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// Whether the action did what was asked.
    pub ok: bool,
    /// What happened.
    pub message: String,
}

/// A fresh random token: 32 bytes from the operating system's generator, as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compares two tokens in time independent of where they differ.
pub fn same_token(expected: &str, candidate: &str) -> bool {
    SecretString::new(expected).matches(candidate)
}

impl Sessions {
    /// Checks `password` and opens a session when it is right. Wrong passwords return only after
    /// [`FAILURE_DELAY`].
    pub async fn login(&self, config: &Config, password: &str) -> LoginOutcome {
        let admin = config.server.admin_password.as_ref();
        let viewer = config.server.viewer_password.as_ref();
        if admin.is_none() && viewer.is_none() {
            return LoginOutcome::Closed;
        }
        if let Some(retry_after) = self.locked_for(Instant::now()) {
            return LoginOutcome::Locked { retry_after };
        }
        let is_admin = admin.is_some_and(|secret| secret.matches(password));
        let is_viewer = viewer.is_some_and(|secret| secret.matches(password));
        let role = match (is_admin, is_viewer) {
            (true, _) => Some(Role::Admin),
            (false, true) => Some(Role::Viewer),
            (false, false) => None,
        };
        match role {
            Some(role) => {
                *self.throttle.lock().unwrap_or_else(|p| p.into_inner()) = Throttle::default();
                LoginOutcome::Accepted {
                    id: self.open(role),
                    role,
                }
            }
            None => {
                let failures = self.record_failure(Instant::now());
                tokio::time::sleep(FAILURE_DELAY).await;
                LoginOutcome::Refused { failures }
            }
        }
    }

    /// How long the login stays locked, if it is.
    pub fn locked_for(&self, now: Instant) -> Option<Duration> {
        let throttle = self.throttle.lock().unwrap_or_else(|p| p.into_inner());
        throttle
            .locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Wrong passwords in a row so far.
    pub fn failures(&self) -> u32 {
        self.throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failures
    }

    fn record_failure(&self, now: Instant) -> u32 {
        let mut throttle = self.throttle.lock().unwrap_or_else(|p| p.into_inner());
        throttle.failures = throttle.failures.saturating_add(1);
        if throttle.failures >= FREE_FAILURES {
            let doublings = (throttle.failures - FREE_FAILURES).min(16);
            let lockout = Duration::from_secs(1u64 << doublings).min(MAX_LOCKOUT);
            throttle.locked_until = Some(now + lockout);
        }
        throttle.failures
    }

    fn open(&self, role: Role) -> String {
        let id = random_token();
        let now = Instant::now();
        let session = Session {
            role,
            csrf: random_token(),
            started: now,
            last_seen: now,
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, session| session.alive(now));
        sessions.insert(id.clone(), session);
        id
    }

    /// The live session `id`, its idle time restarted; an expired one is forgotten.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let session = sessions.get_mut(id)?;
        if !session.alive(now) {
            sessions.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends session `id`.
    pub fn logout(&self, id: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        self.take_flash(id);
    }

    /// Keeps `flash` for the next page of session `id`.
    pub fn set_flash(&self, id: &str, flash: Flash) {
        self.flashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), flash);
    }

    /// The flash of session `id`, once.
    pub fn take_flash(&self, id: &str) -> Option<Flash> {
        self.flashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }
}

impl Session {
    fn alive(&self, now: Instant) -> bool {
        now.duration_since(self.last_seen) < IDLE_TIMEOUT
            && now.duration_since(self.started) < MAX_AGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_lock_the_login_for_doubling_periods() {
        let sessions = Sessions::default();
        let now = Instant::now();
        for expected in 1..FREE_FAILURES {
            assert_eq!(sessions.record_failure(now), expected);
            assert_eq!(sessions.locked_for(now), None);
        }
        sessions.record_failure(now);
        assert_eq!(sessions.locked_for(now), Some(Duration::from_secs(1)));
        sessions.record_failure(now);
        assert_eq!(sessions.locked_for(now), Some(Duration::from_secs(2)));
        for _ in 0..40 {
            sessions.record_failure(now);
        }
        assert_eq!(sessions.locked_for(now), Some(MAX_LOCKOUT));
        assert_eq!(sessions.locked_for(now + MAX_LOCKOUT), None);
    }

    #[test]
    fn sessions_expire_when_idle_and_end_on_logout() {
        let sessions = Sessions::default();
        let id = sessions.open(Role::Viewer);
        let session = sessions.touch(&id).unwrap();
        assert_eq!(session.role, Role::Viewer);
        assert_eq!(session.csrf.len(), 64);
        assert_ne!(session.csrf, id);
        assert!(session.alive(session.last_seen + IDLE_TIMEOUT / 2));
        assert!(!session.alive(session.last_seen + IDLE_TIMEOUT));
        assert!(!session.alive(session.started + MAX_AGE));
        sessions.logout(&id);
        assert!(sessions.touch(&id).is_none());
    }
}
