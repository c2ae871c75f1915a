//! Linux namespaces for runs when the server is root: a fresh network namespace
//! (no interface but a downed loopback: no network at all, not even the server's
//! own port), a fresh IPC namespace (System V objects die with the run) and a
//! mount namespace where `/tmp`, `/var/tmp`, `/dev/shm` and `/run/lock` are
//! private, size-limited tmpfs mounts. The run directory and the compile cache
//! (which may live under `/tmp`) are bound back into place.
//!
//! The per-run working directory itself is a tmpfs mounted by the server, with a
//! size and inode cap, so a program cannot fill the host disk or its inode table,
//! and cleanup is one unmount whatever the program did inside it.

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};

/// The world-writable directories made private to each run.
pub const PRIVATE_DIRS: &[&str] = &["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];

/// A directory to re-expose inside the private ones.
#[derive(Debug)]
struct Bind {
    target: CString,
    /// Directories to create (outermost first) so that `target` exists.
    mkdirs: Vec<CString>,
    read_only: bool,
}

/// Everything the child needs, allocated before `fork`.
#[derive(Debug)]
pub struct MountPlan {
    masks: Vec<CString>,
    tmpfs_options: CString,
    binds: Vec<Bind>,
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

/// Writes `/proc/self/fd/<fd>` NUL-terminated into `buf`, without allocating.
fn fd_path(fd: libc::c_int, buf: &mut [u8; 32]) -> *const libc::c_char {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 10];
    let mut n = fd.max(0) as u32;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[PREFIX.len() + i] = digits[len - 1 - i];
    }
    buf[PREFIX.len() + len] = 0;
    buf.as_ptr().cast()
}

impl MountPlan {
    /// Plans a run's view: private dirs, with `writable` and `read_only`
    /// directories bound back if they lie under one of them.
    pub fn new(tmpfs_bytes: u64, writable: &[&Path], read_only: &[&Path]) -> io::Result<Self> {
        let masks = PRIVATE_DIRS
            .iter()
            .filter(|dir| Path::new(dir).is_dir())
            .map(|dir| cstring(Path::new(dir)))
            .collect::<io::Result<Vec<_>>>()?;
        let tmpfs_options = CString::new(format!(
            "size={},nr_inodes=4096,mode=1777",
            tmpfs_bytes.max(1024 * 1024)
        ))
        .expect("no NUL");
        if writable.len() + read_only.len() > 4 {
            return Err(io::Error::other(
                "at most four directories can be re-exposed",
            ));
        }
        let mut binds = Vec::new();
        let wanted = writable
            .iter()
            .map(|p| (*p, false))
            .chain(read_only.iter().map(|p| (*p, true)));
        for (path, read_only) in wanted {
            let Some(mask) = PRIVATE_DIRS
                .iter()
                .map(Path::new)
                .find(|mask| path.starts_with(mask))
            else {
                continue;
            };
            let mut mkdirs = Vec::new();
            let mut current = PathBuf::from(mask);
            for part in path.strip_prefix(mask).expect("checked").components() {
                current.push(part);
                mkdirs.push(cstring(&current)?);
            }
            binds.push(Bind {
                target: cstring(path)?,
                mkdirs,
                read_only,
            });
        }
        Ok(MountPlan {
            masks,
            tmpfs_options,
            binds,
        })
    }

