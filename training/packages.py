"""Which Debian packages the descriptor trains on, and which it must never see.

Three disjoint lists (package -> what it is):

- `HELD_OUT`: independent checks of the finished model. Never trained on and
  never used to tune the matching benchmark; training/dataset.py drops every
  training image that comes near one of their images.
- `BENCHMARK`: bench/quality's registered and distractor images (the packages
  bench/quality/setup.sh installs). The model never trains on them either, so
  the benchmark measures it on unseen artwork; near-copies are dropped the same
  way. wesnoth-1.16-data and tuxpaint-stamps-default left the benchmark for
  HELD_OUT.
- `TRAIN`: everything the data set draws from. Debian main only (so free
  licences; each package's copyright file is recorded in training/DATA.md),
  chosen for raster artwork, photographs and textures that no other list has.
  `GLYPH_FONTS` are the font packages whose glyphs are rendered as deliberate
  hard negatives (many near-identical pictures that are not copies).

`NOT_USED` records packages that were looked at and left out, with the reason,
so nobody has to look again.
"""

from __future__ import annotations

HELD_OUT: dict[str, str] = {
    "wesnoth-1.16-data": "Battle for Wesnoth: portraits, story art, unit sprites",
    "tuxpaint-stamps-default": "Tux Paint stamps: drawings and photographs",
    "0ad-data": "0 A.D.: textures, portraits, icons, loading screens",
    "supertuxkart-data": "SuperTuxKart: track textures, karts, icons",
    "warzone2100-data": "Warzone 2100: textures and images (in .wz archives)",
    "widelands-data": "Widelands: animation frames, terrains, portraits",
    "pingus-data": "Pingus: sprites and backgrounds",
    "frogatto-data": "Frogatto: sprites (not in Debian 12 main: nothing to check)",
    "extremetuxracer-data": "Extreme Tux Racer: terrain textures, skyboxes",
    "gcompris-qt-data": "GCompris: activity images (in Qt .rcc resource files)",
}

BENCHMARK: dict[str, str] = {
    "openclipart-png": "clip art (Open Clip Art Library 0.18, PNG)",
    "endless-sky-data": "Endless Sky: landscape photographs, ship/outfit renders",
    "stellarium-data": "Stellarium: nebula photographs, constellation artwork",
    "naev-data": "Naev: portraits, planet and ship renders",
    "freedroidrpg-data": "FreedroidRPG: item and portrait artwork",
    "hedgewars-data": "Hedgewars: theme artwork, maps, forts",
    "kstars-data": "KStars: sky images and interface artwork",
    "flare-game": "Flare: painted portraits, backgrounds, item art",
    "megaglest-data": "MegaGlest: loading screens, unit portraits, textures",
    "gnome-backgrounds": "GNOME wallpapers",
    "desktop-base": "Debian desktop artwork",
    "mate-backgrounds": "MATE wallpapers",
    "plasma-workspace-wallpapers": "KDE Plasma wallpapers",
    "sway-backgrounds": "sway wallpapers",
    "ukui-wallpapers": "UKUI wallpapers",
    "lomiri-wallpapers": "Lomiri wallpapers",
    "lomiri-wallpapers-16.04": "Lomiri wallpapers (Ubuntu Touch 16.04)",
    "lomiri-wallpapers-20.04": "Lomiri wallpapers (Ubuntu Touch 20.04)",
    "debian-edu-artwork-emerald": "Debian Edu artwork",
    "debian-edu-artwork-spacefun": "Debian Edu artwork",
    "debian-edu-artwork-softwaves": "Debian Edu artwork",
}

