//! Images that work: each program's rootfs is built by `depclose-cli PROG --tar` with no
//! hand-listed runtime data, unpacked with the system `tar`, and the real program is run in
//! a chroot with /proc and /dev mounted (as a container runtime gives them). Each test
//! checks a behaviour that fails in the bare ELF closure (`--runtime none`): that is
//! checked too where it is cheap, so the test proves the runtime files are what makes it
//! work.
//!
//! Needs root (chroot, mount) and the Debian packages the README's test command installs
//! (coreutils, libc-bin, curl, openssl, python3, imagemagick, zlib1g, gcc); skipped with
//! a message when not root.
#![cfg(feature = "cli")]

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

macro_rules! require_root {
    () => {
        if common::hermetic_skip("root (chroot, mount) and Debian packages") {
            return;
        }
        if !is_root() {
            eprintln!("skipped: chroot and mount need root");
            return;
        }
    };
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_depclose-cli"));
    c.env_remove("LD_LIBRARY_PATH").env_remove("SOURCE_DATE_EPOCH");
    c
}

/// An unpacked rootfs with /proc and /dev mounted; unmounted and removed on drop.
struct Image {
    _dir: tempfile::TempDir,
    root: PathBuf,
    mounts: Vec<PathBuf>,
}

impl Image {
    /// `depclose-cli ARGS --tar T`, then `tar -xpf T` into an empty directory.
    fn build(args: &[&str]) -> Image {
        let dir = tempfile::Builder::new().prefix("rt-image").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let tar = dir.path().join("rootfs.tar");
        let o = cli().args(args).arg("--tar").arg(&tar).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "depclose-cli {args:?}: {}", text(&o));
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        let x = Command::new("tar").arg("--numeric-owner").arg("-xpf").arg(&tar).arg("-C").arg(&root).output().unwrap();
        assert!(x.status.success(), "tar -x: {}", text(&x));
        let mut img = Image { _dir: dir, root, mounts: Vec::new() };
        img.mount();
        img
    }

    fn mount(&mut self) {
        for (what, dir, args) in [("proc", "proc", vec!["-t", "proc", "proc"]), ("/dev", "dev", vec!["--bind", "/dev"])]
        {
            let target = self.root.join(dir);
            if !target.is_dir() {
                continue; // a bare closure (--runtime none) has no mount points
            }
            let o = Command::new("mount").args(&args).arg(&target).output().unwrap();
            assert!(o.status.success(), "mount {what}: {}", text(&o));
            self.mounts.push(target);
        }
    }

    /// Run `argv` in the image as root, with `env` (PATH is /usr/bin:/bin).
    fn run(&self, argv: &[&str], env: &[(&str, &str)]) -> Output {
        self.run_as(None, argv, env, None)
    }

    fn run_as(&self, user: Option<&str>, argv: &[&str], env: &[(&str, &str)], input: Option<&[u8]>) -> Output {
        let mut c = chroot_cmd();
        if let Some(u) = user {
            c.arg(format!("--userspec={u}"));
        }
        c.arg(&self.root).args(argv).env_clear().env("PATH", "/usr/bin:/bin");
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(i) = input {
            stdin.write_all(i).unwrap();
        }
        drop(stdin);
        wait_bounded(child, Duration::from_secs(60))
    }

    /// True when the image holds `in_root` (a file, link or directory).
    fn has(&self, in_root: &str) -> bool {
        self.root.join(in_root.trim_start_matches('/')).symlink_metadata().is_ok()
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!("timed out after {limit:?}: {}", text(&o));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn chroot_cmd() -> Command {
    let bin = ["/usr/sbin/chroot", "/sbin/chroot", "/usr/bin/chroot"].into_iter().find(|p| Path::new(p).exists());
    Command::new(bin.unwrap_or("chroot"))
}

fn require(path: &str, package: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: apt-get install {package}");
}

/// Compile a C program (with extra sources, e.g. an assembler note) into a temp dir.
fn cc(name: &str, src: &str, extra: &[(&str, &str)], libs: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new().prefix("rt-cc").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let c = dir.path().join(format!("{name}.c"));
    fs::write(&c, src).unwrap();
    let exe = dir.path().join(name);
    let mut cmd = Command::new("gcc");
    cmd.arg("-O1").arg("-o").arg(&exe).arg(&c);
    for (file, body) in extra {
        let p = dir.path().join(file);
        fs::write(&p, body).unwrap();
        cmd.arg(&p);
    }
    cmd.args(libs);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "gcc {name}: {}", text(&o));
    (dir, exe)
}

