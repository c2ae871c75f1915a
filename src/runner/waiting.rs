//! Detects that a program is waiting for input: blocked reading its stdin pipe
//! with every byte we gave it consumed, and nothing of it still running.
//!
//! Works without a terminal by watching the process through `/proc`:
//! * the pipe holds no unread bytes (`FIONREAD` on our end of it);
//! * no task is runnable (`R`) or in uninterruptible sleep (`D`): a program that
//!   computes, even in another thread, is not waiting;
//! * some task is blocked in `read`/`readv`/`pread64` on a descriptor that is our
//!   stdin pipe (C, C++, Python, Java, Go, Rust), or the main thread of an event
//!   loop sleeps in `epoll_wait`/`poll` with no timeout (Node: a pending timer
//!   means it is merely sleeping, not waiting).
//!
//! A program that forks and lets a child read is handled by looking at the
//! members of the run's session when the root is itself waiting for children.

use std::os::fd::RawFd;

/// x86-64 and aarch64 system call numbers we recognise.
#[cfg(target_arch = "x86_64")]
mod nr {
    pub const READ: &[i64] = &[0, 17, 19]; // read, pread64, readv
    pub const EPOLL: &[i64] = &[232, 281]; // epoll_wait, epoll_pwait
    pub const POLL: &[i64] = &[7, 271]; // poll, ppoll
    pub const WAIT: &[i64] = &[61, 247]; // wait4, waitid
}
#[cfg(target_arch = "aarch64")]
mod nr {
    pub const READ: &[i64] = &[63, 65, 67]; // read, readv, pread64
    pub const EPOLL: &[i64] = &[22]; // epoll_pwait
    pub const POLL: &[i64] = &[73]; // ppoll
    pub const WAIT: &[i64] = &[260, 95]; // wait4, waitid
}

/// Our end of the program's stdin pipe.
#[derive(Debug, Clone, Copy)]
pub struct StdinPipe {
    pub writer: RawFd,
    pub inode: u64,
}

impl StdinPipe {
    pub fn new(writer: RawFd) -> std::io::Result<Self> {
        // SAFETY: fstat on a descriptor we own, into a zeroed stat buffer.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(writer, &mut stat) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(StdinPipe {
            writer,
            inode: stat.st_ino,
        })
    }

    /// Bytes written to the pipe that the program has not read yet.
    fn unread(&self) -> Option<usize> {
        let mut pending: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        let rc = unsafe { libc::ioctl(self.writer, libc::FIONREAD, &mut pending) };
        (rc == 0).then_some(pending.max(0) as usize)
    }
}

/// What one task (thread) is doing.
#[derive(Debug, PartialEq, Eq)]
enum TaskActivity {
    Busy,
    ReadingStdin,
    EventLoopIdle,
    WaitingForChildren,
    Other,
}

/// Whether the run rooted at `root` is blocked waiting for more input.
pub fn is_waiting_for_input(root: i32, stdin: &StdinPipe) -> bool {
    if stdin.unread() != Some(0) {
        return false;
    }
    match process_activity(root, stdin) {
        Verdict::Waiting => true,
        Verdict::Busy | Verdict::Idle => false,
        Verdict::WaitingForChildren => session_waiting(root, stdin),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Busy,
    Waiting,
    WaitingForChildren,
    Idle,
}

fn process_activity(pid: i32, stdin: &StdinPipe) -> Verdict {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Verdict::Idle;
    };
    let mut reading = false;
    let mut waiting_children = false;
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        match task_activity(pid, tid, stdin) {
            TaskActivity::Busy => return Verdict::Busy,
            TaskActivity::ReadingStdin => reading = true,
            TaskActivity::EventLoopIdle if tid == pid => reading = true,
            TaskActivity::WaitingForChildren => waiting_children = true,
            _ => {}
        }
    }
    if reading {
        Verdict::Waiting
    } else if waiting_children {
        Verdict::WaitingForChildren
    } else {
        Verdict::Idle
    }
}

fn task_activity(pid: i32, tid: i32, stdin: &StdinPipe) -> TaskActivity {
    let base = format!("/proc/{pid}/task/{tid}");
    let Ok(stat) = std::fs::read_to_string(format!("{base}/stat")) else {
        return TaskActivity::Other;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .and_then(|s| s.chars().next());
    match state {
        Some('R') | Some('D') => return TaskActivity::Busy,
        Some('S') => {}
        _ => return TaskActivity::Other,
    }
    let Ok(syscall) = std::fs::read_to_string(format!("{base}/syscall")) else {
        return TaskActivity::Other;
    };
    let mut fields = syscall.split_whitespace();
    let Some(number) = fields.next().and_then(|n| n.parse::<i64>().ok()) else {
        // "running" (raced with a wake-up) or "-1" (blocked outside a syscall).
        return TaskActivity::Busy;
    };
    let args: Vec<u64> = fields
        .take(6)
        .filter_map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .collect();
    if nr::READ.contains(&number) {
        let fd = args.first().copied().unwrap_or(u64::MAX);
        if is_stdin_pipe(pid, fd, stdin) {
            return TaskActivity::ReadingStdin;
        }
    } else if nr::EPOLL.contains(&number) {
        // epoll_wait(epfd, events, maxevents, timeout): -1 means no timer pending.
        if args.get(3).is_some_and(|t| *t as u32 == u32::MAX) && holds_stdin(pid, stdin) {
            return TaskActivity::EventLoopIdle;
        }
    } else if nr::POLL.contains(&number) {
        // poll(fds, n, timeout) / ppoll(fds, n, NULL timespec, ...).
        let infinite = if number == nr::POLL[0] {
            args.get(2).is_some_and(|t| *t as u32 == u32::MAX)
        } else {
            args.get(2) == Some(&0)
        };
        if infinite && holds_stdin(pid, stdin) {
            return TaskActivity::EventLoopIdle;
        }
    } else if nr::WAIT.contains(&number) {
        return TaskActivity::WaitingForChildren;
    }
    TaskActivity::Other
}

fn is_stdin_pipe(pid: i32, fd: u64, stdin: &StdinPipe) -> bool {
    std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
        .map(|target| target.to_string_lossy() == format!("pipe:[{}]", stdin.inode))
        .unwrap_or(false)
}

fn holds_stdin(pid: i32, stdin: &StdinPipe) -> bool {
    is_stdin_pipe(pid, 0, stdin)
}

/// The root waits for children: look at every member of its session.
fn session_waiting(root: i32, stdin: &StdinPipe) -> bool {
    let members: Vec<i32> = super::sandbox::process_table()
        .into_values()
        .filter(|p| p.session == root && p.state != 'Z')
        .map(|p| p.pid)
        .collect();
    let mut waiting = false;
    for pid in members {
        match process_activity(pid, stdin) {
            Verdict::Busy => return false,
            Verdict::Waiting => waiting = true,
            _ => {}
        }
    }
    waiting
}
