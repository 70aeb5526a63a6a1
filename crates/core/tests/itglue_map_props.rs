//! Properties of MAC normalisation: every common way of writing the same six bytes normalises to
//! the same 12 hex digits, and nothing that is not six bytes ever normalises.

use mspbridge_core::itglue_map::normalize_mac;
use proptest::prelude::*;

fn render(bytes: &[u8; 6], style: u8, upper: bool) -> String {
    let hex: Vec<String> = bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect();
    match style % 4 {
        0 => hex.join(":"),
        1 => hex.join("-"),
        2 => hex.concat(),
        _ => {
            let all = hex.concat();
            format!("{}.{}.{}", &all[0..4], &all[4..8], &all[8..12])
        }
    }
}

proptest! {
    #[test]
    fn every_rendering_of_six_bytes_normalises_alike(bytes in any::<[u8; 6]>(), a in 0u8..4, b in 0u8..4, upper in any::<bool>()) {
        let placeholder = bytes == [0; 6] || bytes == [0xff; 6];
        let first = normalize_mac(&render(&bytes, a, upper));
        let second = normalize_mac(&render(&bytes, b, !upper));
        prop_assert_eq!(&first, &second);
        if placeholder {
            prop_assert!(first.is_none());
        } else {
            let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(first, Some(expected));
        }
    }

    #[test]
    fn wrong_lengths_never_normalise(digits in "[0-9a-f]{0,20}") {
        prop_assume!(digits.len() != 12);
        prop_assert!(normalize_mac(&digits).is_none());
    }
}