    /// In the child, before dropping privileges. Only system calls on data
    /// prepared before `fork`: no allocation.
    pub fn apply(&self) -> io::Result<()> {
        fn check(rc: libc::c_int) -> io::Result<()> {
            if rc == -1 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
        let tmpfs = c"tmpfs";
        // SAFETY: system calls with C strings prepared before fork.
        unsafe {
            check(libc::unshare(
                libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS,
            ))?;
            // Nothing mounted here may propagate back to the host.
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            // Hold the directories to re-expose before the private mounts hide them
            // (a bind source must be a mount of this namespace, so open them here).
            let mut held = [-1 as libc::c_int; 4];
            for (slot, bind) in held.iter_mut().zip(&self.binds) {
                *slot = libc::open(
                    bind.target.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                );
                if *slot < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            for mask in &self.masks {
                check(libc::mount(
                    tmpfs.as_ptr(),
                    mask.as_ptr(),
                    tmpfs.as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    self.tmpfs_options.as_ptr().cast(),
                ))?;
            }
            // Other users' processes (other runs, the server) become invisible in
            // /proc: no command lines with cache paths, no environments to probe.
            check(libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c"hidepid=invisible".as_ptr().cast(),
            ))?;
            for (&fd, bind) in held.iter().zip(&self.binds) {
                for dir in &bind.mkdirs {
                    if libc::mkdir(dir.as_ptr(), 0o755) == -1
                        && *libc::__errno_location() != libc::EEXIST
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                let mut source = [0u8; 32];
                check(libc::mount(
                    fd_path(fd, &mut source),
                    bind.target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ))?;
                if bind.read_only {
                    check(libc::mount(
                        std::ptr::null(),
                        bind.target.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID,
                        std::ptr::null(),
                    ))?;
                }
            }
        }
        Ok(())
    }
}

/// Whether this kernel lets us build the namespaces (tried in a throwaway child).
pub fn probe() -> Result<(), String> {
    let plan = MountPlan::new(1024 * 1024, &[], &[]).map_err(|e| e.to_string())?;
    // SAFETY: the child only makes system calls and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error().to_string());
    }
    if pid == 0 {
        let code = match plan.apply() {
            Ok(()) => 0,
            Err(err) => err.raw_os_error().unwrap_or(1).clamp(1, 255),
        };
        // SAFETY: leaving the forked child without running destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(format!(
            "namespaces unavailable: {}",
            io::Error::from_raw_os_error(libc::WEXITSTATUS(status))
        ))
    }
}

/// Whether the server can mount workspaces (root in a container may not).
pub fn probe_workspace(scratch_parent: &Path) -> io::Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix(".probe-")
        .tempdir_in(scratch_parent)?;
    mount_workspace(scratch.path(), 0, 1024 * 1024, 16)?;
    unmount_workspace(scratch.path())
}

/// Mounts a size- and inode-limited tmpfs as a run's working directory.
pub fn mount_workspace(path: &Path, uid: u32, bytes: u64, inodes: u64) -> io::Result<()> {
    let target = cstring(path)?;
    let options = CString::new(format!(
        "size={bytes},nr_inodes={inodes},mode=0700,uid={uid},gid={uid}"
    ))
    .expect("no NUL");
    // SAFETY: mount with valid C strings.
    let rc = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            options.as_ptr().cast(),
        )
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Detaches a run's workspace mount (instant, however many files it holds).
pub fn unmount_workspace(path: &Path) -> io::Result<()> {
    let target = cstring(path)?;
    // SAFETY: umount2 with a valid C string.
    if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Detaches workspace mounts a crashed predecessor left under `work_dir`.
pub fn unmount_stale_workspaces(work_dir: &Path) {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    for line in mountinfo.lines() {
        // Field 5 is the mount point (spaces escaped as \040).
        let Some(mount_point) = line.split(' ').nth(4) else {
            continue;
        };
        let mount_point = PathBuf::from(mount_point.replace("\\040", " "));
        if mount_point.starts_with(work_dir) && mount_point != work_dir {
            if let Err(err) = unmount_workspace(&mount_point) {
                tracing::warn!(%err, path = %mount_point.display(), "could not detach a stale workspace");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_paths_are_written_without_allocating() {
        for (fd, expected) in [
            (0, "/proc/self/fd/0"),
            (7, "/proc/self/fd/7"),
            (1234, "/proc/self/fd/1234"),
        ] {
            let mut buf = [0u8; 32];
            let ptr = fd_path(fd, &mut buf);
            // SAFETY: fd_path NUL-terminates inside buf.
            let text = unsafe { std::ffi::CStr::from_ptr(ptr) };
            assert_eq!(text.to_str().unwrap(), expected);
        }
    }
}
