//! `ld.so.conf` reader (placeholder: being written).