# Earlier packages win a cross-package duplicate, so photographs and painted
# art come first and icon themes last.
TRAIN: dict[str, str] = {
    # photographs and scans
    "visp-images-data": "ViSP: computer-vision test photographs",
    "kalzium-data": "Kalzium: photographs of the elements",
    "lebiniou-data": "Le Biniou: images for the visualiser",
    "qabcs-data": "qABCs: alphabet drawings and photographs",
    "xplanet-images": "xplanet: Earth, Moon and planet maps",
    "kgeography-data": "KGeography: political maps and flags",
    "python-matplotlib-data": "Matplotlib: sample images",
    # desktop artwork (wallpapers that bench/quality does not use)
    "lxqt-themes": "LXQt: wallpapers and theme artwork",
    "xfdesktop4-data": "Xfce: desktop backgrounds",
    "fluxbox": "Fluxbox: backgrounds",
    "debian-edu-artwork-buster": "Debian Edu artwork (buster theme)",
    "debian-edu-artwork-homeworld": "Debian Edu artwork (homeworld theme)",
    "sddm-theme-debian-elarun": "SDDM login theme (Elarun) backgrounds",
    "sddm-theme-maldives": "SDDM login theme (Maldives) backgrounds",
    "plymouth-themes": "Plymouth boot splash themes",
    # painting and drawing programs: patterns, paper, brush previews
    "krita-data": "Krita: patterns, paper textures, brush tips",
    "mypaint-data": "MyPaint: paper backgrounds, brush previews",
    "gimp-data": "GIMP: splash, patterns and images",
    "tuxpaint-data": "Tux Paint: starters and templates",
    "blender-data": "Blender: matcaps and studio lights",
    "kodi-data": "Kodi: skin artwork",
    # game artwork: textures, sprites, portraits, maps
    "freeorion-data": "FreeOrion: planets, technologies, ship hulls, portraits",
    "redeclipse-data": "Red Eclipse: textures, skyboxes, player art",
    "flightgear-data-base": "FlightGear: terrain, runway and aircraft textures",
    "flightgear-data-ai": "FlightGear: AI aircraft liveries",
    "flightgear-data-models": "FlightGear: scenery model textures",
    "torcs-data": "TORCS: car skins and track textures",
    "ufoai-textures": "UFO: Alien Invasion: textures (in a .pk3 archive)",
    "ufoai-data": "UFO: Alien Invasion: model skins and pictures (.pk3)",
    "nexuiz-textures": "Nexuiz: textures (in a .pk3 archive)",
    "nexuiz-data": "Nexuiz: models, skyboxes, menus (.pk3)",
    "openarena-081-textures": "OpenArena: textures (in a .pk3 archive)",
    "openarena-data": "OpenArena: models, skins, menus (.pk3)",
    "openarena-088-data": "OpenArena 0.8.8 patch: textures (.pk3)",
    "cube2-data": "Cube 2 (Sauerbraten): textures and skyboxes",
    "berusky2-data": "Berusky 2: textures and sprites",
    "trigger-rally-data": "Trigger Rally: terrain and vehicle textures",
    "scorched3d-data": "Scorched 3D: landscape textures, tank skins",
    "neverball-data": "Neverball: textures and backgrounds",
    "lugaru-data": "Lugaru: textures and skins",
    "colobot-common-textures": "Colobot: textures and backgrounds",
    "supertux-data": "SuperTux: sprites, tiles, backgrounds",
    "warmux-data": "Warmux: characters, maps, weapons",
    "fillets-ng-data": "Fish Fillets: painted rooms and objects",
    "freeciv-data": "Freeciv: tilesets, flags, city and unit art",
    "lincity-ng-data": "LinCity-NG: isometric buildings",
    "boswars-data": "Bos Wars: units, buildings, terrain",
    "glob2-data": "Globulation 2: sprites and terrain",
    "enigma-data": "Enigma: tiles and level art",
    "frozen-bubble-data": "Frozen Bubble: bubbles, backgrounds",
    "teeworlds-data": "Teeworlds: skins, maps, backgrounds",
    "btanks-data": "Battle Tanks: tiles and sprites",
    "blobwars-data": "Blob Wars: sprites and backgrounds",
    "starfighter-data": "Starfighter: sprites and backgrounds",
    "marsshooter-data": "M.A.R.S.: backgrounds and sprites",
    "gigalomania-data": "Gigalomania: sprites and backgrounds",
    "foobillardplus-data": "FooBillard++: table and ball textures",
    "lordsawar-data": "LordsAWar!: army and city art",
    "bzflag-data": "BZFlag: textures",
    "manaplus-data": "ManaPlus: client artwork",
    "plee-the-bear-data": "Plee the Bear: sprites and backgrounds",
    "minetest-data": "Minetest: textures (mostly 16 px, too small)",
    "freecol": "FreeCol: units, terrain, colonists, portraits",
    "blobandconquer-data": "Blob and Conquer: textures and backgrounds",
    "openarena-085-data": "OpenArena 0.8.5 patch: textures (.pk3)",
    "openarena-oacmp1": "OpenArena community map pack: textures (.pk3)",
    "doomsday-data": "Doomsday engine: textures and graphics (.pk3)",
    "cataclysm-dda-data": "Cataclysm: DDA: tileset sheets",
    "opencity-data": "OpenCity: city textures",
    "tuxtype-data": "Tux Typing: backgrounds and sprites",
    "wizznic-data": "Wizznic!: tiles and backgrounds",
    "lbreakout2-data": "LBreakout2: backgrounds and bricks",
    "tecnoballz-data": "TecnoballZ: backgrounds and sprites",
    "dreamchess-data": "DreamChess: boards, pieces, backgrounds",
    "berusky-data": "Berusky: tiles and backgrounds",
    "zaz-data": "Zaz: backgrounds",
    "powermanga-data": "Powermanga: backgrounds and sprites",
    "pangzero": "Pang Zero: backgrounds and sprites",
    "freedroid-data": "Freedroid (classic): backgrounds and droids",
    "kanagram": "Kanagram: backgrounds",
    "khangman": "KHangMan: backgrounds",
    "ktuberling-data": "KTuberling: playground pictures",
    "palapeli-data": "Palapeli: jigsaw puzzle pictures",
    "scribus-data": "Scribus: templates and images",
    "pokerth-data": "PokerTH: avatars, table art (its 48x76 px cards are too small)",
    # icon themes last: many sizes of one drawing, PDQ keeps one
    "oxygen-icon-theme": "Oxygen icon theme: rendered icons (PNG up to 256 px)",
    "faenza-icon-theme": "Faenza icon theme (PNG)",
    "mate-icon-theme": "MATE icon theme (PNG up to 256 px)",
    "gnome-icon-theme": "GNOME 2 icon theme (PNG up to 256 px)",
    "elementary-xfce-icon-theme": "elementary Xfce icon theme (PNG)",
    "moka-icon-theme": "Moka icon theme: flat icons (PNG up to 256 px)",
}

