//! Target profile: what the loader of one input looks like (placeholder).
