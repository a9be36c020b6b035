//! `depclose::ld_so_conf` against ldconfig's parsing rules and against the real
//! `ldconfig -r ROOT -v -N -X` run on the same tree.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use depclose::ld_so_conf::{directories, directories_with_system, parse, Directive, MAX_INCLUDE_DEPTH};
use depclose::root::Root;
use depclose::Bytes;

fn dir(s: &str) -> Directive {
    Directive::Dir(Bytes::from(s))
}

fn inc(pats: &[&str]) -> Directive {
    Directive::Include(pats.iter().map(|p| Bytes::from(*p)).collect())
}

fn strs(v: &[Bytes]) -> Vec<String> {
    v.iter().map(|b| b.to_string()).collect()
}

#[test]
fn parse_follows_ldconfig_line_rules() {
    let text: &[u8] = b"# comment\n\
        \n   \t\n\
        /usr/lib\n\
        \t /opt/x/  \n\
        /a//=libc6\n\
        /b = libc5\n\
        /c=weird=x\n\
        =libc6\n\
        /\n\
        ///\n\
        include a.conf b/*.conf\n\
        include\tc.conf\n\
        include\n\
        include_x\n\
        includes.conf\n\
        HWCAP 1 nosegneg\n\
        hwcap\thello\n\
        hwcap\n\
        hwcapx 1\n\
        /d # trailing comment\n\
        /e\r\n\
        /f\0/g\n\
        /h/ /\n \
        include  x.conf\r\n\
        include \t \n\
        /i\x0b\n\
        #/commented\n\
        /j#x\n\
        /last-line-without-newline";
    let want = vec![
        dir("/usr/lib"),
        dir("/opt/x"),
        dir("/a"),
        dir("/b"),
        dir("/c"),
        inc(&["a.conf", "b/*.conf"]),
        inc(&["c.conf"]),
        dir("include"),
        dir("include_x"),
        dir("includes.conf"),
        dir("hwcap"),
        dir("hwcapx 1"),
        dir("/d"),
        dir("/e"),
        dir("/f"),
        dir("/h/ "),
        inc(&["x.conf\r"]),
        dir("/i"),
        dir("/j"),
        dir("/last-line-without-newline"),
    ];
    assert_eq!(parse(text), want);
    assert_eq!(parse(b""), vec![]);
    assert_eq!(parse(b"\n\n#\n"), vec![]);
    assert_eq!(parse(b"\xff\xfe/\n"), vec![Directive::Dir(Bytes::from(b"\xff\xfe".to_vec()))]);
}

