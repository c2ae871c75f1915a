//! Who a user program runs as, and how every process it started is found and killed.
//!
//! Two modes, chosen from the server's own privileges:
//!
//! * **Uid pool** (server runs as root): each concurrent run leases a distinct
//!   unprivileged uid, held with an `flock` so that several servers on one host
//!   never share one. `RLIMIT_NPROC` then binds for real, and "kill everything of
//!   that uid" (a helper that becomes the uid and calls `kill(-1, SIGKILL)`) is
//!   exact: the kernel walks the task list under a lock that `fork` must take, so
//!   no child can be born behind the sweep.
//! * **Same uid** (server unprivileged, e.g. AWS Lambda): programs share the
//!   server's uid. The server becomes a child subreaper where the kernel allows it
//!   and kills the run's process tree, its session and any orphan re-parented to
//!   the server. On Lambda, where the execution environment belongs to this one
//!   function, it also kills every other process of the uid between invocations.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Which isolation strategy is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxMode {
    UidPool,
    SameUid { lambda: bool },
}

#[derive(Debug)]
pub struct Sandbox {
    mode: SandboxMode,
    uid_lock_dir: PathBuf,
    free_uids: Mutex<VecDeque<u32>>,
    /// Uids swept once since start-up (a crashed predecessor may have left processes).
    swept_uids: Mutex<HashSet<u32>>,
    /// Root pids of runs in flight, so orphan sweeps never touch a live run's root.
    live_roots: Mutex<HashSet<i32>>,
    subreaper: bool,
    protections: Vec<String>,
    /// The server's own directories, never swept.
    protected: Vec<PathBuf>,
    /// Runs get network, IPC and mount namespaces (root, and the kernel allows it).
    namespaces: bool,
    /// Protections that could not be enabled, with the reason.
    unavailable: Vec<String>,
    /// Run directories are size- and inode-capped tmpfs mounts (root).
    workspace_tmpfs: bool,
}

/// A run's identity for its lifetime: the uid it runs as (uid-pool mode).
/// Dropping it returns the uid to the pool.
#[derive(Debug)]
pub struct SandboxLease {
    sandbox: Arc<Sandbox>,
    uid: Option<u32>,
    _lock: Option<File>,
    /// No process of the uid has been started since its last successful sweep,
    /// so releasing the lease need not fork another sweep helper.
    swept: AtomicBool,
}

