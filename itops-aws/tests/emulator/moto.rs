//! The emulator for these tests: one moto server per test binary (see
//! `itops_aws::testing`). The tests are never skipped: without the emulator they fail
//! saying what to do.

use itops_aws::AwsSettings;

/// Emulator settings (fixed region, dummy credentials).
pub(crate) fn settings() -> AwsSettings {
    match itops_aws::testing::moto_settings() {
        Ok(settings) => settings,
        Err(message) => panic!("{message}"),
    }
}