fn assert_ok(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", text(o));
}

// ---------------------------------------------------------------------------------------

#[test]
fn id_and_whoami_name_root_and_nonroot_writes_tmp() {
    require_root!();
    for prog in ["/usr/bin/id", "/usr/bin/whoami"] {
        let img = Image::build(&[prog]);
        let argv: &[&str] = if prog.ends_with("id") { &[prog, "-un"] } else { &[prog] };
        let o = img.run(argv, &[]);
        assert_ok(&o, prog);
        assert_eq!(stdout(&o).trim(), "root", "{prog}");
        let o = img.run_as(Some("65532:65532"), argv, &[], None);
        assert_ok(&o, prog);
        assert_eq!(stdout(&o).trim(), "nonroot", "{prog} as 65532");
    }
    // The bare closure cannot name uid 0: the runtime files are what makes it work.
    let bare = Image::build(&["/usr/bin/id", "--runtime", "none"]);
    let o = bare.run(&["/usr/bin/id", "-un"], &[]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));

    let img = Image::build(&["/usr/bin/mktemp"]);
    let o = img.run_as(Some("65532:65532"), &["/usr/bin/mktemp"], &[], None);
    assert_ok(&o, "mktemp as nonroot");
    assert!(stdout(&o).starts_with("/tmp/tmp."), "{}", text(&o));
}

#[test]
fn getent_passwd_group_hosts_services() {
    require_root!();
    let img = Image::build(&["/usr/bin/getent"]);
    for (args, want) in [
        (&["passwd", "root"][..], "root:x:0:0:"),
        (&["group", "root"], "root:x:0:"),
        (&["passwd", "nonroot"], "nonroot:x:65532:65532:"),
        (&["hosts", "localhost"], "localhost"),
        (&["services", "https"], "443/tcp"),
    ] {
        let mut argv = vec!["/usr/bin/getent"];
        argv.extend_from_slice(args);
        let o = img.run(&argv, &[]);
        assert_ok(&o, &format!("getent {args:?}"));
        assert!(stdout(&o).contains(want), "getent {args:?}: {}", text(&o));
    }
}

#[test]
fn user_flag_adds_the_user_and_its_home() {
    require_root!();
    let img = Image::build(&["/usr/bin/id", "--user", "app:2000"]);
    let o = img.run_as(Some("1000:2000"), &["/usr/bin/id", "-un"], &[], None);
    assert_ok(&o, "id as app");
    assert_eq!(stdout(&o).trim(), "app");
    let m = fs::metadata(img.root.join("home/app")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1000, 2000, 0o700));
}

#[test]
fn date_knows_time_zones() {
    require_root!();
    let img = Image::build(&["/usr/bin/date"]);
    let o = img.run(&["/usr/bin/date", "+%Z"], &[("TZ", "Europe/Paris")]);
    assert_ok(&o, "date");
    let z = stdout(&o);
    assert!(z.trim() == "CET" || z.trim() == "CEST", "{}", text(&o));
    let bare = Image::build(&["/usr/bin/date", "--runtime", "none"]);
    let o = bare.run(&["/usr/bin/date", "+%Z"], &[("TZ", "Europe/Paris")]);
    assert_eq!(stdout(&o).trim(), "Europe", "the bare closure has no zoneinfo: {}", text(&o));
    // Only the zones asked for.
    let img = Image::build(&["/usr/bin/date", "--tz", "Europe/Paris"]);
    assert!(img.has("/usr/share/zoneinfo/Europe/Paris") && !img.has("/usr/share/zoneinfo/Asia/Tokyo"));
    let o = img.run(&["/usr/bin/date", "+%Z"], &[("TZ", "Europe/Paris")]);
    assert!(matches!(stdout(&o).trim(), "CET" | "CEST"), "{}", text(&o));
}

