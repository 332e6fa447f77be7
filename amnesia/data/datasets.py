"""Data sets: the toy world, the bundled MovieLens latest-small, and MovieLens files people download.

``load(name_or_path)`` returns a :class:`Dataset` with ``interactions`` (DataFrame with
integer ``user`` and ``item`` columns, one row per distinct pair) and a :class:`Catalog`.

Ratings become interactions: every rating counts, unless ``min_rating`` keeps only those at
or above it. A malformed file raises :class:`DataFormatError` naming the file, the line and
the reason; nothing is dropped silently.

The only network access in this package is :func:`download`, called by
``python -m amnesia download NAME``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .catalog import Catalog
from ..errors import AmnesiaError, DataFormatError

#: The data sets that ship inside the package (package data: found wherever the package is installed).
DATA_DIR = Path(__file__).resolve().parent / "bundled"
BUNDLED = {
    "toy": DATA_DIR / "toy" / "toy.json",
    "movielens-small": DATA_DIR / "ml-latest-small",
}
ALIASES = {"ml-latest-small": "movielens-small", "movielens": "movielens-small", "demo": "toy"}
DOWNLOADS = {
    name: f"https://files.grouplens.org/datasets/movielens/{name}.zip"
    for name in ("ml-100k", "ml-1m", "ml-latest-small", "ml-latest", "ml-25m")
}
_ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)


@dataclass(frozen=True)
class Dataset:
    """A loaded data set: interactions (``user``, ``item``), the catalog, and where it came from.

    ``times``: when each interaction happened (seconds since 1970, int64), aligned with the rows
    of ``interactions`` (the latest, if a pair was rated twice); None when the source has no times
    (the toy world). Leave-latest-out evaluation splits by it.
    """

    name: str
    interactions: pd.DataFrame
    catalog: Catalog
    source: str
    description: str = ""
    times: np.ndarray | None = None

    @property
    def num_users(self) -> int:
        return int(self.interactions["user"].nunique())

    @property
    def num_items(self) -> int:
        return int(self.interactions["item"].nunique())

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, users={self.num_users}, items={self.num_items}, "
            f"interactions={len(self.interactions)}, catalog={len(self.catalog)})"
        )


def cache_root(path: str | os.PathLike | None = None) -> Path:
    """Where downloads go: ``path``, else $AMNESIA_CACHE, else ~/.cache/amnesia."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("AMNESIA_CACHE", Path.home() / ".cache" / "amnesia"))


def load(name_or_path: str | os.PathLike, min_rating: float | None = None, cache: str | None = None) -> Dataset:
    """Load ``"toy"``, ``"movielens-small"``, a downloaded name (``"ml-1m"``...) or a path.

    A path may be a MovieLens folder in any supported format (ml-100k ``u.data``/``u.item``;
    ml-1m ``ratings.dat``/``movies.dat``; ml-latest, ml-25m, latest-small
    ``ratings.csv``/``movies.csv``) or a toy-style JSON file.
    """
    key = ALIASES.get(str(name_or_path), str(name_or_path))
    if key in BUNDLED:
        path, name = BUNDLED[key], key
    elif key in DOWNLOADS:
        path, name = _downloaded_folder(cache_root(cache) / key), key
        if path is None:
            raise AmnesiaError(f"{key} is not downloaded yet; run: python -m amnesia download {key}")
    else:
        path, name = Path(name_or_path), Path(name_or_path).name
        if not path.exists():
            raise AmnesiaError(
                f"Unknown data set {str(name_or_path)!r}: not a bundled name ({', '.join(BUNDLED)}), "
                f"a downloadable one ({', '.join(DOWNLOADS)}), nor an existing path."
            )
    if path.is_file() and path.suffix == ".json":
        return _load_json(path, name, min_rating)
    return _load_movielens(path, name, min_rating)


def _load_json(path: Path, name: str, min_rating: float | None) -> Dataset:
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
        movies = pd.DataFrame(spec["movies"])
        pairs = pd.DataFrame(spec["interactions"], columns=["user", "item"], dtype="int64")
        users = {int(k): v for k, v in spec.get("users", {}).items()}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise DataFormatError(f"{path}: not a valid data set file ({error}).") from None
    if min_rating is not None:
        raise AmnesiaError(f"{name} has no ratings, so min_rating cannot apply.")
    catalog = Catalog.from_frame(movies, users)
    pairs = _distinct(pairs)
    _rank_by_viewers(catalog, pairs)
    return Dataset(name, pairs, catalog, str(path), spec.get("description", ""))