impl Sandbox {
    /// Sets up the sandbox for this process. Call once at start-up.
    pub fn init(
        uid_base: u32,
        uid_count: u32,
        lock_root: &Path,
        protected: Vec<PathBuf>,
        want_namespaces: bool,
    ) -> io::Result<Arc<Self>> {
        // The server's own memory and /proc/<pid>/environ must not be readable by
        // programs running as the same uid (Lambda) and core dumps must not leak it.
        // SAFETY: prctl with integer arguments has no memory-safety preconditions.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        let is_root = unsafe { libc::geteuid() } == 0;
        let mut protections = vec![
            "rlimits".to_string(),
            "minimal-environment".to_string(),
            "server-not-dumpable".to_string(),
            "no-new-privileges".to_string(),
            "private-run-directory".to_string(),
        ];
        let mut subreaper = false;
        let mut unavailable = Vec::new();
        let mut namespaces = false;
        let mut workspace_tmpfs = false;
        let (mode, uid_lock_dir, free_uids) = if is_root {
            match super::namespaces::probe_workspace(lock_root) {
                Ok(()) => {
                    workspace_tmpfs = true;
                    protections.push("workspace-tmpfs".into());
                }
                Err(err) => {
                    tracing::error!(%err, "run directories will NOT be size- and inode-capped");
                    unavailable.push(format!("workspace-tmpfs: {err}"));
                }
            }
            let probed = if want_namespaces {
                super::namespaces::probe()
            } else {
                Err("disabled by configuration (SANDBOX_NAMESPACES=false)".to_string())
            };
            match probed {
                Ok(()) => {
                    namespaces = true;
                    protections.extend(
                        [
                            "network-namespace",
                            "ipc-namespace",
                            "mount-namespace-private-tmp",
                            "proc-hidepid",
                        ]
                        .map(String::from),
                    );
                }
                Err(reason) => {
                    tracing::error!(%reason, "runs will NOT be isolated from the network and /tmp");
                    unavailable.push(format!("namespaces: {reason}"));
                }
            }
            let dir = lock_root.join("uids");
            std::fs::create_dir_all(&dir)?;
            set_mode(&dir, 0o700)?;
            protections.push(format!("uid-pool:{uid_base}-{}", uid_base + uid_count - 1));
            let uids = (uid_base..uid_base + uid_count).collect();
            (SandboxMode::UidPool, dir, uids)
        } else {
            let lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
            // SAFETY: as above.
            subreaper = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0;
            if subreaper {
                protections.push("child-subreaper".into());
            } else {
                tracing::warn!("PR_SET_CHILD_SUBREAPER refused: double-forked daemons are found by uid sweep only");
            }
            if lambda {
                protections.push("uid-sweep-between-invocations".into());
            }
            unavailable.push("uid-pool: server is not root".into());
            unavailable.push("namespaces: server is not root".into());
            tracing::warn!(
                "not running as root: user programs share the server's uid; see SECURITY.md"
            );
            (
                SandboxMode::SameUid { lambda },
                PathBuf::new(),
                VecDeque::new(),
            )
        };
        tracing::info!(?mode, ?protections, "sandbox ready");
        Ok(Arc::new(Sandbox {
            mode,
            uid_lock_dir,
            free_uids: Mutex::new(free_uids),
            swept_uids: Mutex::new(HashSet::new()),
            live_roots: Mutex::new(HashSet::new()),
            subreaper,
            protections,
            protected,
            namespaces,
            unavailable,
            workspace_tmpfs,
        }))
    }

    pub fn mode(&self) -> SandboxMode {
        self.mode
    }

    /// The protections in force, for `/api/health` and the logs.
    pub fn protections(&self) -> &[String] {
        &self.protections
    }

    /// Protections that are not in force, and why.
    pub fn unavailable(&self) -> &[String] {
        &self.unavailable
    }

    /// Whether run directories are capped tmpfs mounts.
    pub fn workspace_tmpfs(&self) -> bool {
        self.workspace_tmpfs
    }

    /// Whether runs get their own network, IPC and mount namespaces.
    pub fn namespaces(&self) -> bool {
        self.namespaces
    }

    /// The server's own directories (compile cache first, then work directory).
    pub fn server_dirs(&self) -> &[PathBuf] {
        &self.protected
    }