#[test]
fn iconv_converts_latin1() {
    require_root!();
    let img = Image::build(&["/usr/bin/iconv"]);
    let o = img.run_as(None, &["/usr/bin/iconv", "-f", "latin1", "-t", "utf-8"], &[], Some(b"caf\xe9\n"));
    assert_ok(&o, "iconv");
    assert_eq!(o.stdout, "café\n".as_bytes());
    let img = Image::build(&["/usr/bin/iconv", "--gconv", "ISO8859-1"]);
    assert!(!img.has("/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so"));
    let o = img.run_as(None, &["/usr/bin/iconv", "-f", "latin1", "-t", "utf-8"], &[], Some(b"caf\xe9\n"));
    assert_eq!(o.stdout, "café\n".as_bytes(), "{}", text(&o));
}

const ICONV_C: &str = r#"
#include <iconv.h>
#include <stdio.h>
int main(void) {
    iconv_t cd = iconv_open("UTF-16", "ISO-8859-1");
    if (cd == (iconv_t)-1) { perror("iconv_open"); return 1; }
    char in[] = "caf\xe9", out[32]; char *ip = in, *op = out; size_t il = 4, ol = sizeof out;
    if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) { perror("iconv"); return 1; }
    printf("%zu\n", sizeof out - ol);
    return 0;
}
"#;

const CANCEL_C: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static void *spin(void *a) { (void)a; for (;;) { sleep(1); } return 0; }
int main(void) {
    pthread_t t; void *r;
    pthread_create(&t, 0, spin, 0);
    pthread_cancel(t);
    pthread_join(t, &r);
    puts(r == PTHREAD_CANCELED ? "cancelled" : "not cancelled");
    return 0;
}
"#;

const LOCALE_C: &str = r#"
#include <locale.h>
#include <stdio.h>
int main(void) {
    const char *l = setlocale(LC_ALL, "C.UTF-8");
    puts(l ? l : "NULL");
    return l ? 0 : 1;
}
"#;

const DLOPEN_LITERAL_C: &str = r#"
#include <dlfcn.h>
#include <stdio.h>
int main(void) {
    void *h = dlopen("libz.so.1", RTLD_NOW);
    if (!h) { puts(dlerror()); return 1; }
    const char *(*v)(void) = (const char *(*)(void))dlsym(h, "zlibVersion");
    printf("zlib %s\n", v());
    return 0;
}
"#;

/// The soname is built at run time, so no string literal names it: only the note does.
const DLOPEN_NOTE_C: &str = r#"
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    (void)argv;
    char name[16] = {'l', 'i', 'b', 'z', '.', 's', 'o', '.', '0' + argc, 0};
    void *h = dlopen(name, RTLD_NOW);
    if (!h) { puts(dlerror()); return 1; }
    puts("loaded");
    return 0;
}
"#;

const NOTE_S: &str = r#"
	.section .note.dlopen,"a",@note
	.balign 4
	.long 2f-1f ; .long 4f-3f ; .long 0x407c0c0a
1:	.asciz "FDO"
2:	.balign 4
3:	.asciz "[{\"soname\":[\"libz.so.1\"],\"feature\":\"compression\",\"priority\":\"recommended\"}]"
4:	.balign 4
	.section .note.GNU-stack,"",@progbits
"#;

