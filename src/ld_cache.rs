//! `ld.so.cache` reader (placeholder: being written).