    /// Leases an identity for one run. In uid-pool mode this takes a uid no other
    /// run (in this or another server process) holds.
    pub fn lease(self: &Arc<Self>) -> io::Result<SandboxLease> {
        if self.mode != SandboxMode::UidPool {
            return Ok(SandboxLease {
                sandbox: self.clone(),
                uid: None,
                _lock: None,
                swept: AtomicBool::new(true),
            });
        }
        let candidates = self.free_uids.lock().expect("uid pool lock").len();
        for _ in 0..candidates {
            let Some(uid) = self.free_uids.lock().expect("uid pool lock").pop_front() else {
                break;
            };
            let lock = {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(self.uid_lock_dir.join(format!("{uid}.lock")))?
            };
            // SAFETY: flock on a file descriptor we own.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                // Held by another server process: try it again later.
                self.free_uids.lock().expect("uid pool lock").push_back(uid);
                continue;
            }
            let first_use = self.swept_uids.lock().expect("swept lock").insert(uid);
            if first_use {
                kill_all_of_uid(uid)?;
            }
            return Ok(SandboxLease {
                sandbox: self.clone(),
                uid: Some(uid),
                _lock: Some(lock),
                swept: AtomicBool::new(first_use),
            });
        }
        Err(io::Error::other("sandbox uid pool exhausted"))
    }

    pub(crate) fn register_root(&self, pid: i32) {
        self.live_roots.lock().expect("roots lock").insert(pid);
    }

    pub(crate) fn unregister_root(&self, pid: i32) {
        self.live_roots.lock().expect("roots lock").remove(&pid);
    }

    /// Kills every process that belongs to a run whose first process was `root_pid`.
    pub fn kill_run(&self, lease: &SandboxLease, root_pid: i32) {
        // The run's session (setsid made it equal to the root pid) goes first.
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(-root_pid, libc::SIGKILL) };
        match (self.mode, lease.uid) {
            (SandboxMode::UidPool, Some(uid)) => match kill_all_of_uid(uid) {
                Ok(()) => lease.swept.store(true, Ordering::SeqCst),
                Err(err) => tracing::error!(%err, uid, "uid sweep failed"),
            },
            _ => self.kill_tree(root_pid),
        }
    }

    /// Same-uid mode: kill the tree below `root_pid`, its session, and orphans
    /// re-parented to this server, until a scan finds none left.
    fn kill_tree(&self, root_pid: i32) {
        let me = std::process::id() as i32;
        for _ in 0..50 {
            let table = process_table();
            let live_roots = self.live_roots.lock().expect("roots lock").clone();
            let mut doomed: HashSet<i32> = HashSet::new();
            for info in table.values() {
                let orphan_of_ours = self.subreaper
                    && info.ppid == me
                    && info.pid != root_pid
                    && !live_roots.contains(&info.pid);
                if info.pid == root_pid || info.session == root_pid || orphan_of_ours {
                    doomed.insert(info.pid);
                }
            }
            // Everything below a doomed process is doomed too.
            let mut changed = true;
            while changed {
                changed = false;
                for info in table.values() {
                    if !doomed.contains(&info.pid) && doomed.contains(&info.ppid) {
                        doomed.insert(info.pid);
                        changed = true;
                    }
                }
            }
            doomed.remove(&me);
            let alive: Vec<i32> = doomed
                .into_iter()
                .filter(|pid| table.get(pid).is_some_and(|p| p.state != 'Z'))
                .collect();
            for pid in &alive {
                // SAFETY: as above.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            self.reap_adopted_orphans(&table, root_pid, &live_roots);
            if alive.is_empty() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        tracing::error!(root_pid, "processes of a run survived 50 kill rounds");
    }

    /// Zombies re-parented to us by the subreaper flag must be reaped by us.
    fn reap_adopted_orphans(
        &self,
        table: &HashMap<i32, ProcessInfo>,
        root_pid: i32,
        live_roots: &HashSet<i32>,
    ) {
        if !self.subreaper {
            return;
        }
        let me = std::process::id() as i32;
        for info in table.values() {
            if info.ppid == me && info.pid != root_pid && !live_roots.contains(&info.pid) {
                let mut status = 0;
                // SAFETY: waitpid on a specific child with WNOHANG.
                unsafe { libc::waitpid(info.pid, &mut status, libc::WNOHANG) };
            }
        }
    }

    /// Lambda: before the next invocation, kill every other process of our uid
    /// and empty the shared writable directories (they belong to this function
    /// alone), keeping the server's cache and work directories.
    pub fn clean_between_invocations(&self) {
        if self.mode != (SandboxMode::SameUid { lambda: true }) {
            return;
        }
        if !self.live_roots.lock().expect("roots lock").is_empty() {
            return;
        }
        self.sweep_foreign_processes();
        sweep_shared_dirs(None, &self.protected);
        sweep_sysv_ipc(unsafe { libc::getuid() });
    }

    /// Lambda only: between invocations nothing of this uid but the server may live.
    fn sweep_foreign_processes(&self) {
        if self.mode != (SandboxMode::SameUid { lambda: true }) {
            return;
        }
        if !self.live_roots.lock().expect("roots lock").is_empty() {
            return;
        }
        let me = std::process::id() as i32;
        let my_uid = unsafe { libc::getuid() };
        let ancestors = ancestors_of(me);
        for info in process_table().values() {
            if info.uid == my_uid && info.pid != me && !ancestors.contains(&info.pid) {
                // SAFETY: as above.
                unsafe { libc::kill(info.pid, libc::SIGKILL) };
            }
        }
    }
}

impl SandboxLease {
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }

    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// Called before starting a process under this lease.
    pub(crate) fn mark_in_use(&self) {
        self.swept.store(false, Ordering::SeqCst);
    }
}

