"""The pinned photo collections: download, check, copy (Debian's tools stood in for)."""
import pytest

from n2n_nograd import cli, photos


@pytest.fixture
def fake_debian(tmp_path, monkeypatch):
    """A one-package collection and `apt-get`/`dpkg-deb` that produce it from a local folder."""
    source = tmp_path / "package"
    (source / "usr/share/pics").mkdir(parents=True)
    (source / "usr/share/pics/a.jpg").write_bytes(b"photo a")
    (source / "usr/share/pics/b.jpg").write_bytes(b"photo b")
    (source / "usr/share/pics/Cee/contents").mkdir(parents=True)
    (source / "usr/share/pics/Cee/contents/big.jpg").write_bytes(b"photo c")
    collection = {"unseen": {"pics": ("usr/share/pics", {
        "a.jpg": photos.sha256(source / "usr/share/pics/a.jpg"),
        "b.jpg": photos.sha256(source / "usr/share/pics/b.jpg"),
        "Cee/contents/big.jpg": photos.sha256(source / "usr/share/pics/Cee/contents/big.jpg")})}}
    monkeypatch.setattr(photos, "COLLECTIONS", collection)
    calls = []

    def run(command, cwd):
        calls.append(command[:2])
        if command[:2] == ["apt-get", "download"]:
            (cwd / f"{command[2]}_1.0_all.deb").write_bytes(b"")
        else:
            import shutil
            shutil.copytree(source, command[3])

    monkeypatch.setattr(photos, "_run", run)
    return source, calls


def test_fetch_places_checked_photos_and_skips_what_is_there(tmp_path, fake_debian):
    _, calls = fake_debian
    placed = photos.fetch(tmp_path / "out")
    assert sorted(p.name for p in placed["unseen"]) == ["Cee.jpg", "a.jpg", "b.jpg"]
    assert (tmp_path / "out/unseen/pics/a.jpg").read_bytes() == b"photo a"
    assert (tmp_path / "out/unseen/pics/Cee.jpg").read_bytes() == b"photo c", "named after its folder"
    assert len(calls) == 2
    photos.fetch(tmp_path / "out")
    assert len(calls) == 2, "a complete collection is not downloaded again"


def test_fetch_refuses_a_changed_photo(tmp_path, fake_debian):
    source, _ = fake_debian
    (source / "usr/share/pics/b.jpg").write_bytes(b"another photo")
    with pytest.raises(ValueError, match="b.jpg differs from the pinned photo"):
        photos.fetch(tmp_path / "out")


def test_missing_tools_are_named(tmp_path, monkeypatch):
    monkeypatch.setattr(photos.shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match="apt-get not found"):
        photos._run(["apt-get", "download", "x"], tmp_path)


def test_photos_command(capsys, tmp_path, fake_debian):
    assert cli.main(["photos", "--out", str(tmp_path / "p")]) == 0
    assert "unseen: 3 photos" in capsys.readouterr().out


def test_roles_come_from_different_packages():
    packages = [package for role in photos.COLLECTIONS.values() for package in role]
    assert len(packages) == len(set(packages))
    names = [photos.saved_name(name) for role in photos.COLLECTIONS.values() for _, files in role.values()
             for name in files]
    assert len(names) == len(set(names)) == 37
