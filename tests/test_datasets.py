"""Data sets: bundled toy and MovieLens, every loader format, filters, malformed files, download."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from amnesia import AmbiguousTitleError, AmnesiaError, DataFormatError, ItemCF
from amnesia.data.datasets import DOWNLOADS, download, load


def test_toy_world_is_the_original_demo_with_names():
    toy = load("toy")
    assert toy.interactions.values.tolist() == [
        [0, 0], [0, 1], [0, 2], [0, 4], [1, 1], [1, 2], [2, 0], [2, 1], [2, 3], [3, 1], [3, 3]
    ]
    assert toy.catalog.user_names() == {0: "Alice", 1: "Bob", 2: "Carla", 3: "Dev"}
    assert toy.catalog.titles([0, 1, 2, 3, 4]) == [
        "Toy Story (1995)", "The Matrix (1999)", "Titanic (1997)", "The Godfather (1972)", "Finding Nemo (2003)"
    ]
    # forgetting any one user visibly changes C (every user has at least two movies)
    for user in range(4):
        model = ItemCF.fit(toy.interactions)
        assert len(model.cooccurrence_changes(model.forget_user(user))) > 0


def test_bundled_movielens_small_loads_offline():
    data = load("movielens-small")
    assert (data.num_users, data.num_items, len(data.interactions)) == (610, 9724, 100836)
    assert len(data.catalog) == 9742  # 18 movies have no rating but are in the catalog
    matrix = data.catalog.movie(2571)
    assert (matrix.title, matrix.year, matrix.genres) == ("Matrix, The (1999)", 1999, ("Action", "Sci-Fi", "Thriller"))
    assert data.catalog.user_name(42) == "User 42"
    assert (Path(data.source) / "README.txt").read_text().count("GroupLens") > 3
    assert load("ml-latest-small").num_users == 610  # alias


def test_min_rating_keeps_only_high_ratings():
    data = load("movielens-small", min_rating=4.5)
    assert len(data.interactions) == 21_762  # pandas: (ratings.rating >= 4.5).sum()
    assert load("movielens-small", min_rating=0.5).interactions.shape[0] == 100836


CSV_RATINGS = "userId,movieId,rating,timestamp\n1,10,4.0,1\n1,20,2.0,2\n2,10,5.0,3\n2,10,3.0,4\n"
CSV_MOVIES = 'movieId,title,genres\n10,"Matrix, The (1999)",Action|Sci-Fi\n20,Heat (1995),Crime\n30,Unseen (2001),(no genres listed)\n'
DAT_RATINGS = "1::10::4::978300760\n1::20::2::978302109\n2::10::5::978301968\n"
DAT_MOVIES = "10::Matrix, The (1999)::Action|Sci-Fi\n20::Amélie (2001)::Comedy|Romance\n"
U_DATA = "1\t10\t4\t881250949\n1\t20\t2\t891717742\n2\t10\t5\t878887116\n"
U_ITEM = (
    "10|Matrix, The (1999)|01-Jan-1999||http://x|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0|0\n"
    "20|Heat (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0\n"
)


def write(folder: Path, files: dict[str, str], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding=encoding)
    return folder


@pytest.mark.parametrize(
    "files, encoding, expected_titles",
    [
        ({"ratings.csv": CSV_RATINGS, "movies.csv": CSV_MOVIES}, "utf-8", {10: "The Matrix (1999)", 30: "Unseen (2001)"}),
        ({"ratings.dat": DAT_RATINGS, "movies.dat": DAT_MOVIES}, "latin-1", {10: "The Matrix (1999)", 20: "Amélie (2001)"}),
        ({"u.data": U_DATA, "u.item": U_ITEM}, "latin-1", {10: "The Matrix (1999)", 20: "Heat (1995)"}),
    ],
    ids=["ml-latest-csv", "ml-1m-dat", "ml-100k"],
)
def test_each_movielens_format_loads(tmp_path, files, encoding, expected_titles):
    data = load(write(tmp_path / "ml", files, encoding))
    assert data.interactions.values.tolist() == [[1, 10], [1, 20], [2, 10]]  # duplicate rating collapsed
    for item, title in expected_titles.items():
        assert data.catalog.title(item) == title
    assert data.catalog.resolve("the matrix") == 10
    assert load(write(tmp_path / "ml2", files, encoding), min_rating=4).interactions.values.tolist() == [[1, 10], [2, 10]]


def test_ml100k_genres_come_from_flags(tmp_path):
    data = load(write(tmp_path / "ml", {"u.data": U_DATA, "u.item": U_ITEM}, "latin-1"))
    assert data.catalog.movie(10).genres == ("Action", "Sci-Fi")  # flags 1 and 15 in u.genre order
    assert data.catalog.movie(20).genres == ("Crime",)


def test_archive_layout_with_a_subfolder_is_found(tmp_path):
    write(tmp_path / "outer" / "ml-1m", {"ratings.dat": DAT_RATINGS, "movies.dat": DAT_MOVIES}, "latin-1")
    assert len(load(tmp_path / "outer").interactions) == 3


@pytest.mark.parametrize(
    "files, message",
    [
        (
            {"ratings.csv": CSV_RATINGS.replace("1,20,2.0,2", "1,20,2.0"), "movies.csv": CSV_MOVIES},
            r"ratings.csv, line 3: expected 4 fields separated by ',', got 3",
        ),
        (
            {"ratings.csv": CSV_RATINGS.replace("2,10,5.0,3", "x2,10,5.0,3"), "movies.csv": CSV_MOVIES},
            r"ratings.csv, line 4: user 'x2' is not a non-negative integer id",
        ),
        (
            {"ratings.csv": CSV_RATINGS.replace("1,20,2.0,2", "1,20,good,2"), "movies.csv": CSV_MOVIES},
            r"ratings.csv, line 3: rating 'good' is not a number",
        ),
        (
            {"ratings.csv": CSV_RATINGS.replace("1,20,2.0,2", "1,99,2.0,2"), "movies.csv": CSV_MOVIES},
            r"ratings.csv, line 3: item 99 is not in the movies file",
        ),
        (
            {"ratings.csv": "user,item\n1,2\n", "movies.csv": CSV_MOVIES},
            r"ratings.csv, line 1: expected the header 'userId,movieId,rating,timestamp'",
        ),
        (
            {"ratings.dat": DAT_RATINGS + "3::10::4\n", "movies.dat": DAT_MOVIES},
            r"ratings.dat, line 4: expected 4 fields separated by '::', got 3",
        ),
        ({"u.data": U_DATA.replace("\t20\t", "\t-20\t"), "u.item": U_ITEM}, r"u.data, line 2: item '-20' is not a non-negative"),
        ({"notes.txt": "hello"}, r"no MovieLens files found; expected ratings.csv \+ movies.csv"),
    ],
)
def test_malformed_files_name_file_line_and_reason(tmp_path, files, message):
    with pytest.raises(DataFormatError, match=message):
        load(write(tmp_path / "bad", files, "latin-1" if "u.data" in files or "ratings.dat" in files else "utf-8"))


def test_line_numbers_count_blank_lines_and_ignore_filters(tmp_path):
    files = {
        "ratings.csv": "userId,movieId,rating,timestamp\n1,10,1.0,1\n1,10,2.0,2\n\n2,99,5.0,3\n",
        "movies.csv": CSV_MOVIES,
    }
    for min_rating in (None, 4):
        with pytest.raises(DataFormatError, match=r"ratings.csv, line 5: item 99 is not in the movies file"):
            load(write(tmp_path / f"blank-{min_rating}", files), min_rating=min_rating)


def test_unknown_names_explain_the_choices(tmp_path):
    with pytest.raises(AmnesiaError, match=r"Unknown data set 'nope': not a bundled name \(toy, movielens-small\)"):
        load("nope")
    with pytest.raises(AmnesiaError, match="ml-1m is not downloaded yet; run: python -m amnesia download ml-1m"):
        load("ml-1m", cache=str(tmp_path))


def fake_network(archive: bytes, md5: str | None, log: list[str]):
    def opener(url: str):
        log.append(url)
        if url.endswith(".md5"):
            if md5 is None:
                raise OSError("404")
            return io.BytesIO(f"{md5}  ml-1m.zip\n".encode())
        return io.BytesIO(archive)

    return opener


def ml1m_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("ml-1m/ratings.dat", DAT_RATINGS)
        bundle.writestr("ml-1m/movies.dat", DAT_MOVIES.encode("latin-1"))
        bundle.writestr("ml-1m/README", "MovieLens 1M")
    return buffer.getvalue()


def test_download_checks_unpacks_and_caches(tmp_path):
    archive, log = ml1m_zip(), []
    folder = download("ml-1m", cache_dir=tmp_path, opener=fake_network(archive, hashlib.md5(archive).hexdigest(), log))
    assert folder == tmp_path / "ml-1m" / "ml-1m"
    assert log == [DOWNLOADS["ml-1m"], DOWNLOADS["ml-1m"] + ".md5"]
    assert load("ml-1m", cache=str(tmp_path)).interactions.values.tolist() == [[1, 10], [1, 20], [2, 10]]
    # already there: no second fetch
    assert download("ml-1m", cache_dir=tmp_path, opener=fake_network(b"", None, log)) == folder
    assert len(log) == 2


def test_download_rejects_a_corrupt_archive_and_leaves_nothing(tmp_path):
    archive = ml1m_zip()
    with pytest.raises(AmnesiaError, match="MD5 does not match"):
        download("ml-1m", cache_dir=tmp_path, opener=fake_network(archive, "0" * 32, []))
    with pytest.raises(AmnesiaError, match="not a zip archive"):
        download("ml-1m", cache_dir=tmp_path, opener=fake_network(b"<html>", None, []))
    assert not (tmp_path / "ml-1m").exists()


def test_download_offline_and_unknown_names_are_clear(tmp_path):
    def offline(url):
        raise OSError("Network is unreachable")

    with pytest.raises(AmnesiaError, match="Could not download .*ml-100k.zip .*check the network connection"):
        download("ml-100k", cache_dir=tmp_path, opener=offline)
    with pytest.raises(AmnesiaError, match="Unknown MovieLens archive 'ml-2m'; choose one of ml-100k, ml-1m"):
        download("ml-2m", cache_dir=tmp_path)


def test_download_command_reports_errors_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "amnesia", "download", "ml-2m", "--cache-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: Unknown MovieLens archive 'ml-2m'; choose one of ml-100k, ml-1m, ml-latest-small, ml-latest, ml-25m."


def test_a_loaded_catalog_offers_the_best_known_title_first():
    """Without the dashboard, a loaded catalog knew no counts: "nemo" was ambiguous, Little Nemo (1
    viewer) named first, and "lord of the rings" gave the 1978 film (a researcher's run of the README)."""
    catalog = load("movielens-small").catalog
    assert catalog.title(catalog.resolve("nemo")) == "Finding Nemo (2003)"
    assert catalog.popularity(catalog.resolve("finding nemo")) == 141
    with pytest.raises(AmbiguousTitleError) as raised:
        catalog.resolve("lord of the rings")
    assert str(raised.value).startswith("'lord of the rings' names a series of 4 movies, the best known first: "
                                        "The Lord of the Rings: The Fellowship of the Ring (2001)")
