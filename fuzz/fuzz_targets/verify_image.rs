#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    depclose_fuzz::verify_image(data);
});
