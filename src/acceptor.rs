//! The acceptor credential behind a server.
//!
//! A file keytab is copied once into a MEMORY keytab, so accepts don't
//! reopen and rescan the file (MIT does that on every accept), and is
//! reloaded when the file changes (replaced or appended to), so a rotated
//! keytab is picked up without a restart. The file is looked at once a
//! second (a stat per handshake costs ~5% of one), and at once when a
//! client's ticket needs a key the loaded keytab lacks.
//!
//! Credentials come from a pool because MIT holds a credential's lock for a
//! whole accept: with one shared credential, accepts on several threads
//! would run one at a time.

use crate::diagnosis::{KEYTAB_UNREADABLE_HINT, NO_KEY_HINT};
use crate::error::Error;
use crate::gss::{Credential, GssError, Krb5Context, MemoryKeytab, Name};
use crate::logging;
use crate::principal::ServicePrincipal;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Idle credentials kept per keytab generation; more than the threads that
/// accept at once would only hold memory.
const MAX_IDLE_CREDENTIALS: usize = 16;

/// How often the keytab file is checked for changes during handshakes.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Numbers the MEMORY keytabs of this process (MIT's names are global).
static MEMORY_KEYTAB_COUNTER: AtomicU64 = AtomicU64::new(0);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not make every later handshake fail.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where the keys come from.
pub(crate) enum KeytabSource {
    /// A file keytab: copied into memory and watched for changes.
    File { name: String, path: PathBuf },
    /// Any other keytab (MEMORY:, or a type kerbsasl can't watch): used as is.
    Direct { name: String },
}

impl KeytabSource {
    pub(crate) fn name(&self) -> &str {
        match self {
            KeytabSource::File { name, .. } | KeytabSource::Direct { name } => name,
        }
    }
}

/// Identifies one version of a file, to notice replacement or appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    fn read(path: &Path) -> std::io::Result<FileStamp> {
        let meta = std::fs::metadata(path)?;
        Ok(FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }
}

/// One loaded version of the keytab and the credentials made from it.
struct Generation {
    idle: Mutex<Vec<Credential>>,
    keytab_name: String,
    stamp: Option<FileStamp>,
    /// What was loaded, for the debug log (file keytabs only).
    loaded: Option<String>,
    _memory: Option<MemoryKeytab>,
}

impl Generation {
    fn log_loaded(&self) {
        if let Some(loaded) = &self.loaded {
            logging::debug!("{loaded}");
        }
    }
}

/// A credential borrowed for one accept; returned to its pool on drop.
pub struct CredentialLease {
    credential: Option<Credential>,
    generation: Arc<Generation>,
}

impl std::ops::Deref for CredentialLease {
    type Target = Credential;
    fn deref(&self) -> &Credential {
        self.credential
            .as_ref()
            .expect("a lease holds its credential until dropped")
    }
}

impl Drop for CredentialLease {
    fn drop(&mut self) {
        let mut idle = lock(&self.generation.idle);
        if idle.len() < MAX_IDLE_CREDENTIALS {
            idle.extend(self.credential.take());
        }
    }
}

/// What the file watcher last failed on, so each problem is logged once
/// and a broken file is not reloaded on every handshake.
#[derive(Default)]
struct WatchState {
    failed_stamp: Option<FileStamp>,
    problem: Option<String>,
}

/// Everything needed to (re)load the keys: the configuration, resolved.
struct Loader {
    desired_name: Option<Name>,
    principal: ServicePrincipal,
    source: KeytabSource,
    replay_cache: Option<String>,
}

pub struct Acceptor {
    loader: Loader,
    current: RwLock<Arc<Generation>>,
    watch: Mutex<WatchState>,
    /// When the file was last checked, in ms since `created`.
    last_check_ms: AtomicU64,
    created: Instant,
    // Never used after construction: an open context keeps MIT's parsed
    // krb5.conf cached for the accepts on every thread.
    _profile_cache: Mutex<Krb5Context>,
}

impl Acceptor {
    /// Resolves the keytab, loads it and acquires a first credential, so
    /// every configuration problem surfaces here. Never contacts the KDC.
    pub fn new(
        principal: &ServicePrincipal,
        keytab: Option<&str>,
        replay_cache: Option<&str>,
    ) -> Result<Acceptor, Error> {
        let krb5 = Krb5Context::new()
            .map_err(|e| Error::config(format!("cannot initialise Kerberos: {e}")))?;
        let loader = Loader {
            desired_name: import_name(principal)?,
            principal: principal.clone(),
            source: resolve_keytab(&krb5, keytab)?,
            replay_cache: replay_cache.map(str::to_string),
        };
        let generation = loader.load()?;
        generation.log_loaded();
        Ok(Acceptor {
            loader,
            current: RwLock::new(Arc::new(generation)),
            watch: Mutex::new(WatchState::default()),
            last_check_ms: AtomicU64::new(0),
            created: Instant::now(),
            _profile_cache: Mutex::new(krb5),
        })
    }