#[test]
fn c_programs_iconv_cancel_locale() {
    require_root!();
    let (_d, exe) = cc("iconv16", ICONV_C, &[], &[]);
    let img = Image::build(&[exe.to_str().unwrap()]);
    let o = img.run(&[exe.to_str().unwrap()], &[]);
    assert_ok(&o, "iconv_open(UTF-16)");
    assert_eq!(stdout(&o).trim(), "10", "BOM + 4 UTF-16 units");

    let (_d, exe) = cc("cancel", CANCEL_C, &[], &["-pthread"]);
    let img = Image::build(&[exe.to_str().unwrap()]);
    let o = img.run(&[exe.to_str().unwrap()], &[]);
    assert_ok(&o, "pthread_cancel");
    assert_eq!(stdout(&o).trim(), "cancelled");
    let bare = Image::build(&[exe.to_str().unwrap(), "--runtime", "none"]);
    let o = bare.run(&[exe.to_str().unwrap()], &[]);
    assert_ne!(o.status.code(), Some(0), "without libgcc_s the cancel aborts: {}", text(&o));

    let (_d, exe) = cc("locale", LOCALE_C, &[], &[]);
    let img = Image::build(&[exe.to_str().unwrap()]);
    let o = img.run(&[exe.to_str().unwrap()], &[]);
    assert_ok(&o, "setlocale");
    assert_eq!(stdout(&o).trim(), "C.UTF-8");
}

#[test]
fn dlopen_by_string_literal_and_by_note() {
    require_root!();
    require("/usr/lib/x86_64-linux-gnu/libz.so.1", "zlib1g");
    let (_d, exe) = cc("dlz", DLOPEN_LITERAL_C, &[], &["-ldl"]);
    let e = exe.to_str().unwrap();
    let img = Image::build(&[e]);
    let o = img.run(&[e], &[]);
    assert_ok(&o, "dlopen(\"libz.so.1\")");
    assert!(stdout(&o).starts_with("zlib "), "{}", text(&o));
    let img = Image::build(&[e, "--dlopen", "notes"]);
    assert!(!img.has("/usr/lib/x86_64-linux-gnu/libz.so.1"), "--dlopen notes ignores literals");

    let (_d, exe) = cc("dlnote", DLOPEN_NOTE_C, &[("note.S", NOTE_S)], &["-ldl"]);
    let e = exe.to_str().unwrap();
    let img = Image::build(&[e, "--dlopen", "notes"]);
    let o = img.run(&[e], &[]);
    assert_ok(&o, "dlopen by note");
    assert_eq!(stdout(&o).trim(), "loaded");
    let bare = Image::build(&[e, "--without", "dlopen"]);
    let o = bare.run(&[e], &[]);
    assert_ne!(o.status.code(), Some(0), "without the note's library: {}", text(&o));
}

#[test]
fn python_users_hosts_tls_zoneinfo_locale() {
    require_root!();
    require("/usr/bin/python3.11", "python3");
    let img = Image::build(&["/usr/bin/python3.11", "--add", "/usr/lib/python3.11"]);
    let script = r#"
import pwd, socket, ssl, zoneinfo, locale
print(pwd.getpwuid(0).pw_name)
print(len(socket.getaddrinfo('localhost', 80)) > 0)
print(ssl.create_default_context().cert_store_stats()['x509'] > 0)
print(zoneinfo.ZoneInfo('Europe/Paris').key)
print(locale.setlocale(locale.LC_ALL, 'C.UTF-8'))
"#;
    let o = img.run(&["/usr/bin/python3.11", "-c", script], &[]);
    assert_ok(&o, "python");
    assert_eq!(stdout(&o), "root\nTrue\nTrue\nEurope/Paris\nC.UTF-8\n", "{}", text(&o));
}