fn ldconfig() -> Option<PathBuf> {
    ["/sbin/ldconfig", "/usr/sbin/ldconfig"].iter().map(PathBuf::from).find(|p| p.exists())
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn mkdirs(root: &Path, rels: &[&str]) {
    for r in rels {
        fs::create_dir_all(root.join(r)).unwrap();
    }
}

/// The directories `ldconfig -v` reports, in order: `PATH: (from FILE:LINE)` lines,
/// without glibc-hwcaps / legacy hwcap subdirectories; with or without the built-in ones.
fn ldconfig_dirs(ldconfig: &Path, root: &Path, builtin: bool) -> Vec<String> {
    let out = Command::new(ldconfig).arg("-r").arg(root).args(["-v", "-N", "-X"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut dirs = Vec::new();
    for line in text.lines() {
        if line.starts_with('\t') || line.is_empty() {
            continue;
        }
        let Some(at) = line.rfind(" (from ") else { continue };
        let (head, from) = line.split_at(at);
        if head.contains("(hwcap:") || (!builtin && from.starts_with(" (from <builtin>")) {
            continue;
        }
        dirs.push(head.trim_end_matches(':').to_string());
    }
    dirs
}

/// A tree exercising includes: relative and absolute globs, an absolute symlink (to be
/// re-rooted), a relative symlink escaping upwards, a self-include cycle, hidden and
/// non-matching files, a directory named like a conf file, duplicates by inode.
fn build_tree(r: &Path) {
    write(
        r,
        "etc/ld.so.conf",
        "# top-level\n\
         include ld.so.conf.d/*.conf\n\
         /usr/local/lib   # comment\n\
         \x20  /opt/lib/\n\
         /opt/lib=libc6\n\
         /nonexistent\n\
         /usr/lib/x86_64-linux-gnu\n\
         hwcap 1 foo\n\
         include /etc/self.conf\n\
         include /etc/[0-9]*.conf /etc/nomatch-*.conf /etc/d?.conf\n\
         /e\n\
         /etc/ld.so.conf\n\
         /f/../a\n\
         relative/dir\n\
         /lib/\n",
    );
    write(r, "etc/ld.so.conf.d/10-a.conf", "/a\n/b/\n");
    write(r, "etc/extra/link.conf", "/c\ninclude sub/*.conf\n");
    symlink("/etc/extra/link.conf", r.join("etc/ld.so.conf.d/20-link.conf")).unwrap();
    // Relative includes follow the name the file was found under, not the link target.
    write(r, "etc/ld.so.conf.d/sub/x.conf", "/g\n");
    write(r, "etc/extra/sub/x.conf", "/wrong\n");
    write(r, "etc/ld.so.conf.d/.hidden.conf", "/hidden\n");
    write(r, "etc/ld.so.conf.d/30-notconf.txt", "/notconf\n");
    fs::create_dir_all(r.join("etc/ld.so.conf.d/40-dir.conf")).unwrap();
    symlink("../../../../../../../../../etc/ld.so.conf.d/libc.conf", r.join("etc/ld.so.conf.d/50-escape.conf"))
        .unwrap();
    write(r, "etc/self.conf", "include /etc/self.conf\n/d\n");
    write(r, "etc/5-digits.conf", "/h\n");
    write(r, "etc/dx.conf", "/k\n");
    mkdirs(
        r,
        &[
            "a",
            "b",
            "c",
            "d",
            "f",
            "g",
            "h",
            "k",
            "usr/local/lib",
            "opt/lib",
            "relative/dir",
            "wrong",
            "hidden",
            "notconf",
            "lib",
            "usr/lib",
        ],
    );
    symlink("/a", r.join("e")).unwrap();
}

const EXPECTED: &[&str] = &[
    "/a",
    "/b",
    "/c",
    "/g",
    "/usr/local/lib",
    "/opt/lib",
    "/d",
    "/h",
    "/k",
    "/etc/ld.so.conf",
    "relative/dir",
    "/lib",
];

#[test]
fn directories_follow_includes_inside_the_root() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    build_tree(r);
    let root = Root::new(r).unwrap();
    let got = directories(&root, b"/etc/ld.so.conf");
    assert_eq!(strs(&got), EXPECTED);

    // System directories go last and are de-duplicated with the rest.
    let system: Vec<Bytes> = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"]
        .iter()
        .map(|s| Bytes::from(*s))
        .collect();
    let mut want: Vec<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    want.push("/usr/lib".into());
    assert_eq!(strs(&directories_with_system(&root, b"/etc/ld.so.conf", &system)), want);

    // Missing configuration: nothing.
    assert!(directories(&root, b"/etc/missing.conf").is_empty());
    // A directory named as the configuration: nothing.
    assert!(directories(&root, b"/etc/ld.so.conf.d/40-dir.conf").is_empty());
}

#[test]
fn directories_match_real_ldconfig() {
    let Some(ldconfig) = ldconfig() else {
        eprintln!("note: no ldconfig, skipped");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    build_tree(r);
    let real = ldconfig_dirs(&ldconfig, r, false);
    let root = Root::new(r).unwrap();
    assert_eq!(strs(&directories(&root, b"/etc/ld.so.conf")), real);
    assert_eq!(real, EXPECTED);

    // With the built-in directories this ldconfig appends (the loader's system search
    // path, per Debian's patch), in the same order.
    let help = Command::new("/lib64/ld-linux-x86-64.so.2").arg("--help").output();
    if let Ok(help) = help {
        let system: Vec<Bytes> = String::from_utf8_lossy(&help.stdout)
            .lines()
            .filter_map(|l| l.strip_suffix(" (system search path)"))
            .map(|l| Bytes::from(l.trim()))
            .collect();
        if !system.is_empty() {
            let real = ldconfig_dirs(&ldconfig, r, true);
            assert_eq!(strs(&directories_with_system(&root, b"/etc/ld.so.conf", &system)), real);
        }
    }
}

#[test]
fn include_depth_is_bounded_and_cycles_are_harmless() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let n = 40;
    for i in 0..n {
        write(r, &format!("etc/c{i}.conf"), &format!("/d{i}\ninclude c{}.conf\ninclude /etc/c0.conf\n", i + 1));
        fs::create_dir_all(r.join(format!("d{i}"))).unwrap();
    }
    let root = Root::new(r).unwrap();
    let got = directories(&root, b"/etc/c0.conf");
    let want: Vec<String> = (0..=MAX_INCLUDE_DEPTH).map(|i| format!("/d{i}")).collect();
    assert_eq!(strs(&got), want);

    // Two files including each other, and a glob matching everything including itself.
    write(r, "etc/p.conf", "include q.conf\n/d1\n");
    write(r, "etc/q.conf", "include p.conf\n/d2\ninclude *\n");
    let got = directories(&root, b"/etc/p.conf");
    assert_eq!(strs(&got)[..2], ["/d2", "/d0"]);
}

#[test]
fn glob_details() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(
        r,
        "etc/ld.so.conf",
        "include /etc/g/[!b]*.conf\n\
         include /etc/g/b\\*.conf\n\
         include /etc/*/deep/*.conf\n\
         include /etc/g/.*.conf\n\
         include /etc/g/[[:digit:]].conf\n",
    );
    write(r, "etc/g/a.conf", "/a\n");
    write(r, "etc/g/b.conf", "/b\n");
    write(r, "etc/g/b*.conf", "/star\n");
    write(r, "etc/g/.dot.conf", "/dot\n");
    write(r, "etc/g/7.conf", "/seven\n");
    write(r, "etc/x/deep/z.conf", "/deep\n");
    write(r, "etc/notadir", "x\n");
    mkdirs(r, &["a", "b", "star", "dot", "seven", "deep"]);
    let root = Root::new(r).unwrap();
    assert_eq!(strs(&directories(&root, b"/etc/ld.so.conf")), ["/seven", "/a", "/star", "/deep", "/dot"]);
    if let Some(ldconfig) = ldconfig() {
        assert_eq!(ldconfig_dirs(&ldconfig, r, false), ["/seven", "/a", "/star", "/deep", "/dot"]);
    }
}