def _rank_by_viewers(catalog: Catalog, pairs: pd.DataFrame) -> None:
    """Tell ``catalog`` how many users watched each movie (distinct (user, item) ``pairs``), so that
    a title several movies share offers the best known first: a loaded catalog knew no counts, and
    resolving "nemo" offered Little Nemo (1 viewer) before Finding Nemo (141), against the README."""
    counts = pairs["item"].value_counts()
    catalog.set_popularity(dict(zip(counts.index.tolist(), counts.tolist())))


def _find_format(folder: Path) -> tuple[str, Path]:
    """The MovieLens format of ``folder`` (or its single sub-folder, as archives unpack)."""
    candidates = [folder] + sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    for candidate in candidates:
        if (candidate / "ratings.csv").exists() and (candidate / "movies.csv").exists():
            return "csv", candidate
        if (candidate / "ratings.dat").exists() and (candidate / "movies.dat").exists():
            return "dat", candidate
        if (candidate / "u.data").exists() and (candidate / "u.item").exists():
            return "100k", candidate
    raise DataFormatError(
        f"{folder}: no MovieLens files found; expected ratings.csv + movies.csv (ml-latest, ml-25m), "
        f"ratings.dat + movies.dat (ml-1m) or u.data + u.item (ml-100k)."
    )


def _load_movielens(path: Path, name: str, min_rating: float | None) -> Dataset:
    kind, folder = _find_format(path)
    if kind == "csv":
        ratings = _read(folder / "ratings.csv", ",", ["user", "item", "rating", "timestamp"], "utf-8", header=True)
        movies = _read(folder / "movies.csv", ",", ["item", "title", "genres"], "utf-8", header=True, quoted=True)
    elif kind == "dat":
        ratings = _read(folder / "ratings.dat", "::", ["user", "item", "rating", "timestamp"], "latin-1")
        movies = _read(folder / "movies.dat", "::", ["item", "title", "genres"], "latin-1")
    else:
        ratings = _read(folder / "u.data", "\t", ["user", "item", "rating", "timestamp"], "latin-1")
        columns = ["item", "title", "release", "video", "url", *_ML100K_GENRES]
        raw = _read(folder / "u.item", "|", columns, "latin-1")
        flags = raw[list(_ML100K_GENRES)].to_numpy() == "1"
        genres = ["|".join(g for g, on in zip(_ML100K_GENRES, row) if on) for row in flags]
        movies = pd.DataFrame({"item": raw["item"], "title": raw["title"], "genres": genres})
        movies.attrs.update(raw.attrs)
    items = _ids(ratings, "item")
    movies = movies.assign(item=_ids(movies, "item"))
    unknown = ~np.isin(items, movies["item"].to_numpy())
    if unknown.any():  # checked before any filter: a dangling item is a malformed file either way
        first = int(np.flatnonzero(unknown)[0])
        raise DataFormatError(
            f"{ratings.attrs['file']}, line {ratings.attrs['lines'][first]}: item {int(items[first])} "
            f"is not in the movies file."
        )
    ratings = pd.DataFrame({"user": _ids(ratings, "user"), "item": items, "rating": _numbers(ratings, "rating"),
                            "time": _numbers(ratings, "timestamp").astype(np.int64)})
    if min_rating is not None:
        ratings = ratings[ratings["rating"] >= min_rating]
    users = {int(u): f"User {int(u)}" for u in np.unique(ratings["user"].to_numpy())}
    catalog = Catalog.from_frame(movies, users)
    # one row per (user, item), sorted, as _distinct makes them; a pair rated twice keeps its latest time
    timed = ratings.astype({"user": np.int64, "item": np.int64}).sort_values(["user", "item", "time"])
    timed = timed.drop_duplicates(["user", "item"], keep="last").reset_index(drop=True)
    _rank_by_viewers(catalog, timed)
    return Dataset(name, timed[["user", "item"]], catalog, str(folder), times=timed["time"].to_numpy())