/// A TLS server on 127.0.0.1 with a self-signed certificate; killed on drop.
/// The server, its port, and the directory of its key and certificate (kept while it runs).
struct TlsServer(Child, u16, #[allow(dead_code)] tempfile::TempDir);

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tls_server() -> TlsServer {
    let d = tempfile::tempdir().unwrap();
    let (key, cert) = (d.path().join("k.pem"), d.path().join("c.pem"));
    let o = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(o.status.success(), "openssl req: {}", text(&o));
    // A free port, then s_server on it: another process may take the port in between, so
    // a server that exits (the port was taken) is retried on a fresh port, and the server
    // is ready only when it answers and is still running (not someone else's listener).
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-www", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break; // exited: the port was taken
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && child.try_wait().unwrap().is_none() {
                return TlsServer(child, port, d);
            }
            assert!(start.elapsed() < Duration::from_secs(60), "s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("s_server could not bind a free port in five tries");
}

#[test]
fn curl_finds_its_ca_bundle_and_openssl_verifies() {
    require_root!();
    require("/usr/bin/curl", "curl");
    require("/usr/bin/openssl", "openssl");
    let server = tls_server();
    let url = format!("https://127.0.0.1:{}/", server.1);
    let img = Image::build(&["/usr/bin/curl"]);
    let o = img.run(&["/usr/bin/curl", "-sS", "-o", "/dev/null", &url], &[]);
    assert_eq!(o.status.code(), Some(60), "an untrusted certificate, not a missing CA file: {}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("certificate"), "{}", text(&o));
    let bare = Image::build(&["/usr/bin/curl", "--runtime", "none"]);
    let o = bare.run(&["/usr/bin/curl", "-sS", "-o", "/dev/null", &url], &[]);
    assert_eq!(o.status.code(), Some(77), "the bare closure has no CA file: {}", text(&o));

    let img = Image::build(&["/usr/bin/openssl"]);
    let ca = fs::read_dir("/usr/share/ca-certificates/mozilla")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "crt"))
        .expect("a CA certificate");
    let o = img.run(&["/usr/bin/openssl", "verify", ca.to_str().unwrap()], &[]);
    assert_ok(&o, "openssl verify");
    assert!(stdout(&o).trim_end().ends_with(": OK"), "{}", text(&o));
}

#[test]
fn imagemagick_converts_png() {
    require_root!();
    require("/usr/bin/convert-im6.q16", "imagemagick");
    let png = Command::new("convert-im6.q16").args(["-size", "3x2", "xc:red", "png:-"]).output().unwrap();
    assert_ok(&png, "convert on the host");
    let img = Image::build(&["/usr/bin/convert-im6.q16"]);
    let o = img.run_as(None, &["/usr/bin/convert-im6.q16", "png:-", "ppm:-"], &[], Some(&png.stdout));
    assert_ok(&o, "convert png:- ppm:-");
    assert!(o.stdout.starts_with(b"P6\n3 2\n"), "{}", text(&o));
}

#[test]
fn shell_scripts_bring_their_interpreter() {
    require_root!();
    let d = tempfile::Builder::new().prefix("rt-script").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let script = d.path().join("hello.sh");
    fs::write(&script, "#!/bin/sh\necho hello from $0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let s = script.to_str().unwrap();
    let img = Image::build(&[s]);
    let o = img.run(&[s], &[]);
    assert_ok(&o, "script");
    assert_eq!(stdout(&o).trim(), format!("hello from {s}"));
}

#[test]
fn redis_answers_ping_in_a_working_image() {
    require_root!();
    require("/usr/bin/redis-server", "redis-server");
    require("/usr/bin/redis-cli", "redis-tools");
    let img = Image::build(&["/usr/bin/redis-server"]);
    let sock = "/tmp/redis.sock";
    let mut c = chroot_cmd();
    c.arg(&img.root)
        .args(["/usr/bin/redis-server", "--port", "0", "--unixsocket", sock, "--save", "", "--daemonize", "no"])
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut server = c.spawn().unwrap();
    let host_sock = img.root.join(sock.trim_start_matches('/'));
    let start = Instant::now();
    let mut last = String::new();
    // A unix socket, no TCP port (`--port 0`); polled for up to a minute on a shared machine.
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(st)) = server.try_wait() {
            panic!("redis-server exited: {st}");
        }
        if host_sock.exists() {
            let o = Command::new("redis-cli").arg("-s").arg(&host_sock).arg("ping").output().unwrap();
            if stdout(&o).trim() == "PONG" {
                let _ = server.kill();
                let _ = server.wait();
                return;
            }
            last = text(&o);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    panic!("no PONG: {last}");
}

#[test]
fn missing_library_writes_no_rootfs_unless_allowed() {
    if common::hermetic_skip("patchelf") {
        return;
    }
    let d = tempfile::Builder::new().prefix("rt-miss").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let exe = d.path().join("needs-missing");
    fs::copy("/bin/true", &exe).unwrap();
    let st = Command::new("patchelf").arg("--add-needed").arg("libnotthere.so.1").arg(&exe).status().unwrap();
    assert!(st.success(), "patchelf");
    let tar = d.path().join("out.tar");
    let o = cli().arg(&exe).arg("--tar").arg(&tar).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("libnotthere.so.1: not found"), "{err}");
    assert!(err.contains("no rootfs written"), "{err}");
    let left: Vec<_> = fs::read_dir(d.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("needs-missing")], "nothing is left behind");
    let manifest = d.path().join("m.json");
    let o = cli()
        .arg(&exe)
        .arg("--tar")
        .arg(&tar)
        .arg("--manifest")
        .arg(&manifest)
        .arg("--allow-missing")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("libnotthere.so.1: not found"));
    assert!(tar.exists() && manifest.exists());
    let m = fs::read_to_string(&manifest).unwrap();
    assert!(m.contains("libnotthere.so.1"), "the manifest lists the miss: {m}");
}

