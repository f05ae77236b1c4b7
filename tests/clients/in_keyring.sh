#!/usr/bin/env bash
# Runs "$@" with a real, unlocked OS keychain: a gnome-keyring-daemon (Secret Service) in the
# D-Bus session this is started in (`dbus-run-session -- bash in_keyring.sh CMD...`), with a
# fresh login keyring in a temporary HOME, removed afterwards.
set -euo pipefail
HOME="$(mktemp -d)"
export HOME
trap 'rm -rf "$HOME"' EXIT
eval "$(printf 'switchboard-test' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
"$@"