    /// The keytab name in use, for messages.
    pub fn keytab_name(&self) -> &str {
        self.loader.source.name()
    }

    /// Lends a credential for one accept, reloading the keytab first if
    /// its file changed.
    pub fn lease(&self) -> Result<CredentialLease, Error> {
        if self.check_due() {
            self.reload_if_changed();
        }
        let generation = Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner));
        let pooled = lock(&generation.idle).pop();
        let credential = match pooled {
            Some(credential) => credential,
            None => self.loader.acquire(&generation.keytab_name).map_err(|e| {
                Error::config(format!(
                    "cannot use keytab {} for {}: {}",
                    self.keytab_name(),
                    self.loader.principal.describe(),
                    e.detail()
                ))
            })?,
        };
        Ok(CredentialLease {
            credential: Some(credential),
            generation,
        })
    }

    /// Checks the file now, for a ticket the loaded keys could not serve.
    /// True when a new version of the keytab was loaded.
    pub fn reload_now(&self) -> bool {
        let before = Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner));
        self.reload_if_changed();
        let after = self.current.read().unwrap_or_else(PoisonError::into_inner);
        !Arc::ptr_eq(&before, &after)
    }

    /// Whether CHECK_INTERVAL has passed since the last check; claims the
    /// check for this thread if so.
    fn check_due(&self) -> bool {
        let now = self.created.elapsed().as_millis() as u64;
        let last = self.last_check_ms.load(Ordering::Relaxed);
        now.saturating_sub(last) >= CHECK_INTERVAL.as_millis() as u64
            && self
                .last_check_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Reloads a changed keytab file, then logs what happened: only after
    /// the watch lock is released, because the host's log callback may
    /// call back into this server (and so into this function).
    fn reload_if_changed(&self) {
        match self.reload_under_watch_lock() {
            Reload::Unchanged => {}
            Reload::Reloaded(generation) => {
                generation.log_loaded();
                logging::info!("keytab {} changed on disk; reloaded it", self.keytab_name());
            }
            Reload::Problem(problem) => logging::warning!("{problem}"),
        }
    }

    fn reload_under_watch_lock(&self) -> Reload {
        let KeytabSource::File { name, path } = &self.loader.source else {
            return Reload::Unchanged;
        };
        let loaded = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .stamp;
        let stamp = FileStamp::read(path);
        if stamp.as_ref().ok() == loaded.as_ref() {
            return Reload::Unchanged;
        }
        let mut watch = lock(&self.watch);
        // Another thread may have reloaded while this one waited.
        let loaded = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .stamp;
        let stamp = match stamp {
            Ok(stamp) if Some(stamp) == loaded || Some(stamp) == watch.failed_stamp => {
                return Reload::Unchanged;
            }
            Ok(stamp) => stamp,
            Err(e) => {
                return watch.report_once(format!(
                    "keytab {name} cannot be read ({e}); still accepting with the keys \
                     loaded before; restore the file to pick up key changes"
                ));
            }
        };
        match self.loader.load() {
            Ok(generation) => {
                let generation = Arc::new(generation);
                let old = std::mem::replace(
                    &mut *self.current.write().unwrap_or_else(PoisonError::into_inner),
                    Arc::clone(&generation),
                );
                *watch = WatchState::default();
                drop(watch);
                // The old keys are released outside the lock too.
                drop(old);
                Reload::Reloaded(generation)
            }
            Err(e) => {
                watch.failed_stamp = Some(stamp);
                watch.report_once(format!(
                    "keytab {name} changed but cannot be used: {e}; still accepting with the keys loaded before"
                ))
            }
        }
    }
}

impl Loader {
    fn acquire(&self, keytab_name: &str) -> Result<Credential, GssError> {
        let mut store = vec![("keytab", keytab_name)];
        if let Some(rcache) = &self.replay_cache {
            store.push(("rcache", rcache));
        }
        Credential::acceptor(self.desired_name.as_ref(), &store)
    }

