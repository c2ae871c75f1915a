//! The compile cache: build outputs keyed by a hash of everything that affects
//! them, bounded in size, and safe against user programs.
//!
//! Entries are immutable directories published by an atomic rename. When the
//! server is root they are root-owned and read-only to the sandbox uids, so no
//! program can alter them. When the server shares its uid with user programs
//! (Lambda), every entry's digest is kept in memory and checked before each use;
//! an entry that changed is discarded and rebuilt.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::sandbox::set_mode;

/// A cached build output, kept alive (not evicted) while a run holds it.
#[derive(Debug)]
pub struct CachedBuild {
    pub dir: PathBuf,
    bytes: u64,
    digest: Option<[u8; 32]>,
}

#[derive(Debug)]
struct Entry {
    build: Arc<CachedBuild>,
    last_used: u64,
}

#[derive(Debug, Default)]
struct Index {
    entries: HashMap<String, Entry>,
    total_bytes: u64,
    clock: u64,
}

#[derive(Debug)]
pub struct CompileCache {
    root: PathBuf,
    max_bytes: u64,
    /// Whether entries must be re-verified before use (programs share our uid).
    verify: bool,
    index: Mutex<Index>,
    /// One compile per key at a time: identical concurrent requests wait for the first.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The cache key: every input that can change the build output.
pub fn cache_key(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

impl CompileCache {
    /// Opens the cache under `root/builds`. Programs sharing our uid could have
    /// planted files there before a restart, so in that mode it starts empty.
    pub fn open(root: &Path, max_bytes: u64, verify: bool) -> io::Result<Self> {
        let dir = root.join("builds");
        if verify && dir.exists() {
            remove_tree(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        // Traversable but not listable: a program can't enumerate other builds.
        set_mode(&dir, 0o711)?;
        let cache = CompileCache {
            root: dir,
            max_bytes,
            verify,
            index: Mutex::new(Index::default()),
            in_flight: Mutex::new(HashMap::new()),
        };
        if !verify {
            cache.adopt_existing();
        }
        Ok(cache)
    }

    /// Root mode: entries left by an earlier server are root-owned and complete
    /// (published by rename), so they are reused.
    fn adopt_existing(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        let mut index = self.index.lock().expect("cache index lock");
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                // A half-written entry from a crash.
                let _ = remove_tree(&path);
                continue;
            }
            let bytes = tree_size(&path).unwrap_or(0);
            index.clock += 1;
            index.total_bytes += bytes;
            let last_used = index.clock;
            index.entries.insert(
                name,
                Entry {
                    build: Arc::new(CachedBuild {
                        dir: path,
                        bytes,
                        digest: None,
                    }),
                    last_used,
                },
            );
        }
    }

    /// The cached build for `key`, if present and intact.
    pub fn get(&self, key: &str) -> Option<Arc<CachedBuild>> {
        let build = {
            let mut index = self.index.lock().expect("cache index lock");
            index.clock += 1;
            let now = index.clock;
            let entry = index.entries.get_mut(key)?;
            entry.last_used = now;
            entry.build.clone()
        };
        let intact = match build.digest {
            Some(expected) => tree_digest(&build.dir).ok() == Some(expected),
            None => build.dir.is_dir(),
        };
        if intact {
            return Some(build);
        }
        tracing::warn!(key, "cached build changed or vanished; discarding it");
        self.forget(key);
        None
    }

    fn forget(&self, key: &str) {
        let mut index = self.index.lock().expect("cache index lock");
        if let Some(entry) = index.entries.remove(key) {
            index.total_bytes -= entry.build.bytes;
            let _ = remove_tree(&entry.build.dir);
        }
    }

    /// Serialises compiles of the same key.
    pub fn compile_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut in_flight = self.in_flight.lock().expect("in-flight lock");
        // Drop locks nobody holds any more, so the map does not grow without bound.
        in_flight.retain(|_, lock| Arc::strong_count(lock) > 1);
        in_flight.entry(key.to_string()).or_default().clone()
    }

    /// Copies a fresh build output into the cache and returns the published entry.
    pub fn insert(&self, key: &str, build_dir: &Path) -> io::Result<Arc<CachedBuild>> {
        // A unique staging name: other servers (or test apps) may publish the
        // same key at the same moment.
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&self.root)?
            .keep();
        std::fs::remove_dir(&staging)?;
        if let Err(err) = copy_tree_sealed(build_dir, &staging) {
            let _ = remove_tree(&staging);
            return Err(err);
        }
        let target = self.root.join(key);
        let known = self
            .index
            .lock()
            .expect("cache index lock")
            .entries
            .contains_key(key);
        if self.verify && !known && std::fs::symlink_metadata(&target).is_ok() {
            // Programs share our uid here: an entry we did not publish may have
            // been planted for the next user who submits this code.
            tracing::warn!(key, "discarding a cache entry this server did not publish");
            remove_tree(&target)?;
        }
        if std::fs::rename(&staging, &target).is_err() {
            // Another server published the same build first: keep theirs.
            remove_tree(&staging)?;
            if !target.is_dir() {
                return Err(io::Error::other("could not publish build output"));
            }
        }
        let bytes = tree_size(&target)?;
        let digest = if self.verify {
            Some(tree_digest(&target)?)
        } else {
            None
        };
        let build = Arc::new(CachedBuild {
            dir: target,
            bytes,
            digest,
        });
        let mut index = self.index.lock().expect("cache index lock");
        index.clock += 1;
        let last_used = index.clock;
        if let Some(old) = index.entries.insert(
            key.to_string(),
            Entry {
                build: build.clone(),
                last_used,
            },
        ) {
            index.total_bytes -= old.build.bytes;
        }
        index.total_bytes += bytes;
        self.evict(&mut index);
        Ok(build)
    }

