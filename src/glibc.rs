//! glibc loader model (placeholder).