impl Drop for SandboxLease {
    fn drop(&mut self) {
        if let Some(uid) = self.uid {
            // Whatever happened to the run, nothing of this uid may outlive it,
            // and nothing it left in the shared writable directories either.
            if !self.swept.load(Ordering::SeqCst) {
                if let Err(err) = kill_all_of_uid(uid) {
                    tracing::error!(%err, uid, "uid sweep on release failed");
                }
            }
            // With namespaces the run only ever saw private /tmp-like mounts and
            // its own IPC namespace: there is nothing of it to find out here.
            if !self.sandbox.namespaces {
                sweep_shared_dirs(Some(uid), &self.sandbox.protected);
                sweep_sysv_ipc(uid);
            }
            self.sandbox
                .free_uids
                .lock()
                .expect("uid pool lock")
                .push_back(uid);
        }
    }
}

/// Kills every process whose real or saved uid is `uid`, from a helper process
/// that takes that uid (so `kill(-1)` reaches exactly those processes).
pub fn kill_all_of_uid(uid: u32) -> io::Result<()> {
    // SAFETY: the child only makes async-signal-safe system calls before _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        unsafe {
            let ok = libc::setgroups(0, std::ptr::null()) == 0
                && libc::setresgid(uid, uid, uid) == 0
                && libc::setresuid(uid, uid, uid) == 0;
            if !ok {
                libc::_exit(2);
            }
            libc::kill(-1, libc::SIGKILL);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for the helper we just forked.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "uid sweep helper failed for uid {uid} (status {status})"
        )))
    }
}

/// World-writable directories where a program can leave files for later runs.
pub const SHARED_WRITABLE_DIRS: &[&str] = &["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];

/// Removes what a run left in the shared writable directories: entries owned by
/// `owner` (uid-pool mode; looking one level into other world-writable
/// directories such as `/tmp/.X11-unix`), or every entry when `owner` is `None`
/// (Lambda, where these directories belong to the function). Symlinks are
/// removed, never followed; the server's own directories are kept.
pub fn sweep_shared_dirs(owner: Option<u32>, protected: &[PathBuf]) {
    for dir in SHARED_WRITABLE_DIRS {
        sweep_dir(Path::new(dir), owner, protected, 1);
    }
}

fn sweep_dir(dir: &Path, owner: Option<u32>, protected: &[PathBuf], depth: u32) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if protected
            .iter()
            .any(|p| p.starts_with(&path) || path.starts_with(p))
        {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let remove = owner.is_none_or(|uid| meta.uid() == uid);
        if remove {
            let result = if meta.is_dir() {
                super::cache::remove_tree(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if let Err(err) = result {
                tracing::warn!(%err, path = %path.display(), "could not remove a file left by a program");
            }
        } else if meta.is_dir() && meta.mode() & 0o002 != 0 && depth > 0 {
            sweep_dir(&path, owner, protected, depth - 1);
        }
    }
}

/// Removes System V IPC objects (shared memory, message queues, semaphores)
/// owned by `uid`: they outlive processes and could carry data to the next run.
/// (With namespaces each run has its own IPC namespace and this finds nothing.)
pub fn sweep_sysv_ipc(uid: u32) {
    for (table, remove) in [
        ("shm", remove_shm as fn(libc::c_int)),
        ("msg", remove_msg),
        ("sem", remove_sem),
    ] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/sysvipc/{table}")) else {
            continue;
        };
        let mut lines = text.lines();
        let Some(header) = lines.next() else { continue };
        let columns: Vec<&str> = header.split_whitespace().collect();
        let (Some(id_col), Some(uid_col)) = (
            columns
                .iter()
                .position(|c| matches!(*c, "shmid" | "msqid" | "semid")),
            columns.iter().position(|c| *c == "uid"),
        ) else {
            continue;
        };
        for line in lines {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let owner = fields.get(uid_col).and_then(|f| f.parse::<u32>().ok());
            let id = fields
                .get(id_col)
                .and_then(|f| f.parse::<libc::c_int>().ok());
            if let (Some(owner), Some(id)) = (owner, id) {
                if owner == uid {
                    remove(id);
                }
            }
        }
    }
}

