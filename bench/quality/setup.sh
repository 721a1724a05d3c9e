#!/usr/bin/env bash
# Install the Debian packages of artwork and photographs that the matching-quality
# benchmark draws its images from (bench/quality/dataset.py reads them from
# /usr/share). Needs root (apt-get). Idempotent; run once per machine:
#
#     bash bench/quality/setup.sh
#
# Nothing is fetched from anywhere else: the images are whatever these packages ship.
set -euo pipefail

PACKAGES=(
    # clip art (PNG renderings of the Open Clip Art Library, many recoloured copies)
    openclipart-png
    # game artwork: paintings, renders, photographs (wesnoth-1.16-data and
    # tuxpaint-stamps-default left for the descriptor's held-out set,
    # training/packages.py)
    endless-sky-data
    stellarium-data
    naev-data
    freedroidrpg-data
    hedgewars-data
    kstars-data
    flare-game
    megaglest-data
    # desktop wallpapers: photographs and digital art
    gnome-backgrounds
    desktop-base
    mate-backgrounds
    plasma-workspace-wallpapers
    sway-backgrounds
    ukui-wallpapers
    lomiri-wallpapers
    lomiri-wallpapers-16.04
    lomiri-wallpapers-20.04
    debian-edu-artwork-emerald
    debian-edu-artwork-spacefun
    debian-edu-artwork-softwaves
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
printf '%s\n' "${PACKAGES[@]}"
