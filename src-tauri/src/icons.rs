//! The icons, embedded: drawn by `scripts/make-icons` into the repository's `icons/` folder as
//! 8-bit RGBA PNGs (what Tauri's image loader and `generate_context!` require).

use crate::model::Health;

/// The tray icon for a health state.
pub fn tray_png(health: Health) -> &'static [u8] {
    match health {
        Health::Ok => include_bytes!("../../icons/tray-ok.png"),
        Health::Busy => include_bytes!("../../icons/tray-busy.png"),
        Health::Failed => include_bytes!("../../icons/tray-failed.png"),
        Health::Empty => include_bytes!("../../icons/tray-empty.png"),
    }
}

/// Width, height, bit depth and colour type from a PNG's IHDR chunk, if it is a PNG.
pub fn png_header(bytes: &[u8]) -> Option<(u32, u32, u8, u8)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 29 || &bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    Some((be(16), be(20), bytes[24], bytes[25]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Health; 4] = [Health::Ok, Health::Busy, Health::Failed, Health::Empty];
    /// PNG colour type 6: RGBA.
    const RGBA: u8 = 6;

    #[test]
    fn every_tray_icon_is_a_square_8_bit_rgba_png() {
        for health in ALL {
            let (w, h, depth, colour) = png_header(tray_png(health)).expect("a PNG");
            assert_eq!((w, h, depth, colour), (64, 64, 8, RGBA), "{health:?}");
        }
    }

    #[test]
    fn each_health_state_has_its_own_image() {
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert_ne!(tray_png(*a), tray_png(*b), "{a:?} and {b:?} look the same");
            }
        }
    }

    #[test]
    fn the_app_icons_tauri_embeds_are_8_bit_rgba() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../icons");
        for name in ["32x32.png", "128x128.png", "256x256.png", "icon.png"] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let (w, h, depth, colour) = png_header(&bytes).expect(name);
            assert_eq!((depth, colour), (8, RGBA), "{name}");
            assert_eq!(w, h, "{name}");
        }
    }
}