fn remove_shm(id: libc::c_int) {
    // SAFETY: IPC_RMID takes no buffer.
    unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
}

fn remove_msg(id: libc::c_int) {
    // SAFETY: as above.
    unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
}

fn remove_sem(id: libc::c_int) {
    // SAFETY: as above.
    unsafe { libc::semctl(id, 0, libc::IPC_RMID) };
}

/// One row of the process table.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    pub pid: i32,
    pub ppid: i32,
    pub session: i32,
    pub state: char,
    pub uid: u32,
}

/// Reads `/proc` once. Processes that vanish while being read are skipped.
pub fn process_table() -> HashMap<i32, ProcessInfo> {
    let mut table = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return table;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(info) = read_process(pid) {
            table.insert(pid, info);
        }
    }
    table
}

fn read_process(pid: i32) -> Option<ProcessInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let _pgrp = fields.next()?;
    let session = fields.next()?.parse().ok()?;
    // /proc/<pid> is owned by root for non-dumpable processes: read the real uid.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|ruid| ruid.parse().ok())?;
    Some(ProcessInfo {
        pid,
        ppid,
        session,
        state,
        uid,
    })
}

fn ancestors_of(pid: i32) -> HashSet<i32> {
    let mut ancestors = HashSet::new();
    let mut current = pid;
    while let Some(info) = read_process(current) {
        if info.ppid <= 0 || !ancestors.insert(info.ppid) {
            break;
        }
        current = info.ppid;
    }
    ancestors
}

/// Live (non-zombie) processes whose real uid is `uid`.
pub fn live_processes_of_uid(uid: u32) -> Vec<ProcessInfo> {
    process_table()
        .into_values()
        .filter(|p| p.uid == uid && p.state != 'Z')
        .collect()
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_dir_with_leftovers() -> (tempfile::TempDir, PathBuf) {
        let shared = tempfile::tempdir().unwrap();
        std::fs::write(shared.path().join("planted"), b"x").unwrap();
        let open_dir = shared.path().join("open");
        std::fs::create_dir(&open_dir).unwrap();
        set_mode(&open_dir, 0o1777).unwrap();
        std::fs::write(open_dir.join("inner"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", shared.path().join("link")).unwrap();
        let keep = shared.path().join("server-cache");
        std::fs::create_dir(&keep).unwrap();
        std::fs::write(keep.join("entry"), b"x").unwrap();
        (shared, keep)
    }

    #[test]
    fn the_lambda_sweep_empties_a_shared_dir_but_keeps_the_servers_own() {
        let (shared, keep) = shared_dir_with_leftovers();
        sweep_dir(shared.path(), None, std::slice::from_ref(&keep), 1);
        let left: Vec<_> = std::fs::read_dir(shared.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["server-cache"]);
        assert!(keep.join("entry").exists());
        assert!(
            Path::new("/etc/hostname").exists(),
            "symlink targets are never followed"
        );
    }

    #[test]
    fn the_uid_sweep_removes_only_what_that_uid_owns() {
        let (shared, keep) = shared_dir_with_leftovers();
        let me = unsafe { libc::getuid() };
        // Nothing is owned by another uid: nothing goes.
        sweep_dir(
            shared.path(),
            Some(me.wrapping_add(12345)),
            std::slice::from_ref(&keep),
            1,
        );
        assert!(shared.path().join("planted").exists());
        assert!(shared.path().join("open/inner").exists());
        // Our own entries go, looking one level into world-writable directories.
        sweep_dir(shared.path(), Some(me), std::slice::from_ref(&keep), 1);
        assert!(!shared.path().join("planted").exists());
        assert!(!shared.path().join("link").exists());
        assert!(keep.join("entry").exists());
    }
}
