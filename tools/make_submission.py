"""Builds the course submission zip, then checks the unzipped copy with test.py.

    python tools/make_submission.py [--project Proj_SCIPER] [--data data] [--skip-train]

The zip holds only what the course asks for: each miniproject's Python
files, its bestmodel.pth/.pkl (and the deep model's bestmodel_deep.pth/.pkl)
and its report. Caches, data and anything else
in the folder stay out (and are listed). The check runs test.py on the
unzipped copy, so a file that the zip left out makes it fail, as it would
for the grader.
"""

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The deep models' checkpoints ship too, so that ``Model(arch="deep").load_pretrained_model()``
#: works in the unzipped folder as in the repository.
SHIPPED_NAMES = {"bestmodel.pth", "bestmodel.pkl", "bestmodel_deep.pth", "bestmodel_deep.pkl",
                 "bestmodel_camera.pkl", "Report_1.pdf", "Report_2.pdf"}
MINIPROJECTS = ("Miniproject_1", "Miniproject_2")
# A fixed timestamp makes the zip depend on the files' contents only.
EPOCH = (1980, 1, 1, 0, 0, 0)


def is_shipped(relative):
    """Whether a path inside the project folder belongs in the submission."""
    if relative.parts[0] not in MINIPROJECTS:
        return False
    if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
        return False
    return relative.suffix == ".py" or (len(relative.parts) == 2 and relative.name in SHIPPED_NAMES)


def build_zip(project, destination):
    """Writes the zip; returns (shipped, left out) relative paths."""
    files = sorted(p for p in project.rglob("*") if p.is_file())
    shipped = [p.relative_to(project) for p in files if is_shipped(p.relative_to(project))]
    left_out = [p.relative_to(project) for p in files if not is_shipped(p.relative_to(project))]
    tmp = destination.with_name(destination.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in shipped:
            info = zipfile.ZipInfo(str(Path(project.name) / relative), EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (project / relative).read_bytes())
    tmp.replace(destination)
    return shipped, left_out


def check_unzipped(archive, project_name, data, skip_train):
    """Runs test.py on a fresh copy from the zip; returns its exit status."""
    with tempfile.TemporaryDirectory(prefix="submission-") as folder:
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(folder)
        command = [sys.executable, str(ROOT / "test.py"), "-p", str(Path(folder) / project_name)]
        if data is not None:
            command += ["-d", str(data.resolve())]
        if skip_train:
            command.append("--skip-train")
        duration = ("under a minute" if skip_train else
                    "about 6 minutes on 2 CPU cores, mostly one training epoch of each miniproject")
        print(f"checking the unzipped copy with test.py: {duration}", flush=True)
        print("$ " + " ".join(command), flush=True)
        # From inside the copy, so that nothing of the repository is on the path.
        return subprocess.run(command, cwd=folder).returncode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=ROOT / "Proj_SCIPER",
                        help="the folder to submit (default: Proj_SCIPER; rename it Proj_<SCIPERs> first)")
    parser.add_argument("--out", type=Path, help="the zip to write (default: <project name>.zip beside it)")
    parser.add_argument("--data", type=Path, help="data folder for test.py's PSNR and training checks")
    parser.add_argument("--skip-train", action="store_true", help="skip test.py's training epoch")
    parser.add_argument("--no-check", action="store_true", help="build the zip without running test.py")
    args = parser.parse_args(argv)

    project = args.project.resolve()
    if not project.is_dir():
        parser.error(f"{project} is not a folder")
    destination = (args.out or project.with_name(project.name + ".zip")).resolve()
    shipped, left_out = build_zip(project, destination)
    print(f"wrote {destination} ({destination.stat().st_size / 1024:.0f} KiB):")
    for relative in shipped:
        print(f"  + {project.name}/{relative}")
    for relative in left_out:
        print(f"  - {project.name}/{relative} (not part of a submission)")
    if args.no_check:
        return 0
    return check_unzipped(destination, project.name, args.data, args.skip_train)


if __name__ == "__main__":
    sys.exit(main())
