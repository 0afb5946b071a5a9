//! A JSON file store. (Being written: see the file-store task.)

use super::ConfigStore;

/// A [`ConfigStore`] in one JSON file.
#[derive(Debug)]
pub struct FileStore {
    _private: (),
}

#[allow(dead_code)]
fn _assert_object_safe(_: &dyn ConfigStore) {}
