use super::*;

#[test]
fn policies_parse_as_auditwheel_splits_versions() {
    let p: VersionPolicy = "glibc<=2.28".parse().unwrap();
    assert_eq!((p.prefix.as_str(), &p.max[..]), ("GLIBC", &[2, 28][..]));
    assert_eq!(p.to_string(), "GLIBC<=2.28");
    let p: VersionPolicy = " GLIBCXX <= 3.4.25 ".parse().unwrap();
    assert_eq!((p.prefix.as_str(), &p.max[..]), ("GLIBCXX", &[3, 4, 25][..]));
    for bad in ["glibc=2.28", "<=2.28", "glibc<=", "glibc<=2.x", "GLIBC_2<=3", "glibc<=2..8"] {
        assert!(bad.parse::<VersionPolicy>().is_err(), "{bad:?} accepted");
    }
    assert_eq!(split_version(b"GLIBC_2.34"), Some(("GLIBC".into(), vec![2, 34])));
    assert_eq!(split_version(b"CXXABI_1.3.13"), Some(("CXXABI".into(), vec![1, 3, 13])));
    assert_eq!(split_version(b"GLIBC_PRIVATE"), None);
    assert_eq!(split_version(b"libc.so.6"), None);
    // Numeric, not textual, comparison: 2.9 < 2.28.
    assert!(split_version(b"GLIBC_2.9").unwrap().1 < split_version(b"GLIBC_2.28").unwrap().1);
}

fn req(version: &str, within_family: bool) -> Requirement {
    Requirement {
        version: Bytes::from(version),
        file: Bytes::from("libc.so.6"),
        provider: Some(1),
        required_by: 0,
        weak: false,
        within_family,
        symbols: vec![Bytes::from("sym")].into(),
    }
}

#[test]
fn summaries_and_policies_take_the_highest_version_per_prefix() {
    let report = SymbolReport {
        required: vec![
            req("GLIBC_2.2.5", false),
            req("GLIBC_2.34", false),
            req("GLIBC_2.28", false),
            req("GLIBC_2.35", true),
            req("GLIBC_PRIVATE", false),
            req("GLIBCXX_3.4.30", false),
        ],
        ..SymbolReport::default()
    };
    let needs: Vec<String> = report.highest_versions().iter().map(|b| b.to_string()).collect();
    assert_eq!(needs, ["GLIBC_2.34", "GLIBCXX_3.4.30"]);
    let policy = |s: &str| vec![s.parse::<VersionPolicy>().unwrap()];
    let over: Vec<String> = report.exceeding(&policy("glibc<=2.28")).iter().map(|r| r.version.to_string()).collect();
    assert_eq!(over, ["GLIBC_2.34"]);
    assert!(report.exceeding(&policy("glibc<=2.34")).is_empty());
    assert!(report.exceeding(&policy("GCC<=1.0")).is_empty());
    assert_eq!(report.exceeding(&policy("glibcxx<=3.4.29")).len(), 1);
    assert_eq!(report.versions_required_of(1).len(), 6);
}

#[test]
fn relocation_classes_of_the_modelled_machines() {
    use crate::elf::{EM_386, EM_AARCH64, EM_S390, EM_X86_64};
    // NONE and RELATIVE look nothing up; COPY and the PLT class are told apart.
    assert_eq!(reloc_class(EM_X86_64, 0), None);
    assert_eq!(reloc_class(EM_X86_64, 8), None);
    assert_eq!(reloc_class(EM_X86_64, 5), Some(CLASS_COPY));
    assert_eq!(reloc_class(EM_X86_64, 7), Some(CLASS_PLT));
    assert_eq!(reloc_class(EM_X86_64, 6), Some(0));
    assert_eq!(reloc_class(EM_386, 8), None);
    assert_eq!(reloc_class(EM_AARCH64, 1026), Some(CLASS_PLT));
    assert_eq!(reloc_class(EM_S390, 11), Some(CLASS_PLT));
    assert_eq!(reloc_class(EM_S390, 9), Some(CLASS_COPY));
}

#[test]
fn relocation_classes_match_the_per_machine_lists() {
    use crate::elf::{EM_386, EM_AARCH64, EM_S390, EM_X86_64};
    // The lists the match was made from: (relative types, COPY, PLT-class types).
    let lists = |machine: u16| -> (&[u32], u32, &[u32]) {
        match machine {
            EM_X86_64 => (&[8, 38], 5, &[7, 16, 17, 18, 36]),
            EM_386 => (&[8], 5, &[7, 14, 35, 36, 37, 41]),
            EM_AARCH64 => (&[1027], 1024, &[1026, 1028, 1029, 1030, 1031]),
            EM_S390 => (&[12], 9, &[11, 54, 55, 56]),
            _ => (&[], u32::MAX, &[]),
        }
    };
    for machine in [EM_X86_64, EM_386, EM_AARCH64, EM_S390, 0, 8, 40, 243] {
        let (relative, copy, plt) = lists(machine);
        for kind in (0..1100).chain([u32::MAX - 1, u32::MAX]) {
            let want = if kind == 0 || relative.contains(&kind) {
                None
            } else if kind == copy {
                Some(CLASS_COPY)
            } else if plt.contains(&kind) {
                Some(CLASS_PLT)
            } else {
                Some(0)
            };
            assert_eq!(reloc_class(machine, kind), want, "machine {machine} type {kind}");
        }
    }
}