    fn load(&self) -> Result<Generation, Error> {
        match &self.source {
            KeytabSource::Direct { name } => {
                let credential = self
                    .acquire(name)
                    .map_err(|e| self.no_usable_key(e.detail(), None))?;
                Ok(Generation {
                    idle: Mutex::new(vec![credential]),
                    keytab_name: name.clone(),
                    stamp: None,
                    loaded: None,
                    _memory: None,
                })
            }
            KeytabSource::File { name, path } => {
                // Stamp first: a change during the copy triggers a reload.
                let stamp = FileStamp::read(path).ok();
                if stamp.is_some_and(|s| s.size == 0) {
                    return Err(Error::config(format!(
                        "keytab {name} is an empty file: it holds no key for {}",
                        self.principal.describe()
                    )));
                }
                let memory_name = format!(
                    "MEMORY:kerbsasl-{}",
                    MEMORY_KEYTAB_COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                let (memory, copy) = MemoryKeytab::copy_of(name, memory_name).map_err(|e| {
                    Error::config(format!(
                        "cannot read keytab {name} (needed for {}): {e}. Hint: {KEYTAB_UNREADABLE_HINT}",
                        self.principal.describe()
                    ))
                })?;
                if copy.entries == 0 {
                    return Err(Error::config(format!(
                        "keytab {name} is empty: it holds no key for {}",
                        self.principal.describe()
                    )));
                }
                if !copy.principals.iter().any(|p| self.principal.may_use(p)) {
                    return Err(self.no_usable_key(
                        "No principal in keytab matches desired name",
                        Some(&copy.principals),
                    ));
                }
                let credential = self
                    .acquire(memory.name())
                    .map_err(|e| self.no_usable_key(e.detail(), Some(&copy.principals)))?;
                Ok(Generation {
                    idle: Mutex::new(vec![credential]),
                    keytab_name: memory.name().to_string(),
                    stamp,
                    loaded: Some(format!(
                        "loaded keytab {name}: {} keys for {}",
                        copy.entries,
                        copy.principals.join(", ")
                    )),
                    _memory: Some(memory),
                })
            }
        }
    }

    fn no_usable_key(&self, detail: &str, holds: Option<&[String]>) -> Error {
        let holds = holds
            .map(|principals| format!(" (it holds keys for: {})", principals.join(", ")))
            .unwrap_or_default();
        Error::config(format!(
            "keytab {} has no key for {}{holds}: {}. Hint: {NO_KEY_HINT}",
            self.source.name(),
            self.principal.describe(),
            detail
        ))
    }
}

/// What a reload did, for reload_if_changed to log.
enum Reload {
    Unchanged,
    Reloaded(Arc<Generation>),
    /// A problem not reported before.
    Problem(String),
}

impl WatchState {
    /// Reload::Problem the first time `problem` is seen, so that each
    /// problem is logged once.
    fn report_once(&mut self, problem: String) -> Reload {
        if self.problem.as_deref() == Some(problem.as_str()) {
            return Reload::Unchanged;
        }
        self.problem = Some(problem.clone());
        Reload::Problem(problem)
    }
}

fn import_name(principal: &ServicePrincipal) -> Result<Option<Name>, Error> {
    let imported = match principal {
        ServicePrincipal::Any => return Ok(None),
        ServicePrincipal::Principal(text) => Name::krb5_principal(text),
        ServicePrincipal::HostBased(text) => Name::host_based_service(text),
    };
    imported.map(Some).map_err(|e| {
        Error::config(format!(
            "invalid principal {}: {}; expected service/SERVER-FQDN@REALM.NAME",
            principal.describe(),
            e.detail()
        ))
    })
}

/// The keytab a server uses: the configured one, else the default
/// (KRB5_KTNAME, then krb5.conf default_keytab_name).
pub(crate) fn resolve_keytab(
    krb5: &Krb5Context,
    keytab: Option<&str>,
) -> Result<KeytabSource, Error> {
    let name = match keytab {
        Some(name) => name.to_string(),
        None => krb5
            .default_keytab_name()
            .map_err(|e| Error::config(format!("cannot find the default keytab name: {e}")))?,
    };
    classify_keytab(krb5, &name)
}

fn classify_keytab(krb5: &Krb5Context, name: &str) -> Result<KeytabSource, Error> {
    let kind = krb5
        .keytab_type(name)
        .map_err(|e| Error::config(format!("invalid keytab name {name:?}: {e}")))?;
    // MIT reads a name without a type prefix, or starting with '/', as a path.
    let path = match name.split_once(':') {
        Some((_, residual)) if !name.starts_with('/') => residual,
        _ => name,
    };
    Ok(match kind.as_str() {
        "FILE" | "WRFILE" => KeytabSource::File {
            name: if path == name {
                format!("FILE:{name}")
            } else {
                name.to_string()
            },
            path: PathBuf::from(path),
        },
        _ => KeytabSource::Direct {
            name: name.to_string(),
        },
    })
}
