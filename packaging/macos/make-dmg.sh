#!/bin/sh
# Wrap "dist/Seller Notifier.app" (from `python -m packaging_tools.build` on
# macOS: the spec's BUNDLE step) in a compressed disk image with the usual
# drag-to-Applications link:
#
#   sh packaging/macos/make-dmg.sh        # -> dist/seller-notifier-<version>-macos-<arch>.dmg
#
# The app is only ad-hoc signed (PyInstaller does that on Apple Silicon); with
# no Developer ID it is neither signed for distribution nor notarized, so
# Gatekeeper asks the user to confirm the first launch (Finder: Control-click,
# Open). Set CODESIGN_IDENTITY to sign with a real identity first.
#
# Untested here (no macOS machine in the team's environment): the release
# workflow (.github/workflows/release.yml) runs it on macos-14.
set -eu

cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
APP="dist/Seller Notifier.app"
VERSION=$("$PYTHON" -c 'import app; print(app.__version__)')
ARCH=$(uname -m)
DMG="dist/seller-notifier-$VERSION-macos-$ARCH.dmg"

if [ ! -d "$APP" ]; then
    echo "make-dmg.sh: $APP not found: run python -m packaging_tools.build first" >&2
    exit 1
fi

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --deep --options runtime --sign "$CODESIGN_IDENTITY" "$APP"
fi

STAGING=$(mktemp -d)
trap 'rm -rf "$STAGING"' EXIT
cp -R "$APP" "$STAGING/"
ln -s /Applications "$STAGING/Applications"

rm -f "$DMG"
hdiutil create -volname "Seller Notifier" -srcfolder "$STAGING" -fs HFS+ \
    -format UDZO -imagekey zlib-level=9 -ov "$DMG"
echo "$DMG"
