//! mspbridge store.
