//! Renders the model's tray (icon, tooltip, menu) with Tauri, and keeps it current.
//!
//! A new menu of the same [`shape`] as the shown one (a count, a pid, the summary, the check
//! mark changed) is applied in place, item by item, so an open menu stays open and nothing
//! flickers; a different shape (a server added or removed, an error line appearing) or a new
//! submenu title (a server's state) is rebuilt.

use std::collections::HashMap;

use switchboard_app::icons;
use switchboard_app::model::{escape_access_keys, shape, Entry, Health, Snapshot};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Wry};

/// The tray icon's id (Tauri's, and on Linux part of its StatusNotifierItem's D-Bus path).
pub const TRAY_ID: &str = "switchboard";

/// The tray as shown: the icon, and handles to the menu's items for in-place updates.
pub struct Tray {
    icon: TrayIcon,
    health: Health,
    tooltip: String,
    menu: Vec<Entry>,
    items: HashMap<String, Item>,
}

enum Item {
    Normal(MenuItem<Wry>),
    Check(CheckMenuItem<Wry>),
}

impl Tray {
    pub fn install(app: &AppHandle, snapshot: &Snapshot) -> tauri::Result<Self> {
        let health = snapshot.health();
        let tooltip = snapshot.tooltip();
        let entries = snapshot.menu();
        let (menu, items) = build_menu(app, &entries)?;
        let icon = TrayIconBuilder::with_id(TRAY_ID)
            .icon(image(health)?)
            .tooltip(&tooltip)
            .menu(&menu)
            .show_menu_on_left_click(true)
            .on_menu_event(|app, event| crate::shell::perform(app, event.id().as_ref()))
            .build(app)?;
        Ok(Self {
            icon,
            health,
            tooltip,
            menu: entries,
            items,
        })
    }

    /// Shows `snapshot`, changing only what differs from what is shown.
    pub fn update(&mut self, app: &AppHandle, snapshot: &Snapshot) -> tauri::Result<()> {
        let health = snapshot.health();
        if health != self.health {
            tracing::debug!(?health, "tray icon");
            self.icon.set_icon(Some(image(health)?))?;
            self.health = health;
        }
        let tooltip = snapshot.tooltip();
        if tooltip != self.tooltip {
            self.icon.set_tooltip(Some(&tooltip))?;
            self.tooltip = tooltip;
        }
        let entries = snapshot.menu();
        if entries == self.menu {
            return sync_checks(&self.items, &entries);
        }
        if shape(&entries) == shape(&self.menu)
            && submenu_titles(&entries) == submenu_titles(&self.menu)
        {
            update_in_place(&self.items, &self.menu, &entries)?;
            sync_checks(&self.items, &entries)?;
        } else {
            let (menu, items) = build_menu(app, &entries)?;
            self.icon.set_menu(Some(menu))?;
            self.items = items;
        }
        self.menu = entries;
        Ok(())
    }
}

/// Hides the tray icon (at quit, before the servers are stopped).
pub fn hide(app: &AppHandle) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_visible(false);
    }
}

/// A submenu's own label cannot be changed in place on Linux (muda's GTK submenu item holds a
/// box, not a label, so `set_text` does not reach the exported menu): a new title rebuilds.
fn submenu_titles(entries: &[Entry]) -> Vec<&str> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Submenu { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn image(health: Health) -> tauri::Result<Image<'static>> {
    Image::from_bytes(icons::tray_png(health))
}

fn build_menu(
    app: &AppHandle,
    entries: &[Entry],
) -> tauri::Result<(Menu<Wry>, HashMap<String, Item>)> {
    let menu = Menu::new(app)?;
    let mut items = HashMap::new();
    for entry in entries {
        let item = build_entry(app, entry, &mut items)?;
        menu.append(item.as_ref())?;
    }
    Ok((menu, items))
}

fn build_entry(
    app: &AppHandle,
    entry: &Entry,
    items: &mut HashMap<String, Item>,
) -> tauri::Result<Box<dyn IsMenuItem<Wry>>> {
    Ok(match entry {
        Entry::Item { id, text, enabled } => {
            let item =
                MenuItem::with_id(app, id, escape_access_keys(text), *enabled, None::<&str>)?;
            items.insert(id.clone(), Item::Normal(item.clone()));
            Box::new(item)
        }
        Entry::Check {
            id,
            text,
            enabled,
            checked,
        } => {
            let item = CheckMenuItem::with_id(
                app,
                id,
                escape_access_keys(text),
                *enabled,
                *checked,
                None::<&str>,
            )?;
            items.insert(id.clone(), Item::Check(item.clone()));
            Box::new(item)
        }
        Entry::Submenu { id, text, entries } => {
            let submenu = Submenu::with_id(app, id, escape_access_keys(text), true)?;
            for child in entries {
                let item = build_entry(app, child, items)?;
                submenu.append(item.as_ref())?;
            }
            Box::new(submenu)
        }
        Entry::Separator => Box::new(PredefinedMenuItem::separator(app)?),
    })
}

/// A check item toggles its own mark when clicked; when what the click asked for did not
/// happen (an edit of servers.json refused, autostart not changed), the model did not change
/// and the mark would stay wrong: every mark is set back to the model's.
fn sync_checks(items: &HashMap<String, Item>, entries: &[Entry]) -> tauri::Result<()> {
    for entry in entries {
        match entry {
            Entry::Submenu { entries, .. } => sync_checks(items, entries)?,
            Entry::Check { id, checked, .. } => {
                if let Some(Item::Check(item)) = items.get(id) {
                    if item.is_checked()? != *checked {
                        item.set_checked(*checked)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Applies the differences between two menus of the same shape and submenu titles.
fn update_in_place(
    items: &HashMap<String, Item>,
    old: &[Entry],
    new: &[Entry],
) -> tauri::Result<()> {
    for (old, new) in old.iter().zip(new) {
        if old == new {
            continue;
        }
        if let (Entry::Submenu { entries: was, .. }, Entry::Submenu { entries, .. }) = (old, new) {
            update_in_place(items, was, entries)?;
            continue;
        }
        let Some(item) = new.id().and_then(|id| items.get(id)) else {
            continue;
        };
        match (old, new, item) {
            (
                Entry::Item {
                    text: was,
                    enabled: was_enabled,
                    ..
                },
                Entry::Item { text, enabled, .. },
                Item::Normal(item),
            ) => {
                if was != text {
                    item.set_text(escape_access_keys(text))?;
                }
                if was_enabled != enabled {
                    item.set_enabled(*enabled)?;
                }
            }
            (
                _,
                Entry::Check {
                    text,
                    enabled,
                    checked,
                    ..
                },
                Item::Check(item),
            ) => {
                item.set_text(escape_access_keys(text))?;
                item.set_enabled(*enabled)?;
                item.set_checked(*checked)?;
            }
            _ => {}
        }
    }
    Ok(())
}