def _read(path: Path, sep: str, names: list[str], encoding: str, header: bool = False, quoted: bool = False) -> pd.DataFrame:
    """Read a delimited file as strings, checking that every line has exactly ``len(names)`` fields."""
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as error:
        raise DataFormatError(f"{path}: not {encoding} text ({error.reason} at byte {error.start}).") from None
    if sep == "::":  # pandas' fast parser takes one character; '\x1f' never occurs in titles
        text, sep = text.replace("::", "\x1f"), "\x1f"
    lines = text.splitlines()
    offset = 1 if header else 0
    if header:
        if not lines:
            raise DataFormatError(f"{path}: the file is empty; expected a header line.")
        expected = ",".join(["userId", "movieId", "rating", "timestamp"] if "rating" in names else ["movieId", "title", "genres"])
        if lines[0].strip() != expected:
            raise DataFormatError(f"{path}, line 1: expected the header {expected!r}, got {lines[0].strip()!r}.")
    body = [(number, line) for number, line in enumerate(lines[offset:], start=offset + 1) if line.strip()]
    rows = list(csv.reader([line for _, line in body], delimiter=sep, quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE))
    for (number, _), row in zip(body, rows):
        if len(row) != len(names):
            raise DataFormatError(
                f"{path}, line {number}: expected {len(names)} fields separated by {sep if sep != chr(31) else '::'!r}, "
                f"got {len(row)}."
            )
    frame = pd.DataFrame(rows, columns=names, dtype=str)
    frame.attrs["file"] = str(path)
    frame.attrs["lines"] = np.array([number for number, _ in body], dtype=np.int64)
    return frame


def _bad_line(frame: pd.DataFrame, mask: np.ndarray, column: str, reason: str) -> DataFormatError:
    position = int(np.flatnonzero(mask)[0])
    value = frame[column].iloc[position]
    return DataFormatError(f"{frame.attrs['file']}, line {frame.attrs['lines'][position]}: {column} {value!r} {reason}.")


def _ids(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = frame[column].str.strip()
    ok = values.str.fullmatch(r"\d{1,10}").fillna(False).to_numpy(dtype=bool)
    if not ok.all():
        raise _bad_line(frame, ~ok, column, "is not a non-negative integer id")
    numbers = values.astype(np.int64).to_numpy()
    if (numbers > 2**31 - 1).any():
        raise _bad_line(frame, numbers > 2**31 - 1, column, "is too large (ids must be below 2^31)")
    return numbers


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    numbers = pd.to_numeric(frame[column].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if bad.any():
        raise _bad_line(frame, bad, column, "is not a number")
    return numbers


def _distinct(pairs: pd.DataFrame) -> pd.DataFrame:
    pairs = pairs.astype({"user": np.int64, "item": np.int64})
    return pairs.drop_duplicates().sort_values(["user", "item"], ignore_index=True)


# ---------------------------------------------------------------------- downloads
def _downloaded_folder(folder: Path) -> Path | None:
    try:
        return _find_format(folder)[1]
    except (DataFormatError, FileNotFoundError):
        return None


def download(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    opener: Callable[[str], io.BufferedIOBase] | None = None,
) -> Path:
    """Fetch the official MovieLens archive ``name`` into the cache, check it, unpack it.

    Checks: the MD5 that GroupLens publishes beside each archive (when it can be fetched)
    and the zip's own CRCs. Returns the folder holding the data files; an archive that is
    already unpacked is not fetched again. ``opener`` replaces ``urllib.request.urlopen``
    (tests use it to run without a network).
    """
    if name not in DOWNLOADS:
        raise AmnesiaError(f"Unknown MovieLens archive {name!r}; choose one of {', '.join(DOWNLOADS)}.")
    target = cache_root(cache_dir) / name
    existing = _downloaded_folder(target) if target.exists() else None
    if existing is not None:
        return existing
    opener = opener or (lambda url: urllib.request.urlopen(url, timeout=60))
    url = DOWNLOADS[name]
    try:
        with opener(url) as response:
            archive = response.read()
    except (urllib.error.URLError, OSError) as error:
        raise AmnesiaError(f"Could not download {url} ({error}); check the network connection and try again.") from None
    try:
        with opener(url + ".md5") as response:
            published = response.read().decode("ascii", "replace").split()[0].lower()
    except (urllib.error.URLError, OSError, IndexError):
        published = None
    if published is not None and hashlib.md5(archive).hexdigest() != published:
        raise AmnesiaError(f"{url}: the download is corrupt (MD5 does not match the published one); try again.")
    try:
        bundle = zipfile.ZipFile(io.BytesIO(archive))
        broken = bundle.testzip()
    except zipfile.BadZipFile:
        raise AmnesiaError(f"{url}: the download is not a zip archive; try again later.") from None
    if broken is not None:
        raise AmnesiaError(f"{url}: {broken} in the archive is corrupt; try again.")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    root = staging.resolve()
    for member in bundle.namelist():
        if not (root / member).resolve().is_relative_to(root):
            raise AmnesiaError(f"{url}: the archive has an unsafe path {member!r}; refusing to unpack it.")
    bundle.extractall(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # only a fully unpacked archive ever appears under its name
    folder = _downloaded_folder(target)
    if folder is None:
        raise AmnesiaError(f"{url}: the archive holds no MovieLens rating files.")
    return folder