    /// Evicts least recently used entries that no run is holding until the cache fits.
    fn evict(&self, index: &mut Index) {
        while index.total_bytes > self.max_bytes {
            let victim = index
                .entries
                .iter()
                .filter(|(_, e)| Arc::strong_count(&e.build) == 1)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            let Some(key) = victim else { break };
            if let Some(entry) = index.entries.remove(&key) {
                index.total_bytes -= entry.build.bytes;
                if let Err(err) = remove_tree(&entry.build.dir) {
                    tracing::warn!(%err, key, "could not remove evicted build");
                }
            }
        }
    }

    pub fn total_bytes(&self) -> u64 {
        self.index.lock().expect("cache index lock").total_bytes
    }

    pub fn len(&self) -> usize {
        self.index.lock().expect("cache index lock").entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Copies a build directory, refusing anything but plain files and directories
/// (a symlink planted by the program must not make the server copy, say,
/// `/etc/shadow` into a world-readable cache), and seals the copy read-only.
fn copy_tree_sealed(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree_sealed(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
            let executable = {
                use std::os::unix::fs::PermissionsExt;
                entry.metadata()?.permissions().mode() & 0o111 != 0
            };
            set_mode(&target, if executable { 0o555 } else { 0o444 })?;
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "build output holds a non-regular file: {:?}",
                    entry.file_name()
                ),
            ));
        }
    }
    set_mode(to, 0o555)
}

fn tree_size(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            tree_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// A digest over relative paths and contents, in a stable order.
fn tree_digest(dir: &Path) -> io::Result<[u8; 32]> {
    fn walk(dir: &Path, prefix: &str, hasher: &mut Sha256) -> io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = format!("{prefix}/{}", entry.file_name().to_string_lossy());
            let kind = entry.file_type()?;
            hasher.update(name.as_bytes());
            if kind.is_dir() {
                walk(&entry.path(), &name, hasher)?;
            } else if kind.is_file() {
                hasher.update(std::fs::read(entry.path())?);
            } else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "unexpected file type",
                ));
            }
        }
        Ok(())
    }
    let mut hasher = Sha256::new();
    walk(dir, "", &mut hasher)?;
    Ok(hasher.finalize().into())
}

/// Removes a directory tree even when a program made parts of it unreadable or
/// unwritable (chmod games), without ever following symlinks out of it.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    make_owner_writable(path);
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn make_owner_writable(path: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = set_mode(path, 0o700);
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            make_owner_writable(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build_dir_with(file: &str, content: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(file), content).unwrap();
        dir
    }

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(cache_key(&[b"ab", b"c"]), cache_key(&[b"a", b"bc"]));
        assert_eq!(cache_key(&[b"x"]).len(), 64);
    }

    #[test]
    fn an_inserted_build_is_found_again() {
        let root = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(root.path(), 1 << 20, true).unwrap();
        let key = cache_key(&[b"one"]);
        let build = build_dir_with("main", b"binary");
        cache.insert(&key, build.path()).unwrap();
        let hit = cache.get(&key).expect("cache hit");
        assert_eq!(std::fs::read(hit.dir.join("main")).unwrap(), b"binary");
    }

    #[test]
    fn a_tampered_build_is_discarded_when_verifying() {
        let root = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(root.path(), 1 << 20, true).unwrap();
        let key = cache_key(&[b"two"]);
        let build = build_dir_with("main", b"good");
        let published = cache.insert(&key, build.path()).unwrap();
        let file = published.dir.join("main");
        set_mode(&published.dir, 0o755).unwrap();
        set_mode(&file, 0o644).unwrap();
        std::fs::write(&file, b"evil").unwrap();
        drop(published);
        assert!(cache.get(&key).is_none(), "tampered entry must not be used");
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_stays_within_its_size_bound() {
        let root = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(root.path(), 2500, true).unwrap();
        for i in 0..5u8 {
            let build = build_dir_with("main", &[i; 1000]);
            cache.insert(&cache_key(&[&[i]]), build.path()).unwrap();
        }
        assert!(cache.total_bytes() <= 2500, "{}", cache.total_bytes());
        assert!(
            cache.get(&cache_key(&[&[4u8]])).is_some(),
            "newest entry kept"
        );
        assert!(
            cache.get(&cache_key(&[&[0u8]])).is_none(),
            "oldest entry evicted"
        );
    }

    #[test]
    fn an_entry_planted_before_publication_is_replaced_when_verifying() {
        let root = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(root.path(), 1 << 20, true).unwrap();
        let key = cache_key(&[b"planted"]);
        let planted = root.path().join("builds").join(&key);
        std::fs::create_dir(&planted).unwrap();
        std::fs::write(planted.join("main"), b"evil").unwrap();
        let build = build_dir_with("main", b"good");
        let published = cache.insert(&key, build.path()).unwrap();
        assert_eq!(std::fs::read(published.dir.join("main")).unwrap(), b"good");
    }

    #[test]
    fn symlinks_in_build_output_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(root.path(), 1 << 20, true).unwrap();
        let build = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", build.path().join("main")).unwrap();
        assert!(cache.insert(&cache_key(&[b"link"]), build.path()).is_err());
    }

    #[test]
    fn remove_tree_survives_chmod_games() {
        let root = tempfile::tempdir().unwrap();
        let locked = root.path().join("a/b");
        std::fs::create_dir_all(&locked).unwrap();
        std::fs::write(locked.join("f"), b"x").unwrap();
        set_mode(&locked, 0o000).unwrap();
        set_mode(&root.path().join("a"), 0o500).unwrap();
        remove_tree(&root.path().join("a")).unwrap();
        assert!(!root.path().join("a").exists());
    }
}
