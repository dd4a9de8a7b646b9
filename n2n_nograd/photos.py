"""Photo collections installed from Debian's packages, for training and for
evaluation on a source the models never saw.

Debian's wallpaper packages hold full-resolution photographs under free
licences.  Only photographs are taken: the synthetic art, gradients and
logos those packages also ship are left out (a denoiser that learns flat
vector art learns to erase texture).  Each photo is pinned by its SHA-256,
so a collection is the same files on every machine or it is refused.

Roles, kept apart by source (package), never by crop:

``train``   photos added to the training side by ``n2n data --train-photos``:
            every photograph of lomiri-wallpapers-16.04 (13) and of
            lomiri-wallpapers-20.04 (1), by many photographers.
``train2``  photos added to the training side of the camera model's second
            and fourth steps (``n2n data --train-photos photos/train2``), after the deep
            model was trained: the 11 photographs of plasma-workspace-wallpapers
            (KDE's wallpapers; its paintings and vector art left out).
``unseen``  photos used by nothing but ``n2n testset``: the 12 nature
            photographs of mate-backgrounds.

A photo in a folder of its own inside the package (``Name/contents/images/2560x1600.jpg``)
is saved under that folder's name (``Name.jpg``).

``fetch`` needs ``apt-get`` and ``dpkg-deb`` (any Debian or Ubuntu system);
it downloads the packages' .deb files without installing them, so it needs
no root rights.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

#: role -> package -> (folder inside the package, {file name: SHA-256}).
COLLECTIONS = {
    "train": {
        "lomiri-wallpapers-16.04": ("usr/share/backgrounds", {
            "Bridge_by_Sander_Klootwijk.jpg": "bd86b081f9975e2b83527f71e49b9271a8ab40885428395969d9f7d834d7f050",
            "Dragonfly_by_Bolly.jpg": "af5af17841009732def24b09bb1e669a1b09d2b4bdeee7812c371101c30d2bb3",
            "Picture_0B_by_freespace.jpg": "c8c0ab18e48d9e0419fe42881112137f3afafc27dfddc29ec3a6d54c56d225ad",
            "Picture_1A_by_freespace.jpg": "89e86af38d04daaef975665dc2127e9fa76f0fd68f4eea105a2d0ae3390b010b",
            "Wine_by_Jakkub_Mede.jpg": "d2e96e6d4da40dd804b3d0ce295e94de04a2d7d9b6785d42cd9d92ba58bced74",
            "aitzgorri_by_Aitzol_Berasategi.jpg": "66268e7b48f8854d36a28765fac6e23ec1aee251daa6da1f64715f201020ad36",
            "friends_by_Aitzol_Berasategi.jpg": "cc40e313c74e421edffe3403def413c16878ce14661cce7ec5915baeab35538d",
            "free_by_Peter_Nerlich.jpg": "85a5453c2fed514c75973016f3d862aca62eb7ca087618822469274ac1092373",
            "greentock_by_Peter_Nerlich.jpg": "e7b20e2db9dcd6e2b278ca55873c2110b35d89cd38b04d0b18728726888e6889",
            "life_by_Aitzol_Berasategi.jpg": "4c119350ead80201fe256850c3d316309ddfb4bdf10b235ce982dcde0c667c05",
            "picosdeeuropa_by_Aitzol_Berasategi.jpg": "414d0072b2f6f2c555deafeaef6e45c4fed6fa9ad26eba6560ca8803959cf97a",
            "seeding_by_Clements_Engelhardt.jpg": "a5634d1ab5e41a3568e92d4a894a500c92b891f9ff734e50bd224d6e185a605f",
            "sunset_by_Aitzol_Berasategi.jpg": "474dab6a4b9f94dc76c29dfe30e9f5db4af0fd2e33fe5d695f8152b371efca18",
        }),
        "lomiri-wallpapers-20.04": ("usr/share/backgrounds", {
            "Kleiber_by_Lukas_Baubkus.jpg": "6572410c09f4492c74ccadde133565a14c0161617d5917d4c820c66d65a44ba7",
        }),
    },
    "train2": {
        "plasma-workspace-wallpapers": ("usr/share/wallpapers", {
            "BytheWater/contents/images/2560x1600.jpg": "c272434ef39f2abf1ed48a15a8910088020f3165329a5092f3940ec9464bc05f",
            "ColdRipple/contents/images/2560x1600.jpg": "05bef6722fc0ed81292cceb3ed026c38d17e510f3c84be7d68610c2b1a723c3f",
            "ColorfulCups/contents/images/2560x1600.jpg": "6e0f3a72feb5a4a9fec191b77e34874c3c69e2d93040deb3f07773e73385023d",
            "DarkestHour/contents/images/2560x1600.jpg": "8e3703fae3a3c217b1fc2b399b706cd3720584268d071ba153e4809daa55f1ce",
            "EveningGlow/contents/images/2560x1600.jpg": "586682dcb362b9f620068f10138f87d0d3649939aef238adc5807cb951976a7a",
            "FallenLeaf/contents/images/2560x1600.jpg": "95603a6560c7e8d50e0e03b3f4adbe39c5258c72528e74e4ecaea1daf4e499de",
            "Grey/contents/images/2560x1600.jpg": "88c31d8944b7e6935d1b9a296654c692f0772cb512491713eb30a972a604c0ed",
            "Kite/contents/images/2560x1600.jpg": "bdca288ce296a981e80659c021cf707caddc702c0c8d4247e60bd618476d47f8",
            "OneStandsOut/contents/images/2560x1600.jpg": "cb507baf1dafdcae362264f3aba9483ed4be5f6c9fdd770f0ec0920c6d9e80fd",
            "Path/contents/images/2560x1600.jpg": "7477457d7f17b736259f1b021864778ad4ba802cf3214e6728181ff29126bba8",
            "summer_1am/contents/images/2560x1600.jpg": "c868b50789591dd42910153c768053f1ba0a98cb36bbfc2b7a96a1045d0477f8",
        }),
    },
    "unseen": {
        "mate-backgrounds": ("usr/share/backgrounds/mate/nature", {
            "Aqua.jpg": "5c30118205982da441bf7e6a1ada636a8a0be879408140b3148280c665ed6bce",
            "Blinds.jpg": "f7aac0dcc2e06d0491643e84df3da1d9db7c4610f58806a880d56e074799f600",
            "Dune.jpg": "8a67c2cb0be8c46b70c237311a4fa4d2b4ac7d39568135384787801fa5cc9a91",
            "FreshFlower.jpg": "972b0a0c4e5e3fa93f4f244fc84bc64b121a5eac3aaa5856f1308c1f38a02f8e",
            "Garden.jpg": "d3095ee09d425ef23d27155412136cf14fc3c9af76ca58b452f55e23da324e78",
            "GreenMeadow.jpg": "8fa0de0aa4089f7319c9fb7a6d006d4cab6023e8c8853731557cff53567b4832",
            "LadyBird.jpg": "e35a9a4126ef969c90b29c038058c5a575a20eadd84106a37bf1fa9931e7b61d",
            "RainDrops.jpg": "3e4ea9671c28c90a86cf67b3db9daf18c4741587c596333a7529ca589aaa0c16",
            "Storm.jpg": "77ca53077831d3237f73393a91fc879158abc046d852941c26e90de336356957",
            "TwoWings.jpg": "665e5abf8a5399070a91a9a8e455fe071e5b61697ff78fdeda4e9843ef545aeb",
            "Wood.jpg": "19c78500ac00a622e19907ab9cc7d06d46fe08c4a6142759a84195696150ec07",
            "YellowFlower.jpg": "254da96256acb7add685679775a04d1e4a5bc8cd13e5a5a3d61351ce198a5306",
        }),
    },
}


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def saved_name(name: str) -> str:
    """The file name a photo of a package is saved under (see the module docstring)."""
    parts = Path(name).parts
    return parts[0] + Path(name).suffix if len(parts) > 1 else name


def _run(command: list[str], cwd) -> None:
    if shutil.which(command[0]) is None:
        raise ValueError(f"{command[0]} not found: the photo collections come from Debian's "
                         "packages and need apt-get and dpkg-deb (Debian or Ubuntu)")
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise ValueError(f"`{' '.join(command)}` failed: {last} (run `apt-get update` first?)")


def fetch(out, log: Callable[[str], None] = lambda message: None) -> dict[str, list[Path]]:
    """Download the packages, check every photo's SHA-256 and copy it to ``out/ROLE/PACKAGE/``.

    Photos already in place with the right hash are kept, so a second call
    downloads nothing.  Returns the photo paths by role.
    """
    out = Path(out)
    placed: dict[str, list[Path]] = {}
    with tempfile.TemporaryDirectory(prefix="n2n-photos-") as scratch:
        scratch = Path(scratch)
        for role, packages in COLLECTIONS.items():
            for package, (folder, files) in packages.items():
                target = out / role / package
                wanted = {name: digest for name, digest in files.items()
                          if not ((target / saved_name(name)).is_file()
                                  and sha256(target / saved_name(name)) == digest)}
                if wanted:
                    log(f"downloading {package} ({len(wanted)} photos for {role})")
                    _run(["apt-get", "download", package], cwd=scratch)
                    deb = next(scratch.glob(f"{package}_*.deb"))
                    unpacked = scratch / package
                    _run(["dpkg-deb", "-x", str(deb), str(unpacked)], cwd=scratch)
                    target.mkdir(parents=True, exist_ok=True)
                    for name, digest in wanted.items():
                        source = unpacked / folder / name
                        if not source.is_file():
                            raise ValueError(f"{deb.name} has no {folder}/{name}; this Debian release "
                                             "ships another version of the package")
                        if sha256(source) != digest:
                            raise ValueError(f"{deb.name}: {name} differs from the pinned photo "
                                             "(SHA-256 mismatch); refusing a different collection")
                        shutil.copyfile(source, target / saved_name(name))
                placed.setdefault(role, []).extend(target / saved_name(name) for name in files)
    return placed
