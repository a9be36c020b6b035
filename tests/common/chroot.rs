//! Running a real program from an unpacked rootfs: `chroot(8)`, a server reaped on drop,
//! `/proc` and `/dev` mounted for the program's lifetime, and redis answering `PING`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// True when running as root (needed for `chroot` and `mount`).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `stdout: …\nstderr: …` of a finished command, for assertion messages.
pub fn out_text(o: &Output) -> String {
    format!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `chroot(8)`: in /usr/sbin, which a test's `PATH` may lack.
pub fn chroot_cmd() -> Command {
    let bin = ["/usr/sbin/chroot", "/sbin/chroot", "/usr/bin/chroot"].into_iter().find(|p| Path::new(p).exists());
    Command::new(bin.unwrap_or("chroot"))
}

/// Kills and reaps the server however the test ends.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `/proc` (a fresh procfs) and `/dev` (a bind mount of the host's) inside `root`, unmounted
/// on drop, as a container runtime would provide them.
pub struct Mounts(Vec<PathBuf>);

impl Mounts {
    /// Mount them (creating the mount points).
    pub fn new(root: &Path) -> Mounts {
        let mut m = Mounts(Vec::new());
        for (dir, args) in [("proc", &["-t", "proc", "proc"][..]), ("dev", &["--bind", "/dev"][..])] {
            let at = root.join(dir);
            fs::create_dir_all(&at).unwrap();
            let o = Command::new("mount").args(args).arg(&at).output().unwrap();
            assert!(o.status.success(), "mount {args:?} {}: {}", at.display(), out_text(&o));
            m.0.push(at);
        }
        m
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt;
        for at in self.0.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(at).status();
            // Still mounted: removing the temporary tree would delete the host's /dev.
            let dev = |p: &Path| fs::symlink_metadata(p).map(|m| m.dev()).ok();
            if dev(at) != dev(at.parent().unwrap()) {
                eprintln!("{} is still mounted; aborting rather than removing it", at.display());
                std::process::abort();
            }
        }
    }
}

/// How long a server started by a test may take to answer: generous, since the tests share a
/// 2-core machine with builds and other suites (waits poll; none sleeps this long).
pub const SERVER_START: Duration = Duration::from_secs(60);

/// Start `/usr/bin/redis-server` from `root` in a chroot (with `/proc` and `/dev`), listening
/// on a unix socket only (`--port 0`: no TCP port to race other tests for), and poll up to
/// [`SERVER_START`] for the host's `redis-cli` to get `PONG` through that socket. Panics with
/// the last answer otherwise.
pub fn redis_answers_ping(root: &Path) {
    assert!(Path::new("/usr/bin/redis-cli").exists(), "/usr/bin/redis-cli is missing: apt-get install redis-tools");
    let _mounts = Mounts::new(root);
    let sock = root.join("redis.sock");
    let _ = fs::remove_file(&sock);
    let mut server = Server(
        chroot_cmd()
            .arg(root)
            .args(["/usr/bin/redis-server", "--port", "0", "--unixsocket", "/redis.sock", "--save", ""])
            .args(["--daemonize", "no"])
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < SERVER_START {
        if let Ok(Some(status)) = server.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = server.0.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("redis-server exited early: {status}: {err}");
        }
        if sock.exists() {
            let o = Command::new("redis-cli").arg("-s").arg(&sock).arg("ping").output().unwrap();
            last = out_text(&o);
            if String::from_utf8_lossy(&o.stdout).trim() == "PONG" {
                return; // the server is killed, reaped and the mounts undone on drop
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no PONG within {SERVER_START:?}; last answer: {last}");
}