#[test]
fn required_dlopen_note_not_found_is_a_miss() {
    const REQ_S: &str = r#"
	.section .note.dlopen,"a",@note
	.balign 4
	.long 2f-1f ; .long 4f-3f ; .long 0x407c0c0a
1:	.asciz "FDO"
2:	.balign 4
3:	.asciz "[{\"soname\":[\"libnotthere.so.7\",\"libnotthere.so.6\"],\"priority\":\"required\"}]"
4:	.balign 4
	.section .note.GNU-stack,"",@progbits
"#;
    let (d, exe) = cc("req", "int main(void) { return 0; }\n", &[("req.S", REQ_S)], &[]);
    let tar = d.path().join("out.tar");
    let o = cli().arg(&exe).arg("--tar").arg(&tar).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("libnotthere.so.7 or libnotthere.so.6"), "{}", text(&o));
    assert!(!tar.exists());
}

#[test]
fn manifest_names_the_evidence_and_runtime_none_is_the_bare_closure() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m.json");
    let o = cli().args(["/usr/bin/id", "--manifest"]).arg(&m).output().unwrap();
    assert_ok(&o, "manifest");
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(&m).unwrap()).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    let passwd = entries.iter().find(|e| e["path"] == "/etc/passwd").expect("/etc/passwd");
    let r = &passwd["reasons"][0];
    assert_eq!(r["kind"], "runtime");
    assert_eq!(r["pack"], "users");
    assert_eq!(r["seen"], "symbol");
    assert!(r["symbol"].as_str().unwrap().starts_with("getpw"), "{r}");
    // Every entry the runtime packs add carries its evidence.
    for e in entries {
        let reasons = e["reasons"].as_array().unwrap();
        assert!(!reasons.is_empty(), "{e}");
    }
    // --runtime none: exactly the plain closure plan.
    let a = d.path().join("a.tar");
    let o = cli().args(["/usr/bin/id", "--runtime", "none", "--tar"]).arg(&a).output().unwrap();
    assert_ok(&o, "runtime none");
    let list = Command::new("tar").arg("tf").arg(&a).output().unwrap();
    let names = stdout(&list);
    assert!(!names.contains("etc/passwd") && !names.contains("tmp/"), "{names}");
}

#[test]
fn file_capabilities_are_kept_in_the_archive_the_directory_and_the_manifest() {
    require_root!();
    let d = tempfile::Builder::new().prefix("rt-caps").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let prog = d.path().join("pinger");
    fs::copy("/usr/bin/id", &prog).unwrap();
    let o =
        Command::new("setcap").arg("cap_net_raw+ep").arg(&prog).output().expect("setcap (apt-get install libcap2-bin)");
    assert_ok(&o, "setcap");
    let (tar, dir, manifest) = (d.path().join("r.tar"), d.path().join("dir"), d.path().join("m.json"));
    let o = cli()
        .arg(&prog)
        .arg("--tar")
        .arg(&tar)
        .arg("--dir")
        .arg(&dir)
        .arg("--manifest")
        .arg(&manifest)
        .output()
        .unwrap();
    assert_ok(&o, "depclose-cli");
    let in_image = prog.strip_prefix("/").unwrap();
    // The archive, unpacked by GNU tar with its xattrs.
    let x = d.path().join("x");
    fs::create_dir(&x).unwrap();
    let o = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "-xpf"])
        .arg(&tar)
        .arg("-C")
        .arg(&x)
        .output()
        .unwrap();
    assert_ok(&o, "tar -x --xattrs");
    for root in [&x, &dir] {
        let o = Command::new("getcap").arg(root.join(in_image)).output().unwrap();
        assert!(stdout(&o).contains("cap_net_raw=ep"), "{}: {}", root.display(), text(&o));
    }
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    let e = doc["entries"].as_array().unwrap().iter().find(|e| e["path"] == prog.to_str().unwrap()).unwrap();
    assert!(e["xattrs"]["security.capability"].as_str().is_some_and(|v| !v.is_empty()), "{e}");
}