# Rendered by training/dataset.py: glyphs and short words on plain and
# textured backgrounds (many fonts, several scripts).
GLYPH_FONTS: dict[str, str] = {
    "fonts-dejavu-core": "DejaVu: sans, serif, mono",
    "fonts-liberation2": "Liberation: Arial/Times/Courier metrics",
    "fonts-urw-base35": "URW base 35: the PostScript core fonts",
    "fonts-texgyre": "TeX Gyre: classic book faces",
    "fonts-ebgaramond": "EB Garamond",
    "fonts-comic-neue": "Comic Neue",
    "fonts-dancingscript": "Dancing Script (script)",
    "fonts-lobster": "Lobster (display)",
    "fonts-breip": "Breip (handwriting)",
    "fonts-femkeklaver": "Femke Klaver (handwriting)",
    "fonts-firacode": "Fira Code (monospace)",
    "fonts-bebas-neue": "Bebas Neue (display capitals)",
    "fonts-league-spartan": "League Spartan (geometric sans)",
    "fonts-gfs-didot": "GFS Didot (Greek)",
    "fonts-wqy-zenhei": "WenQuanYi Zen Hei (Chinese)",
    "fonts-hosny-amiri": "Amiri (Arabic)",
    "fonts-lohit-deva": "Lohit Devanagari",
    "fonts-symbola": "Symbola (symbols, pictographs)",
    "fonts-dseg": "DSEG (seven-segment displays)",
    "fonts-unifont": "GNU Unifont (bitmap-style)",
}

NOT_USED: dict[str, str] = {
    "freedink-data": "ships its graphics as BMP only (not PNG/JPEG/WebP)",
    "davegnukem-data": "ships its graphics as TGA/BMP only",
    "searchandrescue-data": "ships its textures as TGA only",
    "openclonk-data": "graphics inside OpenClonk's own .ocd group format",
    "xscreensaver-data": "no image files (images are compiled into the hacks)",
    "xscreensaver-data-extra": "no image files",
    "opencv-data": "no image files (cascades only)",
    "python3-skimage-lib": "no image files",
    "opencv-doc": "tutorial figures: the same few photographs processed many ways"
    " (edited copies of each other, false negatives for contrastive training)",
    "python-skimage-doc": "gallery figures: the same few photographs processed many"
    " ways (as opencv-doc)",
    "inkscape": "its PNGs are interface icons; its artwork is SVG",
    "scummvm-data": "interface themes (BMP inside zips)",
    "asc-data": "graphics in its own archive format; the zip holds dialog BMPs",
    "netpanzer-data": "ships its graphics as BMP only",
    "holotz-castle-data": "ships its graphics as TGA only",
    "trophy-data": "ships its graphics as TGA only",
    "xblast-tnt-images": "no image files",
    "connectagram-data": "no image files (word lists)",
    "tanglet-data": "no image files (word lists)",
    "pushover-data": "no PNG/JPEG/WebP files",
    "enlightenment-data": "backgrounds inside .edj (Eet) archives; its PNGs are icons",
    "marble-data": "its PNGs are manual screenshots (usr/share/doc, skipped)",
    "funnyboat": "20 small sprites; not worth a package",
    "pinball-data": "8 PNGs",
    "felix-latin-data": "one TIFF",
    "pysolfc-cardsets": "not in Debian 12 (no raster card decks of 64 px or more"
    " found elsewhere: PokerTH's are 48x76, KDE's and AisleRiot's are SVG)",
    "frogatto-data": "not in Debian 12 main (HELD_OUT lists it anyway)",
}


def _check_disjoint() -> None:
    lists = {"HELD_OUT": HELD_OUT, "BENCHMARK": BENCHMARK, "TRAIN": TRAIN}
    names = list(lists)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = set(lists[a]) & set(lists[b])
            if both:
                raise RuntimeError(f"{a} and {b} share {sorted(both)}")
    if set(GLYPH_FONTS) & (set(TRAIN) | set(BENCHMARK) | set(HELD_OUT)):
        raise RuntimeError("a glyph font package is in another list")


_check_disjoint()