/// Strings are evidence in the objects a program loads at start-up, not in the objects that
/// are there on a string's word: a plugin's own strings bring no further plugins or data. A
/// directory of programs is not data, and the host's variable state under `/var` is never
/// shipped.
#[test]
fn strings_of_a_plugin_bring_nothing_more() {
    let t = tempfile::Builder::new().prefix("rt-guess").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let t = fs::canonicalize(t.path()).unwrap();
    let at = |p: &str| format!("{}/{p}", t.display());
    for d in ["plugins", "plugins2", "share", "share2", "programs"] {
        fs::create_dir_all(at(d)).unwrap();
    }
    fs::write(at("share/data.txt"), "named by the plugin only\n").unwrap();
    fs::write(at("share2/data2.txt"), "named by the program\n").unwrap();
    fs::copy("/usr/bin/true", at("programs/true")).unwrap();
    let so = |name: &str, src: String| {
        let c = t.join(format!("{name}.c"));
        fs::write(&c, src).unwrap();
        let o = Command::new("gcc")
            .args(["-O1", "-shared", "-fPIC", "-o"])
            .arg(at(name))
            .arg(&c)
            .arg("-ldl")
            .output()
            .unwrap();
        assert!(o.status.success(), "gcc {name}: {}", text(&o));
    };
    // A plugin of the program that loads plugins of its own and names a data file.
    so(
        "plugins/p.so",
        format!(
            "#include <dlfcn.h>\nconst char *more = \"{}\";\nconst char *data = \"{}\";\nvoid *p(void) {{ return dlopen(more, 0); }}\n",
            at("plugins2"),
            at("share/data.txt")
        ),
    );
    so("plugins2/q.so", "int q(void) { return 1; }\n".to_string());
    let main = format!(
        "#include <dlfcn.h>\n#include <stdio.h>\nconst char *dir = \"{}\";\nconst char *data = \"{}\";\n\
         const char *progs = \"{}\";\nconst char *state = \"/var/lib/dpkg/status\";\n\
         int main(void) {{ printf(\"%s %s %s %s\\n\", dir, data, progs, state); return dlopen(dir, 0) != 0; }}\n",
        at("plugins"),
        at("share2/data2.txt"),
        at("programs")
    );
    let (_d, exe) = cc("guess", &main, &[], &["-ldl"]);
    let o = cli().arg(&exe).arg("--dry-run").output().unwrap();
    assert_ok(&o, "--dry-run");
    let plan = stdout(&o);
    let has = |p: &str| plan.lines().any(|l| l.split('\t').nth(2) == Some(p));
    assert!(has(&at("plugins/p.so")), "the program's plugin directory: {plan}");
    assert!(has(&at("share2/data2.txt")), "the program's data file: {plan}");
    assert!(!has(&at("plugins2/q.so")) && !has(&at("plugins2")), "a plugin's plugins: {plan}");
    assert!(!has(&at("share/data.txt")), "a plugin's data: {plan}");
    assert!(!has(&at("programs/true")) && !has(&at("programs")), "a directory of programs: {plan}");
    assert!(
        text(&o).contains(&format!("names the directory {}, which holds programs", at("programs"))),
        "{}",
        text(&o)
    );
    assert!(!has("/var/lib/dpkg/status") && !plan.contains("\t/var/lib/"), "host state: {plan}");
}
